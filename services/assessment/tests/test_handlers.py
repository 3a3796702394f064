"""Assessment's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from reintegra_assessment.bootstrap import SPEC
from reintegra_assessment.domain import AssessmentStatus, CompleteAssessment, NeedFound
from reintegra_assessment.handlers import complete_assessment, schedule_assessment
from reintegra_assessment.orm import assessments, kit_tables
from reintegra_assessment.repository import AssessmentUnitOfWork
from reintegra_contracts import all_event_classes
from reintegra_contracts.codelists import (
    Priority,
    ReturnType,
    ServiceCategory,
    Sex,
    TransportMode,
    Vulnerability,
)
from reintegra_contracts.events.assessment import AssessmentCompleted, AssessmentScheduled
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.samples import example_of
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.domain import IllegalTransitionError, NotFoundError
from reintegra_kit.testing.handlers import HandlerHarness

START = datetime(2026, 11, 20, 14, tzinfo=UTC)
HANDLERS = {ArrivalRegistered: [schedule_assessment]}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[AssessmentUnitOfWork]]:
    async with HandlerHarness(
        database_url, spec=SPEC, tables=kit_tables, uow_class=AssessmentUnitOfWork, clock=ManualClock(START)
    ) as harness:
        yield harness


def arrival(*flags: Vulnerability) -> ArrivalRegistered:
    return ArrivalRegistered(
        case_id=uuid4(),
        returnee_id=uuid4(),
        arrived_at=START,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        age=16,
        sex=Sex.FEMALE,
        destination_municipality="HN-0501",
        vulnerabilities=list(flags),
        registered_at=START,
    )


def completion(assessment_id: object, *needs: NeedFound) -> CompleteAssessment:
    return CompleteAssessment(
        assessment_id=assessment_id,  # type: ignore[arg-type]
        instrument="rss",
        instrument_version="1",
        needs=needs,
    )


async def test_a_child_alone_is_scheduled_urgently_once_even_if_the_arrival_is_resent(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    event = arrival(Vulnerability.UNACCOMPANIED_CHILD)
    assert await service.deliver(HANDLERS, event, event_id="one") is Outcome.PROCESSED
    assert await service.deliver(HANDLERS, event, event_id="two") is Outcome.PROCESSED
    [row] = await service.rows(assessments)
    assert (row.status, row.priority) == ("scheduled", "urgent")
    [scheduled] = await service.emitted()
    assert isinstance(scheduled, AssessmentScheduled)
    assert scheduled.scheduled_for == START


async def test_completing_publishes_the_needs_and_raises_the_case_priority(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    await service.deliver(HANDLERS, arrival())
    [row] = await service.rows(assessments)
    done = await service.handle(
        complete_assessment,
        completion(row.assessment_id, NeedFound(ServiceCategory.EMPLOYMENT, Priority.URGENT)),
    )
    assert done.status is AssessmentStatus.COMPLETED
    completed = (await service.emitted())[-1]
    assert isinstance(completed, AssessmentCompleted)
    assert [n.category for n in completed.needs] == [ServiceCategory.EMPLOYMENT]
    assert completed.priority is Priority.URGENT


async def test_completing_twice_is_refused_naming_the_state_and_changes_nothing(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    await service.deliver(HANDLERS, arrival())
    [row] = await service.rows(assessments)
    await service.handle(complete_assessment, completion(row.assessment_id))
    with pytest.raises(IllegalTransitionError, match="assessment is 'completed'"):
        await service.handle(complete_assessment, completion(row.assessment_id))
    assert len(await service.emitted()) == 2


async def test_completing_an_unknown_assessment_is_not_found(
    service: HandlerHarness[AssessmentUnitOfWork],
) -> None:
    with pytest.raises(NotFoundError):
        await service.handle(complete_assessment, completion(uuid4()))


# Reception alone opens cases (docs/adr/0060-events-about-unknown-cases.md) ---------------------------

OTHER_EVENTS_ABOUT_A_CASE = [
    cls
    for cls in all_event_classes()
    if cls is not ArrivalRegistered and cls.kind == "event" and "case_id" in cls.model_fields
]


async def test_no_event_but_the_arrival_opens_a_case(service: HandlerHarness[AssessmentUnitOfWork]) -> None:
    for event_class in OTHER_EVENTS_ABOUT_A_CASE:
        about_an_unknown_case = example_of(event_class).model_copy(update={"case_id": uuid4()})
        assert await service.deliver(HANDLERS, about_an_unknown_case) is Outcome.SKIPPED, event_class
    assert await service.rows(assessments) == []
    assert await service.emitted() == []
