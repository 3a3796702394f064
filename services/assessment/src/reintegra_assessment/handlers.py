"""Assessment's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save."""

from __future__ import annotations

from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ProtectionConcernRaised,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_kit.clock import Clock
from reintegra_kit.domain import NotFoundError
from reintegra_kit.erasure import ErasedCase

from .domain import Assessment, AssessmentStatus, CompleteAssessment
from .repository import AssessmentUnitOfWork


async def schedule_assessment(event: ArrivalRegistered, uow: AssessmentUnitOfWork, clock: Clock) -> None:
    """``arrival_registered`` → one assessment per case (a re-sent arrival changes nothing).

    Reception's arrival is the only event that opens a case here (docs/adr/0060-events-about-unknown-cases.md).
    """
    if await uow.assessments.for_case(event.case_id) is not None:
        return
    if await uow.erasures.get(event.case_id) is not None:
        return  # the person was erased at reception: nothing is scheduled (or held) for them again
    await uow.assessments.save(Assessment.schedule(event, clock.now()))


async def complete_assessment(cmd: CompleteAssessment, uow: AssessmentUnitOfWork, clock: Clock) -> Assessment:
    """Record an assessment's result; ``assessment_completed`` carries the needs to refer."""
    assessment = await uow.assessments.get(cmd.assessment_id, for_update=True)
    if assessment is None:
        raise NotFoundError(f"assessment {cmd.assessment_id} not found")
    assessment.complete(cmd, clock.now())
    await uow.assessments.save(assessment)
    return assessment


async def escalate_for_concern(
    event: ProtectionConcernRaised, uow: AssessmentUnitOfWork, clock: Clock
) -> None:
    """``protection_concern_raised`` → a critical concern moves the case's assessment to the front."""
    assessment = await uow.assessments.for_case(event.case_id)
    if assessment is not None and assessment.escalate(event.urgency, clock.now()):
        await uow.assessments.save(assessment)


async def close_merged_cases(event: ReturneeRecordsMerged, uow: AssessmentUnitOfWork) -> None:
    """``returnee_records_merged`` → a duplicate registration's scheduled assessment is closed (the
    surviving case has its own); a completed one is kept as history."""
    for case_id in event.merged_case_ids:
        assessment = await uow.assessments.for_case(case_id)
        if assessment is not None and assessment.status is AssessmentStatus.SCHEDULED:
            assessment.close_as_duplicate()
            await uow.assessments.save(assessment)


async def erase_case(event: ReturneeErased, uow: AssessmentUnitOfWork, clock: Clock) -> None:
    """``returnee_erased`` → the case is recorded erased (a re-sent arrival schedules nothing) and its
    assessment drops what it held of the person (``Assessment.erase``). A re-sent erasure changes
    nothing."""
    if not await uow.erasures.add(ErasedCase.of(event, clock.now())):
        return
    assessment = await uow.assessments.for_case(event.case_id)
    if assessment is not None and assessment.erase():
        await uow.assessments.save(assessment)
