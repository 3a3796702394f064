"""Events of the reception context (topic ``reintegra.reception.events.v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import Event
from ..codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from ..topics import RECEPTION_EVENTS


class ArrivalRegistered(Event):
    """A returned person was registered at a reception centre. / Persona retornada registrada."""

    event_type: ClassVar[str] = "org.reintegra.reception.arrival_registered.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS

    returnee_id: UUID = Field(description="Pseudonymous id of the returned person.")
    arrived_at: AwareDatetime = Field(description="When the person arrived at the port of entry.")
    port_of_entry: str = Field(description="Code of the port of entry (see reference data).")
    reception_centre: str = Field(description="Code of the reception centre.")
    country_of_return: str = Field(
        description="ISO 3166-1 alpha-2 code of the country the person returned to.",
        pattern=r"^[A-Z]{2}$",
    )
    returned_from: str = Field(
        description="ISO 3166-1 alpha-2 code of the country the person was returned from.",
        pattern=r"^[A-Z]{2}$",
    )
    return_type: ReturnType = Field(description="Forced, voluntary or assisted voluntary return.")
    transport_mode: TransportMode = Field(description="How the person travelled back.")
    travel_group_id: UUID | None = Field(
        default=None, description="Pseudonymous id shared by persons who travelled together as a family."
    )
    age: int = Field(ge=0, le=120, description="Age in completed years at arrival.")
    sex: Sex = Field(description="Sex as declared.")
    preferred_language: str = Field(default="es", description="BCP 47 tag of the preferred language.")
    indigenous_people: str | None = Field(default=None, description="Indigenous people, if declared.")
    has_disability: bool = Field(default=False, description="Whether the person declared a disability.")
    destination_municipality: str = Field(description="Code of the municipality the person is going to.")
    is_repeat_return: bool = Field(default=False, description="Whether the person was returned before.")
    previous_returns: int = Field(default=0, ge=0, description="How many earlier returns are known.")
    announcement_id: UUID | None = Field(default=None, description="The pre-arrival announcement matched.")
    vulnerabilities: list[Vulnerability] = Field(default_factory=list, description="Vulnerability flags.")
    immediate_needs: list[ServiceCategory] = Field(
        default_factory=list, description="Needs to be met at once, before the assessment."
    )
    registered_at: datetime = Field(description="When the registration was recorded.")
