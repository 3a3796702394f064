"""A consumer batch looks its follow-ups up once, and each event sees what the ones before it wrote
(ADR 0031: ``FollowupUnitOfWork.prepare_events``). On SQLite and PostgreSQL."""

from __future__ import annotations

from reintegra_followup.domain import FollowupStatus
from reintegra_followup.repository import FollowupUnitOfWork
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness, record_of
from reintegra_kit.testing.statements import reads_of

from .test_handlers import HANDLERS, arrival, referral_requested, service  # noqa: F401


async def test_a_batch_looks_its_followups_up_once_and_each_event_sees_the_ones_before_it(
    service: HandlerHarness[FollowupUnitOfWork],  # noqa: F811
) -> None:
    known, late = arrival(), arrival()
    assert await service.deliver(HANDLERS, known) is Outcome.PROCESSED  # before the batch
    early = referral_requested(late.case_id)  # before its case's arrival: the check waits
    batch = [
        early,
        referral_requested(known.case_id),
        late,  # starts the check that waits for it, written earlier in this batch
        early,  # the same referral again (a new event id): nothing new
        late,  # the same arrival again: its follow-up exists
        referral_requested(late.case_id),  # a second referral of a case now known: not waiting
    ]
    with reads_of(service.db.engine, "followups") as looked_up:
        outcomes = await service.consumer(HANDLERS).process_batch([record_of(e) for e in batch])
    assert outcomes == [Outcome.PROCESSED] * len(batch)
    assert len(looked_up) == 1  # every look-up of the batch in one statement

    async with service.uow() as uow:
        mine = await uow.followups.for_case(late.case_id)
        theirs = await uow.followups.for_case(known.case_id)
    assert sorted((f.reason.value, f.status) for f in mine) == [
        ("post_arrival", FollowupStatus.SCHEDULED),
        ("referral_check", FollowupStatus.SCHEDULED),  # the one that waited, started by the arrival
        ("referral_check", FollowupStatus.SCHEDULED),
    ]
    assert len({f.referral_id for f in mine if f.referral_id}) == 2
    assert sorted((f.reason.value, f.status) for f in theirs) == [
        ("post_arrival", FollowupStatus.SCHEDULED),
        ("referral_check", FollowupStatus.SCHEDULED),
    ]
