"""Follow-up's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_contracts.topics import FOLLOWUP_EVENTS, RECEPTION_EVENTS, REFERRAL_EVENTS
from reintegra_kit.clock import Clock
from reintegra_kit.runtime import ServiceRuntime

from . import http
from .handlers import schedule_after_arrival, schedule_referral_check, timer
from .orm import kit_tables
from .repository import FollowupUnitOfWork
from .settings import FollowupSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(
    settings: FollowupSettings, clock: Clock | None = None
) -> tuple[ServiceRuntime[FollowupUnitOfWork], FastAPI]:
    runtime = ServiceRuntime(
        settings,
        tables=kit_tables,
        migrations=MIGRATIONS,
        produces=[FOLLOWUP_EVENTS],
        uow_class=FollowupUnitOfWork,
        clock=clock,
    )
    runtime.consume(
        [RECEPTION_EVENTS, REFERRAL_EVENTS],
        {
            ArrivalRegistered: [schedule_after_arrival(runtime.clock, settings.first_followup_after)],
            ReferralRequested: [schedule_referral_check(runtime.clock, settings.referral_check_after)],
        },
    )
    if settings.timer_enabled:
        runtime.add_background(
            "followup-timer",
            timer(runtime.uow, runtime.clock, settings.timer_interval_s, settings.timer_batch_size),
        )
    app = runtime.http_app(
        [http.router(runtime.uow)],
        title="Reintegra follow-up",
        description="Schedules follow-up contacts and fires them when they fall due.",
    )
    return runtime, app
