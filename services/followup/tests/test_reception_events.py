"""Follow-up re-keying the records of a merged duplicate registration (SQLite and PostgreSQL)."""

from __future__ import annotations

from uuid import uuid4

from reintegra_contracts.codelists import StaffRole
from reintegra_contracts.events.reception import ReturneeRecordsMerged
from reintegra_followup.domain import DUE_TIMER, FollowupStatus
from reintegra_followup.handlers import move_merged_cases
from reintegra_followup.repository import FollowupUnitOfWork
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness

from .test_handlers import HANDLERS, START, arrival, referral_requested, service  # noqa: F401

MERGES = {**HANDLERS, ReturneeRecordsMerged: [move_merged_cases]}


async def test_a_merged_case_loses_its_post_arrival_contact_and_keeps_its_referral_checks(
    service: HandlerHarness[FollowupUnitOfWork],  # noqa: F811
) -> None:
    kept, dup = arrival(), arrival()
    checked = referral_requested().model_copy(update={"case_id": dup.case_id})
    for event in (kept, dup, checked):
        await service.deliver(MERGES, event)
    merged = ReturneeRecordsMerged(
        case_id=kept.case_id,
        surviving_returnee_id=uuid4(),
        merged_returnee_ids=[uuid4()],
        merged_case_ids=[dup.case_id],
        merged_at=START,
        decided_by_role=StaffRole.DATA_STEWARD,
    )
    assert await service.deliver(MERGES, merged) is Outcome.PROCESSED
    async with service.uow() as uow:
        moved = await uow.followups.for_case(kept.case_id)
        left = await uow.followups.for_case(dup.case_id)
        timers = [await uow.timers.get(DUE_TIMER, str(f.followup_id)) for f in [*moved, *left]]
    assert sorted((f.reason.value, f.status) for f in moved) == [
        ("post_arrival", FollowupStatus.SCHEDULED),
        ("referral_check", FollowupStatus.SCHEDULED),
    ]
    [cancelled] = left
    assert (cancelled.reason.value, cancelled.status) == ("post_arrival", FollowupStatus.CANCELLED)
    assert sorted(t[0] for t in timers if t) == ["cancelled", "scheduled", "scheduled"]
    assert await service.fire_timers({}) == 0
