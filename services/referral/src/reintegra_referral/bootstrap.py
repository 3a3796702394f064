"""Referral's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ProtectionConcernRaised,
    ReturneeRecordsMerged,
)
from reintegra_contracts.topics import ASSESSMENT_EVENTS, RECEPTION_EVENTS
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .directory_file import SAMPLE_DIRECTORY, load_directory
from .handlers import refer_needs, seed_directory
from .immediate import refer_immediate_needs, refer_protection_concern
from .merges import rekey_merged_cases
from .orm import kit_tables
from .repository import ReferralUnitOfWork
from .settings import ReferralSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_referral")
MIGRATIONS = SPEC.migrations


def build(settings: ReferralSettings) -> tuple[ServiceRuntime[ReferralUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(settings, spec=SPEC, tables=kit_tables, uow_class=ReferralUnitOfWork)
    directory = load_directory(settings.directory_file or SAMPLE_DIRECTORY)

    async def seed() -> None:
        await runtime.bus.run(runtime.dependencies.bind(seed_directory), directory)

    runtime.on_startup(seed)
    runtime.consume({AssessmentCompleted: [refer_needs]}, topics=[ASSESSMENT_EVENTS])
    runtime.consume(  # reception's triage, referred at once; merges of duplicate registrations
        {
            ArrivalRegistered: [refer_immediate_needs],
            ProtectionConcernRaised: [refer_protection_concern],
            ReturneeRecordsMerged: [rekey_merged_cases],
        },
        topics=[RECEPTION_EVENTS],
        name="reception",
    )
    app = runtime.http_app([http.router(runtime.uow)])
    return runtime, app
