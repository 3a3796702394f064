"""Assessment's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from reintegra_contracts.codelists import Level, Priority, ServiceCategory
from reintegra_contracts.events.assessment import DimensionScores
from reintegra_kit.clock import Clock

from .domain import AssessmentAlreadyCompletedError, AssessmentNotFoundError
from .handlers import CompleteAssessment, NeedFound, complete_assessment
from .repository import Assessment, AssessmentUnitOfWork


class NeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: ServiceCategory
    priority: Priority = Priority.MEDIUM
    level: Level = Level.INDIVIDUAL


class CompletionIn(BaseModel):
    """The result of an assessment."""

    model_config = ConfigDict(extra="forbid")

    instrument: str = Field(default="reintegration-sustainability-survey", min_length=1, max_length=100)
    instrument_version: str = Field(default="1", min_length=1, max_length=50)
    scores: DimensionScores | None = None
    needs: list[NeedIn] = Field(default_factory=list, max_length=50)


class AssessmentOut(BaseModel):
    assessment_id: UUID
    case_id: UUID
    status: Literal["scheduled", "completed"]
    priority: Priority
    scheduled_for: datetime
    completed_at: datetime | None
    instrument: str | None
    instrument_version: str | None
    scores: dict[str, float] | None
    needs: list[dict[str, Any]]

    @classmethod
    def of(cls, a: Assessment) -> AssessmentOut:
        return cls.model_validate(a.__dict__)


def router(uow_factory: Callable[[], AssessmentUnitOfWork], clock: Clock) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["assessment"])

    @api.post(
        "/assessments/{assessment_id}/completion",
        response_model=AssessmentOut,
        summary="Complete an assessment with the needs it found",
        responses={404: {"description": "No such assessment"}, 409: {"description": "Already completed"}},
    )
    async def complete(assessment_id: UUID, body: CompletionIn) -> AssessmentOut:
        cmd = CompleteAssessment(
            assessment_id=assessment_id,
            instrument=body.instrument,
            instrument_version=body.instrument_version,
            scores=body.scores,
            needs=tuple(NeedFound(n.category, n.priority, n.level) for n in body.needs),
        )
        try:
            return AssessmentOut.of(await complete_assessment(cmd, uow_factory(), clock))
        except AssessmentNotFoundError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
        except AssessmentAlreadyCompletedError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc

    @api.get("/assessments/{assessment_id}", response_model=AssessmentOut, summary="One assessment")
    async def get_one(assessment_id: UUID) -> AssessmentOut:
        async with uow_factory() as uow:
            a = await uow.assessments.get(assessment_id)
        if a is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"assessment {assessment_id} not found")
        return AssessmentOut.of(a)

    @api.get("/assessments", response_model=list[AssessmentOut], summary="Assessments, by case or status")
    async def list_all(
        case_id: UUID | None = None,
        status_: Annotated[Literal["scheduled", "completed"] | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[AssessmentOut]:
        async with uow_factory() as uow:
            if case_id is not None:
                found = await uow.assessments.for_case(case_id)
                return [AssessmentOut.of(found)] if found else []
            return [AssessmentOut.of(a) for a in await uow.assessments.page(status_, limit, offset)]

    return api
