"""Follow-up's handlers and its durable timer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from opentelemetry import context as otel_context
from reintegra_contracts.events.followup import FollowupDue, FollowupReason, FollowupScheduled
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger
from reintegra_kit.telemetry import context_from_traceparent, current_traceparent

from .domain import due_after_arrival, due_after_referral
from .repository import Followup, FollowupUnitOfWork

log = get_logger(__name__)


async def _schedule(
    uow: FollowupUnitOfWork,
    clock: Clock,
    case_id: UUID,
    reason: FollowupReason,
    due_at: datetime,
    referral_id: UUID | None = None,
) -> None:
    followup = Followup(
        followup_id=uuid4(),
        case_id=case_id,
        reason=reason.value,
        referral_id=referral_id,
        due_at=due_at,
        status="scheduled",
        scheduled_at=clock.now(),
        traceparent=current_traceparent(),
    )
    await uow.followups.add(followup)
    await uow.emit(
        FollowupScheduled(
            case_id=case_id,
            followup_id=followup.followup_id,
            reason=reason,
            due_at=followup.due_at,
            referral_id=referral_id,
        )
    )


def schedule_after_arrival(
    clock: Clock, first_after: timedelta
) -> Callable[[ArrivalRegistered, FollowupUnitOfWork], Awaitable[None]]:
    """Handler of ``arrival_registered``: the first follow-up contact of the case."""

    async def handle(event: ArrivalRegistered, uow: FollowupUnitOfWork) -> None:
        due = due_after_arrival(event.arrived_at, first_after)
        await _schedule(uow, clock, event.case_id, FollowupReason.POST_ARRIVAL, due)

    return handle


def schedule_referral_check(
    clock: Clock, check_after: timedelta
) -> Callable[[ReferralRequested, FollowupUnitOfWork], Awaitable[None]]:
    """Handler of ``referral_requested``: check with the person that the service was received."""

    async def handle(event: ReferralRequested, uow: FollowupUnitOfWork) -> None:
        due = due_after_referral(event.requested_at, check_after)
        await _schedule(uow, clock, event.case_id, FollowupReason.REFERRAL_CHECK, due, event.referral_id)

    return handle


async def fire_due_followups(uow: FollowupUnitOfWork, clock: Clock, batch_size: int) -> int:
    """Emit ``followup_due`` once for each follow-up that fell due; return how many fired.

    Safe with several replicas: rows are claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and
    moved from *scheduled* to *due* with a conditional update in the same transaction as the event.
    """
    now = clock.now()
    fired = 0
    async with uow:
        for f in await uow.followups.claim_due(now, batch_size):
            if not await uow.followups.mark_due(f.followup_id, now):
                continue
            # The event continues the trace of the case event that scheduled it, months earlier.
            token = otel_context.attach(context_from_traceparent(f.traceparent))
            try:
                await uow.emit(
                    FollowupDue(
                        case_id=f.case_id,
                        followup_id=f.followup_id,
                        reason=FollowupReason(f.reason),
                        due_at=f.due_at,
                        referral_id=f.referral_id,
                    )
                )
            finally:
                otel_context.detach(token)
            fired += 1
        await uow.commit()
    if fired:
        log.info("followup.fired", count=fired)
    return fired


def timer(
    uow_factory: Callable[[], FollowupUnitOfWork], clock: Clock, interval_s: float, batch_size: int
) -> Callable[[], Awaitable[None]]:
    """The durable timer loop: the schedule lives in the database, so it survives restarts."""

    async def run() -> None:
        while True:
            while await fire_due_followups(uow_factory(), clock, batch_size) == batch_size:
                pass
            await asyncio.sleep(interval_s)

    return run
