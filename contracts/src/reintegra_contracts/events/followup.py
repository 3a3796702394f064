"""Events of the follow-up context (topic ``reintegra.followup.events.v1``)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import AgencyCode, Event
from ..codelists import (
    ClosureReason,
    ContactStatus,
    FollowupCancellationReason,
    FollowupOutcome,
    FollowupReason,
    MigrationIntention,
    ReopenReason,
)
from ..topics import FOLLOWUP_EVENTS
from .assessment import DimensionScores, Need

__all__ = [
    "CaseClosed",
    "CaseReopened",
    "FollowupCancelled",
    "FollowupCompleted",
    "FollowupDue",
    "FollowupMissed",
    "FollowupReason",
    "FollowupScheduled",
]

_CONSUMERS: tuple[str, ...] = ("assessment", "referral", "agency systems (statistics)")


class FollowupScheduled(Event):
    """A follow-up contact was scheduled. / Seguimiento programado."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_scheduled.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = ("agency systems (case workers)",)

    followup_id: UUID = Field(description="Id of the follow-up.")
    reason: FollowupReason = Field(description="Why it was scheduled.")
    due_at: AwareDatetime = Field(description="When the contact is due.")
    referral_id: UUID | None = Field(default=None, description="The referral it checks, if any.")


class FollowupDue(Event):
    """A follow-up contact fell due. / Seguimiento pendiente."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_due.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = ("agency systems (case workers)",)

    followup_id: UUID = Field(description="Id of the follow-up.")
    reason: FollowupReason = Field(description="Why it was scheduled.")
    due_at: AwareDatetime = Field(description="When the contact was due.")
    referral_id: UUID | None = Field(default=None, description="The referral it checks, if any.")


class FollowupCancelled(Event):
    """A scheduled follow-up contact was cancelled and will not fall due. / Seguimiento cancelado."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_cancelled.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = ("agency systems (case workers)",)

    followup_id: UUID = Field(description="Id of the follow-up.")
    reason: FollowupReason = Field(description="Why it had been scheduled.")
    due_at: AwareDatetime = Field(description="When the contact would have been due.")
    cancelled_at: AwareDatetime = Field(description="When it was cancelled.")
    cancellation_reason: FollowupCancellationReason = Field(
        description="Why: the person withdrew consent to be contacted, or the case was merged."
    )
    referral_id: UUID | None = Field(default=None, description="The referral it would have checked, if any.")


class FollowupCompleted(Event):
    """A follow-up contact took place. / Seguimiento realizado."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_completed.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS

    followup_id: UUID = Field(description="Id of the follow-up.")
    completed_at: AwareDatetime = Field(description="When the contact took place.")
    contact_status: ContactStatus = Field(description="How the returnee was reached.")
    outcome: FollowupOutcome = Field(description="What the follow-up found.")
    referral_id: UUID | None = Field(default=None, description="The referral it checked, if any.")
    service_received: bool | None = Field(
        default=None, description="For a referral check: whether the person says the service was received."
    )
    scores: DimensionScores | None = Field(default=None, description="Re-measured reintegration scores.")
    intention_to_migrate_again: MigrationIntention | None = Field(
        default=None, description="Intention to migrate again, if asked."
    )
    new_needs: list[Need] = Field(default_factory=list, description="New needs found during the contact.")


class FollowupMissed(Event):
    """A due follow-up contact could not be made. / Seguimiento no realizado."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_missed.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS

    followup_id: UUID = Field(description="Id of the follow-up.")
    due_at: AwareDatetime = Field(description="When the contact was due.")
    recorded_at: AwareDatetime = Field(description="When it was recorded as missed.")
    contact_status: ContactStatus = Field(description="What happened when contact was attempted.")
    attempts: int = Field(ge=0, description="Number of contact attempts made.")
    rescheduled_followup_id: UUID | None = Field(
        default=None, description="The follow-up scheduled in its place, if any."
    )


class CaseClosed(Event):
    """A case was closed. / Caso cerrado."""

    event_type: ClassVar[str] = "org.reintegra.followup.case_closed.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "reception", "agency systems")

    closed_at: AwareDatetime = Field(description="When the case was closed.")
    reason: ClosureReason = Field(description="Why it was closed.")
    final_scores: DimensionScores | None = Field(default=None, description="Last measured scores.")
    transferred_to: AgencyCode | None = Field(
        default=None, description="For a transfer: agency code of the agency that takes the case over."
    )
    duplicate_of_case_id: UUID | None = Field(
        default=None, description="For a duplicate: the surviving case."
    )


class CaseReopened(Event):
    """A closed case was reopened. / Caso reabierto."""

    event_type: ClassVar[str] = "org.reintegra.followup.case_reopened.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS
    producer: ClassVar[str] = "followup"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "reception", "agency systems")

    reopened_at: AwareDatetime = Field(description="When the case was reopened.")
    reason: ReopenReason = Field(description="Why it was reopened.")
    previous_closure_reason: ClosureReason | None = Field(default=None, description="Why it had been closed.")
