"""Events of the follow-up context (topic ``reintegra.followup.events.v1``)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import Event
from ..topics import FOLLOWUP_EVENTS


class FollowupReason(StrEnum):
    """Why a follow-up contact was scheduled."""

    POST_ARRIVAL = "post_arrival"
    REFERRAL_CHECK = "referral_check"
    PERIODIC = "periodic"


class FollowupScheduled(Event):
    """A follow-up contact was scheduled. / Seguimiento programado."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_scheduled.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS

    followup_id: UUID = Field(description="Id of the follow-up.")
    reason: FollowupReason = Field(description="Why it was scheduled.")
    due_at: AwareDatetime = Field(description="When the contact is due.")
    referral_id: UUID | None = Field(default=None, description="The referral it checks, if any.")


class FollowupDue(Event):
    """A follow-up contact fell due. / Seguimiento pendiente."""

    event_type: ClassVar[str] = "org.reintegra.followup.followup_due.v1"
    topic: ClassVar[str] = FOLLOWUP_EVENTS

    followup_id: UUID = Field(description="Id of the follow-up.")
    reason: FollowupReason = Field(description="Why it was scheduled.")
    due_at: AwareDatetime = Field(description="When the contact was due.")
    referral_id: UUID | None = Field(default=None, description="The referral it checks, if any.")
