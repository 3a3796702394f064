"""Reception's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .domain import RegisterArrival
from .handlers import register_arrival
from .orm import kit_tables
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_reception")
MIGRATIONS = SPEC.migrations


def build(settings: ReceptionSettings) -> tuple[ServiceRuntime[ReceptionUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(settings, spec=SPEC, tables=kit_tables, uow_class=ReceptionUnitOfWork)
    runtime.commands({RegisterArrival: register_arrival})
    app = runtime.http_app([http.router(runtime.bus, runtime.uow)])
    return runtime, app
