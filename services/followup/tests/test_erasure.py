"""Erasure: follow-up stops contacting a person reception erased, and keeps nothing that would let a
later event schedule one (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

from reintegra_contracts.codelists import ErasureReason, FollowupCancellationReason
from reintegra_contracts.events.followup import FollowupCancelled
from reintegra_contracts.events.reception import ReturneeErased
from reintegra_followup.domain import DUE_TIMER, FollowupStatus
from reintegra_followup.handlers import erase_case
from reintegra_followup.orm import erased_cases
from reintegra_followup.repository import FollowupUnitOfWork
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness

from .test_handlers import HANDLERS, START, TIMERS, arrival, referral_requested, service  # noqa: F401

ERASURE = {**HANDLERS, ReturneeErased: [erase_case]}
Harness = HandlerHarness[FollowupUnitOfWork]


def erased(case_id: UUID) -> ReturneeErased:
    return ReturneeErased(
        case_id=case_id, returnee_id=uuid4(), erased_at=START, reason=ErasureReason.SUBJECT_REQUEST
    )


async def case_with_contacts(service: Harness) -> UUID:  # noqa: F811
    came = arrival()
    for event in (came, referral_requested(came.case_id)):
        assert await service.deliver(ERASURE, event) is Outcome.PROCESSED
    return came.case_id


async def test_erasure_cancels_every_contact_to_come_with_its_timer_and_others_keep_theirs(
    service: Harness,  # noqa: F811
) -> None:
    case_id = await case_with_contacts(service)
    other = await case_with_contacts(service)
    assert await service.deliver(ERASURE, erased(case_id)) is Outcome.PROCESSED
    async with service.uow() as uow:
        stopped = await uow.followups.for_case(case_id)
        timers = [await uow.timers.get(DUE_TIMER, str(f.followup_id)) for f in stopped]
        kept = await uow.followups.for_case(other)
    assert {(f.reason.value, f.status, f.cancellation_reason) for f in stopped} == {
        ("post_arrival", FollowupStatus.CANCELLED, FollowupCancellationReason.RETURNEE_ERASED),
        ("referral_check", FollowupStatus.CANCELLED, FollowupCancellationReason.RETURNEE_ERASED),
    }
    assert [t[0] for t in timers if t] == ["cancelled", "cancelled"]
    assert {f.status for f in kept} == {FollowupStatus.SCHEDULED}
    cancelled = [e for e in await service.emitted() if isinstance(e, FollowupCancelled)]
    assert {(e.case_id, e.cancellation_reason) for e in cancelled} == {
        (case_id, FollowupCancellationReason.RETURNEE_ERASED)
    }
    assert len(cancelled) == 2
    clock = service.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=365))
    assert await service.fire_timers(TIMERS) == 2  # only the other person's two contacts


async def test_a_resent_erasure_changes_nothing_and_later_events_schedule_no_contact(
    service: Harness,  # noqa: F811
) -> None:
    case_id = await case_with_contacts(service)
    erasure = erased(case_id)
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.PROCESSED
    before = len(await service.emitted())
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.DUPLICATE  # inbox
    # the same erasure again under a new event id (the inbox alone would not stop it)
    assert await service.deliver(ERASURE, erasure, event_id="erasure-2") is Outcome.PROCESSED
    assert len(await service.emitted()) == before
    assert len(await service.rows(erased_cases)) == 1
    later = referral_requested(case_id)
    assert await service.deliver(ERASURE, later) is Outcome.PROCESSED
    async with service.uow() as uow:
        check = await uow.followups.by_business_key(f"referral_check:{later.referral_id}")
        assert check is not None
        assert (check.status, check.cancellation_reason) == (
            FollowupStatus.CANCELLED,
            FollowupCancellationReason.RETURNEE_ERASED,
        )
        assert await uow.timers.get(DUE_TIMER, str(check.followup_id)) is None
    about_later = [e for e in await service.emitted() if getattr(e, "referral_id", None) == later.referral_id]
    assert isinstance(about_later[-1], FollowupCancelled)  # recorded, and cancelled at once
    assert about_later[-1].cancellation_reason is FollowupCancellationReason.RETURNEE_ERASED


async def test_an_erasure_before_the_arrival_cancels_what_waited_for_the_case(
    service: Harness,  # noqa: F811
) -> None:
    came = arrival()
    check = referral_requested(came.case_id)  # waits for the arrival
    await service.deliver(ERASURE, check)
    await service.deliver(ERASURE, erased(came.case_id))
    await service.deliver(ERASURE, came)
    async with service.uow() as uow:
        contacts = await uow.followups.for_case(came.case_id)
    assert {(f.status, f.cancellation_reason) for f in contacts} == {
        (FollowupStatus.CANCELLED, FollowupCancellationReason.RETURNEE_ERASED)
    }
    assert len(contacts) == 2
