"""Withdrawal cancels everywhere: follow-up stops contacting a person who withdrew consent to be
contacted (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    ErasureReason,
    FollowupCancellationReason,
    StaffRole,
)
from reintegra_contracts.events.followup import FollowupCancelled, FollowupScheduled
from reintegra_contracts.events.reception import (
    ConsentRecorded,
    ConsentScope,
    ConsentWithdrawn,
    ReturneeErased,
)
from reintegra_followup.domain import DUE_TIMER, FollowupStatus
from reintegra_followup.handlers import erase_case, record_contact_consent, withdraw_contact_consent
from reintegra_followup.repository import FollowupUnitOfWork
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness, record_of

from .test_handlers import HANDLERS, START, TIMERS, arrival, referral_requested, service  # noqa: F401

CONSENTS = {
    **HANDLERS,
    ConsentRecorded: [record_contact_consent],
    ConsentWithdrawn: [withdraw_contact_consent],
}
Harness = HandlerHarness[FollowupUnitOfWork]


def consent(case_id: UUID, *purposes: ConsentPurpose) -> ConsentRecorded:
    return ConsentRecorded(
        case_id=case_id,
        consent_id=uuid4(),
        returnee_id=uuid4(),
        recorded_at=START,
        given_by=ConsentGiver.SELF,
        method=ConsentMethod.VERBAL_WITNESSED,
        scopes=[ConsentScope(purpose=p) for p in purposes or (ConsentPurpose.FOLLOWUP_CONTACT,)],
        valid_from=START,
        recorded_by_role=StaffRole.CASE_WORKER,
    )


def withdrawal(given: ConsentRecorded, *purposes: ConsentPurpose) -> ConsentWithdrawn:
    return ConsentWithdrawn(
        case_id=given.case_id,
        consent_id=given.consent_id,
        returnee_id=given.returnee_id,
        withdrawn_at=START,
        withdrawn_by=ConsentGiver.SELF,
        scopes=[ConsentScope(purpose=p) for p in purposes],
    )


async def case_with_contacts(service: Harness) -> tuple[UUID, ConsentRecorded]:  # noqa: F811
    """An arrival, a referral check and a consent to be contacted for follow-up."""
    came = arrival()
    given = consent(came.case_id, ConsentPurpose.REFERRAL, ConsentPurpose.FOLLOWUP_CONTACT)
    for event in (came, given, referral_requested().model_copy(update={"case_id": came.case_id})):
        assert await service.deliver(CONSENTS, event) is Outcome.PROCESSED
    return came.case_id, given


async def test_withdrawing_consent_to_contact_cancels_every_scheduled_contact_and_its_timer(
    service: Harness,  # noqa: F811
) -> None:
    case_id, given = await case_with_contacts(service)
    assert (
        await service.deliver(CONSENTS, withdrawal(given, ConsentPurpose.FOLLOWUP_CONTACT))
        is Outcome.PROCESSED
    )
    async with service.uow() as uow:
        stopped = await uow.followups.for_case(case_id)
        timers = [await uow.timers.get(DUE_TIMER, str(f.followup_id)) for f in stopped]
    assert {(f.reason.value, f.status, f.cancellation_reason) for f in stopped} == {
        ("post_arrival", FollowupStatus.CANCELLED, FollowupCancellationReason.CONSENT_WITHDRAWN),
        ("referral_check", FollowupStatus.CANCELLED, FollowupCancellationReason.CONSENT_WITHDRAWN),
    }
    assert all(f.cancelled_at == START for f in stopped)
    assert [t[0] for t in timers if t] == ["cancelled", "cancelled"]
    cancelled = [e for e in await service.emitted() if isinstance(e, FollowupCancelled)]
    assert sorted(e.reason.value for e in cancelled) == ["post_arrival", "referral_check"]
    assert {e.cancellation_reason for e in cancelled} == {FollowupCancellationReason.CONSENT_WITHDRAWN}
    clock = service.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=365))
    assert await service.fire_timers(TIMERS) == 0  # nobody is contacted


async def test_a_whole_withdrawal_stops_contacts_and_a_later_referral_check_is_recorded_cancelled(
    service: Harness,  # noqa: F811
) -> None:
    case_id, given = await case_with_contacts(service)
    await service.deliver(CONSENTS, withdrawal(given))
    later = referral_requested().model_copy(update={"case_id": case_id})
    await service.deliver(CONSENTS, later)
    async with service.uow() as uow:
        check = await uow.followups.by_business_key(f"referral_check:{later.referral_id}")
        assert check is not None
        assert (check.status, check.cancellation_reason) == (
            FollowupStatus.CANCELLED,
            FollowupCancellationReason.CONSENT_WITHDRAWN,
        )
        assert await uow.timers.get(DUE_TIMER, str(check.followup_id)) is None


async def test_withdrawing_another_purpose_or_keeping_another_consent_keeps_the_contacts(
    service: Harness,  # noqa: F811
) -> None:
    case_id, given = await case_with_contacts(service)
    await service.deliver(CONSENTS, withdrawal(given, ConsentPurpose.REFERRAL))
    second = consent(case_id)
    await service.deliver(CONSENTS, second)
    await service.deliver(CONSENTS, withdrawal(given))  # the second consent still allows contact
    async with service.uow() as uow:
        kept = await uow.followups.for_case(case_id)
    assert {f.status for f in kept} == {FollowupStatus.SCHEDULED}
    assert not [e for e in await service.emitted() if isinstance(e, FollowupCancelled)]
    # a new consent to contact lets new contacts be scheduled after a withdrawal
    await service.deliver(CONSENTS, withdrawal(second))
    await service.deliver(CONSENTS, consent(case_id))
    again = referral_requested().model_copy(update={"case_id": case_id})
    await service.deliver(CONSENTS, again)
    async with service.uow() as uow:
        check = await uow.followups.by_business_key(f"referral_check:{again.referral_id}")
    assert check is not None
    assert check.status is FollowupStatus.SCHEDULED
    assert isinstance((await service.emitted())[-1], FollowupScheduled)


async def test_a_withdrawal_and_a_referral_of_one_case_handled_at_once_never_leave_a_contact_scheduled(
    service: Harness,  # noqa: F811
) -> None:
    # Two replicas may read the withdrawal (reception's topic) and a referral (referral's topic) of one
    # case at the same time: the per-case lock makes one see the other's work — without it the new
    # check saw no withdrawal and the withdrawal saw no check, and the person would be contacted.
    for _ in range(10):
        case_id, given = await case_with_contacts(service)
        later = referral_requested().model_copy(update={"case_id": case_id})
        withdrawals = service.consumer(CONSENTS, group="test-group")
        referrals = service.consumer(CONSENTS, group="test-group")
        await asyncio.gather(
            referrals.process(record_of(later)),
            withdrawals.process(record_of(withdrawal(given))),
        )
        async with service.uow() as uow:
            contacts = await uow.followups.for_case(case_id)
        assert len(contacts) == 3
        assert {f.status for f in contacts} == {FollowupStatus.CANCELLED}


async def test_in_one_consumer_batch_a_consent_withdrawn_or_an_erasure_is_seen_by_the_events_after_it(
    service: Harness,  # noqa: F811
) -> None:
    """A batch locks its cases and reads their consents and erasures once, up front (ADR 0031): what
    an event of the batch changes must still be seen by the events after it, as if one by one."""
    handlers = {**CONSENTS, ReturneeErased: [erase_case]}
    withdrawn, erased, kept = arrival(), arrival(), arrival()
    given = consent(withdrawn.case_id)
    for before in (withdrawn, given):  # read up front by the batch: a consent that allows contact
        assert await service.deliver(handlers, before) is Outcome.PROCESSED
    batch = [
        erased,
        kept,
        withdrawal(given),
        referral_requested().model_copy(update={"case_id": withdrawn.case_id}),
        ReturneeErased(
            case_id=erased.case_id, returnee_id=uuid4(), erased_at=START, reason=ErasureReason.SUBJECT_REQUEST
        ),
        referral_requested().model_copy(update={"case_id": erased.case_id}),
        referral_requested().model_copy(update={"case_id": kept.case_id}),
    ]
    outcomes = await service.consumer(handlers).process_batch([record_of(e) for e in batch])
    assert outcomes == [Outcome.PROCESSED] * len(batch)
    async with service.uow() as uow:
        checks = {
            case_id: [f for f in await uow.followups.for_case(case_id) if f.reason.value == "referral_check"]
            for case_id in (withdrawn.case_id, erased.case_id, kept.case_id)
        }
    assert [(f.status, f.cancellation_reason) for f in checks[withdrawn.case_id]] == [
        (FollowupStatus.CANCELLED, FollowupCancellationReason.CONSENT_WITHDRAWN)
    ]
    assert [(f.status, f.cancellation_reason) for f in checks[erased.case_id]] == [
        (FollowupStatus.CANCELLED, FollowupCancellationReason.RETURNEE_ERASED)
    ]
    assert [f.status for f in checks[kept.case_id]] == [FollowupStatus.SCHEDULED]
