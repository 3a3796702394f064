"""Assessment's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.topics import ASSESSMENT_EVENTS, RECEPTION_EVENTS
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .handlers import schedule_on_arrival
from .orm import kit_tables
from .repository import AssessmentUnitOfWork
from .settings import AssessmentSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: AssessmentSettings) -> tuple[ServiceRuntime[AssessmentUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings,
        tables=kit_tables,
        migrations=MIGRATIONS,
        produces=[ASSESSMENT_EVENTS],
        uow_class=AssessmentUnitOfWork,
    )
    runtime.consume([RECEPTION_EVENTS], {ArrivalRegistered: [schedule_on_arrival(runtime.clock)]})
    app = runtime.http_app(
        [http.router(runtime.uow, runtime.clock)],
        title="Reintegra assessment",
        description="Schedules and records needs and vulnerability assessments.",
    )
    return runtime, app
