"""Events of the referral context (topic ``reintegra.referral.events.v1``)."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import Event
from ..codelists import Dimension, Level, Priority, ServiceCategory
from ..topics import REFERRAL_EVENTS


class ReferralRequested(Event):
    """A need was referred to a service of an agency. / Derivación solicitada (FHIR Task: requested)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_requested.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS

    referral_id: UUID = Field(description="Id of the referral.")
    assessment_id: UUID = Field(description="The assessment that found the need.")
    need_id: UUID = Field(description="The need referred.")
    category: ServiceCategory = Field(description="Service category.")
    dimension: Dimension = Field(description="Dimension of the need.")
    level: Level = Field(description="Level of the service.")
    priority: Priority = Field(description="Priority of the referral.")
    service_id: str = Field(description="Code of the service in the service directory.")
    agency_id: str = Field(description="Code of the agency that provides the service.")
    requested_at: AwareDatetime = Field(description="When the referral was made.")
    respond_by: AwareDatetime = Field(description="When the agency must have accepted or rejected it.")
