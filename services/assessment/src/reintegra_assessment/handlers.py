"""Assessment's event and command handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    SERVICE_CATEGORY_DIMENSION,
    Level,
    Priority,
    ServiceCategory,
    Vulnerability,
)
from reintegra_contracts.events.assessment import (
    AssessmentCompleted,
    AssessmentScheduled,
    DimensionScores,
    Need,
)
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_kit.clock import Clock

from .domain import (
    AssessmentAlreadyCompletedError,
    AssessmentNotFoundError,
    overall_priority,
    scheduled_for,
    triage,
)
from .repository import Assessment, AssessmentUnitOfWork


@dataclass(frozen=True)
class NeedFound:
    category: ServiceCategory
    priority: Priority
    level: Level = Level.INDIVIDUAL


@dataclass(frozen=True)
class CompleteAssessment:
    """Command: record the result of an assessment."""

    assessment_id: UUID
    instrument: str
    instrument_version: str
    needs: tuple[NeedFound, ...]
    scores: DimensionScores | None = None


def schedule_on_arrival(clock: Clock) -> Callable[[ArrivalRegistered, AssessmentUnitOfWork], Awaitable[None]]:
    """Handler of ``arrival_registered``: schedule one assessment per case."""

    async def handle(event: ArrivalRegistered, uow: AssessmentUnitOfWork) -> None:
        if await uow.assessments.for_case(event.case_id) is not None:
            return
        flags = [Vulnerability(v) for v in event.vulnerabilities]
        priority = triage(flags, len(event.immediate_needs))
        assessment = Assessment(
            assessment_id=uuid4(),
            case_id=event.case_id,
            status="scheduled",
            priority=priority.value,
            scheduled_for=scheduled_for(event.arrived_at, priority),
            arrived_at=event.arrived_at,
            age=event.age,
            destination_municipality=event.destination_municipality,
            vulnerabilities=[v.value for v in flags],
            created_at=clock.now(),
        )
        await uow.assessments.add(assessment)
        await uow.emit(
            AssessmentScheduled(
                case_id=event.case_id,
                assessment_id=assessment.assessment_id,
                scheduled_for=assessment.scheduled_for,
                priority=priority,
            )
        )

    return handle


async def complete_assessment(cmd: CompleteAssessment, uow: AssessmentUnitOfWork, clock: Clock) -> Assessment:
    """Record an assessment's result and emit ``assessment_completed`` with its needs."""
    async with uow:
        assessment = await uow.assessments.get(cmd.assessment_id, for_update=True)
        if assessment is None:
            raise AssessmentNotFoundError(f"assessment {cmd.assessment_id} not found")
        if assessment.status == "completed":
            raise AssessmentAlreadyCompletedError(f"assessment {cmd.assessment_id} is already completed")
        needs = [
            Need(
                need_id=uuid4(),
                category=n.category,
                dimension=SERVICE_CATEGORY_DIMENSION[n.category],
                level=n.level,
                priority=n.priority,
            )
            for n in cmd.needs
        ]
        priority = overall_priority(Priority(assessment.priority), [n.priority for n in needs])
        assessment.status = "completed"
        assessment.priority = priority.value
        assessment.completed_at = clock.now()
        assessment.instrument = cmd.instrument
        assessment.instrument_version = cmd.instrument_version
        assessment.scores = cmd.scores.model_dump() if cmd.scores else None
        assessment.needs = [n.model_dump(mode="json") for n in needs]
        await uow.assessments.save_completion(assessment)
        await uow.emit(
            AssessmentCompleted(
                case_id=assessment.case_id,
                assessment_id=assessment.assessment_id,
                completed_at=assessment.completed_at,
                instrument=cmd.instrument,
                instrument_version=cmd.instrument_version,
                scores=cmd.scores,
                priority=priority,
                destination_municipality=assessment.destination_municipality,
                needs=needs,
            )
        )
        await uow.commit()
        return assessment
