"""Events of the assessment context (topic ``reintegra.assessment.events.v1``)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..base import Event
from ..codelists import Dimension, Level, Priority, ServiceCategory
from ..topics import ASSESSMENT_EVENTS


class AssessmentScheduled(Event):
    """A needs and vulnerability assessment was scheduled for a case. / Evaluación programada."""

    event_type: ClassVar[str] = "org.reintegra.assessment.assessment_scheduled.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS

    assessment_id: UUID = Field(description="Id of the assessment.")
    scheduled_for: AwareDatetime = Field(description="When the assessment should take place.")
    priority: Priority = Field(description="How soon the case must be seen.")


class Need(BaseModel):
    """One need found by an assessment, on the level x dimension grid."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    need_id: UUID = Field(description="Id of the need, stable across events.")
    category: ServiceCategory = Field(description="Service category that can meet the need.")
    dimension: Dimension = Field(description="Economic, social or psychosocial dimension.")
    level: Level = Field(default=Level.INDIVIDUAL, description="Individual, community or structural level.")
    priority: Priority = Field(description="How urgent the need is.")


class DimensionScores(BaseModel):
    """Reintegration scores, each between 0 and 1."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    economic: float = Field(ge=0, le=1, description="Economic dimension score.")
    social: float = Field(ge=0, le=1, description="Social dimension score.")
    psychosocial: float = Field(ge=0, le=1, description="Psychosocial dimension score.")
    composite: float = Field(ge=0, le=1, description="Composite reintegration score.")


class AssessmentCompleted(Event):
    """An assessment was completed; its needs drive referrals. / Evaluación completada."""

    event_type: ClassVar[str] = "org.reintegra.assessment.assessment_completed.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS

    assessment_id: UUID = Field(description="Id of the assessment.")
    completed_at: AwareDatetime = Field(description="When the assessment was completed.")
    instrument: str = Field(description="Instrument used, e.g. the reintegration sustainability survey.")
    instrument_version: str = Field(description="Version of the instrument and its weights.")
    scores: DimensionScores | None = Field(default=None, description="Scores, when the instrument has them.")
    priority: Priority = Field(description="Overall priority of the case.")
    destination_municipality: str = Field(description="Municipality where services are needed.")
    needs: list[Need] = Field(default_factory=list, description="Needs found, each to be referred.")
