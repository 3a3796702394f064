"""Erasure: assessment drops what it held of a person reception erased, and a re-sent arrival does
not bring it back (SQLite and PostgreSQL)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from reintegra_assessment.domain import AssessmentStatus, NeedFound
from reintegra_assessment.handlers import complete_assessment, erase_case, schedule_assessment
from reintegra_assessment.orm import assessments, erased_cases
from reintegra_assessment.repository import AssessmentUnitOfWork
from reintegra_contracts.codelists import ErasureReason, Priority, ServiceCategory
from reintegra_contracts.events.reception import ArrivalRegistered, ReturneeErased
from reintegra_kit.consumer import Outcome
from reintegra_kit.domain import IllegalTransitionError
from reintegra_kit.testing.handlers import HandlerHarness

from .test_handlers import START, arrival, completion, service  # noqa: F401

ERASURE = {ArrivalRegistered: [schedule_assessment], ReturneeErased: [erase_case]}
Harness = HandlerHarness[AssessmentUnitOfWork]


def erased(case_id: UUID) -> ReturneeErased:
    return ReturneeErased(
        case_id=case_id, returnee_id=uuid4(), erased_at=START, reason=ErasureReason.SUBJECT_REQUEST
    )


async def test_a_scheduled_assessment_will_not_happen_and_a_completed_one_keeps_only_codes(
    service: Harness,  # noqa: F811
) -> None:
    waiting, done, other = arrival(), arrival(), arrival()
    for event in (waiting, done, other):
        await service.deliver(ERASURE, event)
    async with service.uow() as uow:
        finished = await uow.assessments.for_case(done.case_id)
    assert finished is not None
    need = NeedFound(category=ServiceCategory.HEALTH, priority=Priority.HIGH)
    await service.handle(complete_assessment, completion(finished.assessment_id, need))
    for case_id in (waiting.case_id, done.case_id):
        assert await service.deliver(ERASURE, erased(case_id)) is Outcome.PROCESSED
    async with service.uow() as uow:
        gone = await uow.assessments.for_case(waiting.case_id)
        kept = await uow.assessments.for_case(done.case_id)
        untouched = await uow.assessments.for_case(other.case_id)
    assert gone is not None
    assert kept is not None
    assert untouched is not None
    assert (gone.status, gone.age) == (AssessmentStatus.ERASED, None)
    assert (kept.status, kept.age) == (AssessmentStatus.COMPLETED, None)
    assert [n.category for n in kept.needs] == [ServiceCategory.HEALTH]  # statistics keep the codes
    assert (untouched.status, untouched.age) == (AssessmentStatus.SCHEDULED, 16)
    rows = {r.case_id: r for r in await service.rows(assessments)}
    assert rows[waiting.case_id].age is None
    assert rows[other.case_id].age == 16
    with pytest.raises(IllegalTransitionError):
        await service.handle(complete_assessment, completion(gone.assessment_id, need))


async def test_a_resent_erasure_or_arrival_changes_nothing(service: Harness) -> None:  # noqa: F811
    came = arrival()
    await service.deliver(ERASURE, came)
    erasure = erased(came.case_id)
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.PROCESSED
    emitted = len(await service.emitted())
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.DUPLICATE
    assert await service.deliver(ERASURE, erasure, event_id="erasure-2") is Outcome.PROCESSED
    assert await service.deliver(ERASURE, came) is Outcome.PROCESSED
    assert len(await service.rows(erased_cases)) == 1
    assert len(await service.emitted()) == emitted


async def test_an_arrival_after_the_erasure_schedules_nothing(service: Harness) -> None:  # noqa: F811
    came = arrival()
    await service.deliver(ERASURE, erased(came.case_id))
    await service.deliver(ERASURE, came)
    assert [r for r in await service.rows(assessments) if r.case_id == came.case_id] == []
    assert await service.emitted() == []
