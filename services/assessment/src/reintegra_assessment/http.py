"""Assessment's HTTP API: translate the request into a command, hand it to the bus, show the result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictStr
from reintegra_contracts.codelists import Level, Priority, ServiceCategory
from reintegra_contracts.events.assessment import DimensionScores, Need
from reintegra_kit.auth import CurrentAccess, RecordScope, RecordScopeFunction
from reintegra_kit.domain import NotFoundError
from reintegra_kit.handlers import MessageBus
from reintegra_kit.runtime.http import Limit, Offset, problems

from .domain import Assessment, AssessmentStatus, CompleteAssessment, NeedFound
from .repository import AssessmentUnitOfWork

Score = Annotated[StrictFloat, Field(ge=0, le=1)]

PrintableText = Annotated[StrictStr, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]
"""A name written by a person: no control characters. PostgreSQL cannot store a NUL in text at all
(it answered 500); the others have no place in a name either. In the schema, so clients see it."""


class NeedIn(BaseModel):
    """A need found, to be referred."""

    model_config = ConfigDict(extra="forbid")

    category: ServiceCategory
    priority: Priority = Priority.MEDIUM
    level: Level = Level.INDIVIDUAL


class ScoresIn(BaseModel):
    """Reintegration scores, each a number from 0 to 1 (not a string, not a boolean)."""

    model_config = ConfigDict(extra="forbid")

    economic: Score
    social: Score
    psychosocial: Score
    composite: Score

    def to_scores(self) -> DimensionScores:
        return DimensionScores(**self.model_dump())


class CompletionIn(BaseModel):
    """The result of an assessment."""

    model_config = ConfigDict(extra="forbid")

    instrument: PrintableText = Field(
        default="reintegration-sustainability-survey", min_length=1, max_length=100
    )
    instrument_version: PrintableText = Field(default="1", min_length=1, max_length=50)
    scores: ScoresIn | None = None
    needs: list[NeedIn] = Field(default_factory=list, max_length=50)

    def to_command(self, assessment_id: UUID) -> CompleteAssessment:
        return CompleteAssessment(
            assessment_id=assessment_id,
            instrument=self.instrument,
            instrument_version=self.instrument_version,
            scores=self.scores.to_scores() if self.scores is not None else None,
            needs=tuple(NeedFound(n.category, n.priority, n.level) for n in self.needs),
        )


class AssessmentOut(BaseModel):
    """An assessment as the API shows it (no personal data)."""

    model_config = ConfigDict(from_attributes=True)

    assessment_id: UUID
    case_id: UUID
    status: AssessmentStatus
    priority: Priority
    scheduled_for: datetime
    completed_at: datetime | None
    instrument: str | None
    instrument_version: str | None
    scores: DimensionScores | None
    needs: list[Need]

    @classmethod
    def of(cls, a: Assessment) -> AssessmentOut:
        return cls.model_validate(a)


def router(bus: MessageBus[AssessmentUnitOfWork], uow: Callable[[], AssessmentUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["assessment"])

    @api.post(
        "/assessments/{assessment_id}/completion",
        response_model=AssessmentOut,
        summary="Complete an assessment with the needs it found",
        responses=problems(404, 409),
    )
    async def complete(assessment_id: UUID, body: CompletionIn) -> AssessmentOut:
        return AssessmentOut.of(await bus.handle(body.to_command(assessment_id)))

    @api.get(
        "/assessments/{assessment_id}",
        response_model=AssessmentOut,
        summary="One assessment",
        responses=problems(404),
    )
    async def get_one(assessment_id: UUID) -> AssessmentOut:
        async with uow() as u:
            found = await u.assessments.get(assessment_id)
        if found is None:
            raise NotFoundError(f"assessment {assessment_id} not found")
        return AssessmentOut.of(found)

    @api.get("/assessments", response_model=list[AssessmentOut], summary="Assessments, by case or status")
    async def list_all(
        access: CurrentAccess,
        case_id: UUID | None = None,
        status: AssessmentStatus | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[AssessmentOut]:
        async with uow() as u:
            if case_id is not None:
                found = await u.assessments.for_case(case_id, access.filter)
                return [AssessmentOut.of(found)] if found else []
            return [
                AssessmentOut.of(a) for a in await u.assessments.page(status, limit, offset, access.filter)
            ]

    return api


def record_scope_of(uow: Callable[[], AssessmentUnitOfWork]) -> RecordScopeFunction:
    """Assessment's record-scope function: the centre and country of the assessment the path names
    (``None`` for a list, or an assessment that does not exist: the route answers 404)."""

    async def record_scope(request: Request) -> RecordScope | None:
        try:
            assessment_id = UUID(str(request.path_params["assessment_id"]))
        except (KeyError, ValueError):
            return None
        async with uow().reading() as u:  # no transaction: one round trip per read
            found = await u.assessments.get(assessment_id)
        return RecordScope(centre=found.reception_centre, country=found.country) if found else None

    return record_scope
