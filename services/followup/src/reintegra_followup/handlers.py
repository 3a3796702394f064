"""Follow-up's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save."""

from __future__ import annotations

from uuid import UUID

from reintegra_contracts.events.followup import FollowupReason
from reintegra_contracts.events.reception import ArrivalRegistered, ReturneeRecordsMerged
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.clock import Clock
from reintegra_kit.domain import NotFoundError
from reintegra_kit.timers import Timer

from .domain import DUE_TIMER, Followup
from .repository import FollowupUnitOfWork
from .settings import FollowupSettings


async def _schedule(uow: FollowupUnitOfWork, followup: Followup) -> None:
    if await uow.followups.by_business_key(followup.business_key) is not None:
        return  # the same arrival or referral re-sent (maybe under a new event id): nothing new
    await uow.followups.save(followup)
    await uow.timers.schedule(DUE_TIMER, str(followup.followup_id), followup.due_at, case_id=followup.case_id)


async def schedule_after_arrival(
    event: ArrivalRegistered, uow: FollowupUnitOfWork, clock: Clock, settings: FollowupSettings
) -> None:
    """``arrival_registered`` → the case's first follow-up contact (one per case)."""
    due = event.arrived_at + settings.first_followup_after
    await _schedule(uow, Followup.schedule(event.case_id, FollowupReason.POST_ARRIVAL, due, clock.now()))


async def schedule_referral_check(
    event: ReferralRequested, uow: FollowupUnitOfWork, clock: Clock, settings: FollowupSettings
) -> None:
    """``referral_requested`` → check with the person that the service was received (one per referral)."""
    due = event.requested_at + settings.referral_check_after
    followup = Followup.schedule(
        event.case_id, FollowupReason.REFERRAL_CHECK, due, clock.now(), referral_id=event.referral_id
    )
    await _schedule(uow, followup)


async def followup_falls_due(timer: Timer, uow: FollowupUnitOfWork, clock: Clock) -> None:
    """The durable timer fired: the follow-up falls due (``followup_due``, in the case's trace)."""
    followup = await uow.followups.get(UUID(timer.key))
    if followup is None:
        raise NotFoundError(f"follow-up {timer.key} not found")
    followup.fall_due(clock.now())
    await uow.followups.save(followup)


async def move_merged_cases(event: ReturneeRecordsMerged, uow: FollowupUnitOfWork) -> None:
    """``returnee_records_merged`` → the follow-ups of a duplicate registration: its post-arrival
    contact is cancelled (with its timer), its referral checks re-keyed to the surviving case."""
    for case_id in event.merged_case_ids:
        for followup in await uow.followups.for_case(case_id):
            if followup.move_to(event.case_id):
                await uow.timers.cancel(DUE_TIMER, str(followup.followup_id))
            await uow.followups.save(followup)
