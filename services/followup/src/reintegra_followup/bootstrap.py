"""Follow-up's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.clock import Clock
from reintegra_kit.registry import ServiceSpec
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .domain import DUE_TIMER
from .handlers import (
    erase_case,
    followup_falls_due,
    move_merged_cases,
    record_contact_consent,
    schedule_after_arrival,
    schedule_referral_check,
    withdraw_contact_consent,
)
from .orm import kit_tables
from .repository import FollowupUnitOfWork
from .settings import FollowupSettings

SPEC = ServiceSpec.of_package(__package__ or "reintegra_followup")
MIGRATIONS = SPEC.migrations


def build(
    settings: FollowupSettings, clock: Clock | None = None
) -> tuple[ServiceRuntime[FollowupUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings, spec=SPEC, tables=kit_tables, uow_class=FollowupUnitOfWork, clock=clock
    )
    runtime.consume(
        {
            ArrivalRegistered: [schedule_after_arrival],
            ReferralRequested: [schedule_referral_check],
            ReturneeRecordsMerged: [move_merged_cases],
            ConsentRecorded: [record_contact_consent],
            ConsentWithdrawn: [withdraw_contact_consent],
            ReturneeErased: [erase_case],
        }
    )
    runtime.timers({DUE_TIMER: followup_falls_due})
    app = runtime.http_app([http.router(runtime.uow)])
    return runtime, app
