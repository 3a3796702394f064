"""Assessment acting on reception's protection concerns and merges (SQLite and PostgreSQL, no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest
from reintegra_assessment.bootstrap import SPEC
from reintegra_assessment.domain import AssessmentStatus
from reintegra_assessment.handlers import close_merged_cases, escalate_for_concern, schedule_assessment
from reintegra_assessment.orm import kit_tables
from reintegra_assessment.repository import AssessmentUnitOfWork
from reintegra_contracts.codelists import ConcernType, Priority, StaffRole, Urgency
from reintegra_contracts.events.assessment import AssessmentScheduled
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ProtectionConcernRaised,
    ReturneeRecordsMerged,
)
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness

from .test_handlers import START, arrival

HANDLERS = {
    ArrivalRegistered: [schedule_assessment],
    ProtectionConcernRaised: [escalate_for_concern],
    ReturneeRecordsMerged: [close_merged_cases],
}
LATER = START + timedelta(hours=5)


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[AssessmentUnitOfWork]]:
    async with HandlerHarness(
        database_url, spec=SPEC, tables=kit_tables, uow_class=AssessmentUnitOfWork, clock=ManualClock(LATER)
    ) as harness:
        yield harness


def concern(case_id: object, urgency: Urgency) -> ProtectionConcernRaised:
    return ProtectionConcernRaised(
        case_id=case_id,
        concern_id=uuid4(),
        returnee_id=uuid4(),
        concern_type=ConcernType.TRAFFICKING,
        urgency=urgency,
        raised_at=LATER,
        raised_by_role=StaffRole.RECEPTION_OFFICER,
    )


async def test_a_critical_concern_makes_the_assessment_urgent_and_due_now(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    registered = arrival()  # a 16-year-old with family: high priority, the next day
    registered = registered.model_copy(update={"vulnerabilities": []})
    await service.deliver(HANDLERS, registered)
    assert (
        await service.deliver(HANDLERS, concern(registered.case_id, Urgency.IMMEDIATE)) is Outcome.PROCESSED
    )
    first, again = [e for e in await service.emitted() if isinstance(e, AssessmentScheduled)]
    assert first.priority is not Priority.URGENT
    assert (again.priority, again.scheduled_for) == (Priority.URGENT, LATER)
    assert again.assessment_id == first.assessment_id
    async with service.uow() as uow:
        [queued] = await uow.assessments.page(AssessmentStatus.SCHEDULED, 10, 0)
    assert queued.priority is Priority.URGENT


async def test_a_routine_concern_never_lowers_the_priority(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    registered = arrival()
    await service.deliver(HANDLERS, registered)
    await service.deliver(HANDLERS, concern(registered.case_id, Urgency.ROUTINE))
    assert len([e for e in await service.emitted() if isinstance(e, AssessmentScheduled)]) == 1


async def test_a_merged_duplicate_registration_closes_its_scheduled_assessment(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    kept, dup = arrival(), arrival()
    await service.deliver(HANDLERS, kept)
    await service.deliver(HANDLERS, dup)
    merged = ReturneeRecordsMerged(
        case_id=kept.case_id,
        surviving_returnee_id=kept.returnee_id,
        merged_returnee_ids=[dup.returnee_id],
        merged_case_ids=[dup.case_id],
        merged_at=LATER,
        decided_by_role=StaffRole.CASE_WORKER,
    )
    assert await service.deliver(HANDLERS, merged) is Outcome.PROCESSED
    async with service.uow() as uow:
        closed = await uow.assessments.for_case(dup.case_id)
        still = await uow.assessments.for_case(kept.case_id)
    assert closed is not None
    assert closed.status is AssessmentStatus.MERGED
    assert still is not None
    assert still.status is AssessmentStatus.SCHEDULED


async def test_a_concern_or_a_merge_about_a_case_never_registered_here_creates_nothing(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    # ADR 0060: only arrival_registered opens a case here; reception's other events act on what exists.
    unknown, other = uuid4(), uuid4()
    assert await service.deliver(HANDLERS, concern(unknown, Urgency.IMMEDIATE)) is Outcome.PROCESSED
    merged = ReturneeRecordsMerged(
        case_id=unknown,
        surviving_returnee_id=uuid4(),
        merged_returnee_ids=[uuid4()],
        merged_case_ids=[other],
        merged_at=LATER,
        decided_by_role=StaffRole.CASE_WORKER,
    )
    assert await service.deliver(HANDLERS, merged) is Outcome.PROCESSED
    async with service.uow() as uow:
        assert await uow.assessments.for_case(unknown) is None
        assert await uow.assessments.for_case(other) is None
    assert await service.emitted() == []
