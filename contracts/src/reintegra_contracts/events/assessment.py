"""Events of the assessment context (topic ``reintegra.assessment.events.v1``)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..base import Event
from ..codelists import (
    ConsentGiver,
    Dimension,
    Level,
    MigrationDriver,
    MigrationIntention,
    Priority,
    ReassessmentReason,
    ServiceCategory,
    Vulnerability,
)
from ..topics import ASSESSMENT_EVENTS


class AssessmentScheduled(Event):
    """A needs and vulnerability assessment was scheduled for a case. / Evaluación programada."""

    event_type: ClassVar[str] = "org.reintegra.assessment.assessment_scheduled.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS
    producer: ClassVar[str] = "assessment"
    consumers: ClassVar[tuple[str, ...]] = ("followup",)

    assessment_id: UUID = Field(description="Id of the assessment.")
    scheduled_for: AwareDatetime = Field(description="When the assessment should take place.")
    priority: Priority = Field(description="How soon the case must be seen.")


class Need(BaseModel):
    """One need found by an assessment, on the level x dimension grid. / Necesidad identificada."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    need_id: UUID = Field(description="Id of the need, stable across events.")
    category: ServiceCategory = Field(description="Service category that can meet the need.")
    dimension: Dimension = Field(description="Economic, social or psychosocial dimension.")
    level: Level = Field(default=Level.INDIVIDUAL, description="Individual, community or structural level.")
    priority: Priority = Field(description="How urgent the need is.")


class DimensionScores(BaseModel):
    """Reintegration scores, each between 0 and 1 (1 = fully reintegrated in that dimension)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    economic: float = Field(ge=0, le=1, description="Economic dimension score.")
    social: float = Field(ge=0, le=1, description="Social dimension score.")
    psychosocial: float = Field(ge=0, le=1, description="Psychosocial dimension score.")
    composite: float = Field(ge=0, le=1, description="Composite reintegration score.")


class AssessmentCompleted(Event):
    """An assessment was completed; its needs drive referrals. / Evaluación completada."""

    event_type: ClassVar[str] = "org.reintegra.assessment.assessment_completed.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS
    producer: ClassVar[str] = "assessment"
    consumers: ClassVar[tuple[str, ...]] = ("referral", "followup", "agency systems (statistics)")

    assessment_id: UUID = Field(description="Id of the assessment.")
    completed_at: AwareDatetime = Field(description="When the assessment was completed.")
    instrument: str = Field(description="Instrument used, e.g. the reintegration sustainability survey.")
    instrument_version: str = Field(description="Version of the instrument and its weights.")
    scores: DimensionScores | None = Field(default=None, description="Scores, when the instrument has them.")
    priority: Priority = Field(description="Overall priority of the case.")
    destination_municipality: str = Field(description="Municipality where services are needed.")
    needs: list[Need] = Field(default_factory=list, description="Needs found, each to be referred.")
    # Added in 1.1 (optional).
    migration_drivers: list[MigrationDriver] = Field(
        default_factory=list, description="Drivers of the last migration, as told by the person."
    )
    intention_to_migrate_again: MigrationIntention | None = Field(
        default=None, description="Intention to migrate again, if asked."
    )
    vulnerabilities: list[Vulnerability] = Field(
        default_factory=list, description="Vulnerabilities confirmed or found by the assessment."
    )


class PlannedService(BaseModel):
    """One service in a reintegration plan, answering one need."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    need_id: UUID = Field(description="The need it answers.")
    category: ServiceCategory = Field(description="Service category.")
    dimension: Dimension = Field(description="Dimension of the need.")
    level: Level = Field(default=Level.INDIVIDUAL, description="Level of the service.")
    priority: Priority = Field(description="Priority within the plan.")
    target_date: date | None = Field(default=None, description="When it should have been delivered.")


class ReintegrationPlanAgreed(Event):
    """The returnee agreed an individual reintegration plan. / Plan de reintegración acordado."""

    event_type: ClassVar[str] = "org.reintegra.assessment.reintegration_plan_agreed.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS
    producer: ClassVar[str] = "assessment"
    consumers: ClassVar[tuple[str, ...]] = ("referral", "followup")

    plan_id: UUID = Field(description="Id of the plan.")
    plan_version: int = Field(default=1, ge=1, description="Version of the plan; a revision increments it.")
    assessment_id: UUID = Field(description="The assessment the plan is based on.")
    agreed_at: AwareDatetime = Field(description="When the plan was agreed.")
    agreed_by: ConsentGiver = Field(description="Who agreed it: the person or a guardian.")
    services: list[PlannedService] = Field(min_length=1, description="Services planned, one per need.")
    review_by: date = Field(description="When the plan must be reviewed (e.g. every 3 months).")


class ReassessmentCompleted(Event):
    """A case was assessed again; scores show change over time. / Reevaluación completada."""

    event_type: ClassVar[str] = "org.reintegra.assessment.reassessment_completed.v1"
    topic: ClassVar[str] = ASSESSMENT_EVENTS
    producer: ClassVar[str] = "assessment"
    consumers: ClassVar[tuple[str, ...]] = ("referral", "followup", "agency systems (statistics)")

    assessment_id: UUID = Field(description="Id of this assessment.")
    previous_assessment_id: UUID = Field(description="The assessment it follows.")
    reason: ReassessmentReason = Field(description="Why the case was assessed again.")
    completed_at: AwareDatetime = Field(description="When it was completed.")
    instrument: str = Field(description="Instrument used.")
    instrument_version: str = Field(description="Version of the instrument and its weights.")
    scores: DimensionScores | None = Field(default=None, description="New scores.")
    previous_scores: DimensionScores | None = Field(default=None, description="Scores of the previous one.")
    priority: Priority = Field(description="Overall priority of the case now.")
    new_needs: list[Need] = Field(default_factory=list, description="Needs found that were not known before.")
    resolved_need_ids: list[UUID] = Field(default_factory=list, description="Earlier needs now met.")
    intention_to_migrate_again: MigrationIntention | None = Field(
        default=None, description="Intention to migrate again, if asked."
    )
