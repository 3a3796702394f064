"""Assessment's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ProtectionConcernRaised,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .domain import CompleteAssessment
from .handlers import (
    close_merged_cases,
    complete_assessment,
    erase_case,
    escalate_for_concern,
    schedule_assessment,
)
from .orm import kit_tables
from .repository import AssessmentUnitOfWork
from .settings import AssessmentSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_assessment")
MIGRATIONS = SPEC.migrations


def build(settings: AssessmentSettings) -> tuple[ServiceRuntime[AssessmentUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(settings, spec=SPEC, tables=kit_tables, uow_class=AssessmentUnitOfWork)
    runtime.commands({CompleteAssessment: complete_assessment})
    runtime.consume(
        {
            ArrivalRegistered: [schedule_assessment],
            ProtectionConcernRaised: [escalate_for_concern],
            ReturneeRecordsMerged: [close_merged_cases],
            ReturneeErased: [erase_case],
        }
    )
    app = runtime.http_app(
        [http.router(runtime.bus, runtime.uow)], record_scope=http.record_scope_of(runtime.uow)
    )
    return runtime, app
