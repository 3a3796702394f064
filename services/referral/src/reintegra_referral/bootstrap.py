"""Referral's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_contracts.topics import ASSESSMENT_EVENTS, REFERRAL_EVENTS
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .handlers import SAMPLE_DIRECTORY, load_directory, refer_needs, seed_directory
from .orm import kit_tables
from .repository import ReferralUnitOfWork
from .settings import ReferralSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ReferralSettings) -> tuple[ServiceRuntime[ReferralUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings,
        tables=kit_tables,
        migrations=MIGRATIONS,
        produces=[REFERRAL_EVENTS],
        uow_class=ReferralUnitOfWork,
    )
    directory = load_directory(settings.directory_file or SAMPLE_DIRECTORY)
    runtime.on_startup(lambda: seed_directory(runtime.uow(), directory))
    runtime.consume([ASSESSMENT_EVENTS], {AssessmentCompleted: [refer_needs(runtime.clock)]})
    app = runtime.http_app(
        [http.router(runtime.uow)],
        title="Reintegra referral",
        description="Refers each assessed need to a service of the directory.",
    )
    return runtime, app
