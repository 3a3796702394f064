"""Reception's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from reintegra_contracts.topics import RECEPTION_EVENTS
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .orm import kit_tables
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ReceptionSettings) -> tuple[ServiceRuntime[ReceptionUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings,
        tables=kit_tables,
        migrations=MIGRATIONS,
        produces=[RECEPTION_EVENTS],
        uow_class=ReceptionUnitOfWork,
    )
    app = runtime.http_app(
        [http.router(runtime.uow, runtime.clock)],
        title="Reintegra reception",
        description="Registers arrivals of returned persons at reception centres.",
    )
    return runtime, app
