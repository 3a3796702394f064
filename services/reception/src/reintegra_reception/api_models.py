"""Request models of reception's HTTP API, shared by the JSON endpoints and the manifest parser."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)
from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability

from .domain import ArrivalFacts, PersonalData, RegisterArrival, Relationship

CODE = r"^[A-Z0-9][A-Z0-9_-]{1,49}$"


def _iso_text(value: Any) -> Any:
    """A date or a time comes as ISO 8601 text, as the schema says (``format: date``/``date-time``):
    pydantic alone would read a number as seconds since 1970 (``0`` → 1970-01-01)."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
"""A date in a request: ``YYYY-MM-DD`` text only."""

IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
"""A time in a request: ISO 8601 text with its offset only."""


class PersonIn(BaseModel):
    """Who the person is. Kept in reception's database only; never published."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_names: str = Field(min_length=1, max_length=200)
    family_names: str = Field(min_length=1, max_length=200)
    date_of_birth: IsoDate = Field(description="Not in the future, not before 1900.")
    document_number: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > datetime.now(UTC).date():
            raise ValueError("date_of_birth is in the future")
        if value.year < 1900:
            raise ValueError("date_of_birth is before 1900")
        return value


class ArrivalIn(BaseModel):
    """An arrival to register. Its fields are those of ``arrival_registered`` where both have them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    manifest_ref: str | None = Field(
        default=None,
        max_length=100,
        description="Line of the flight or bus manifest; makes the request idempotent.",
    )
    person: PersonIn
    sex: Sex
    arrived_at: IsoDateTime = Field(description="Not more than an hour in the future.")
    port_of_entry: Annotated[str, Field(pattern=CODE)]
    reception_centre: Annotated[str, Field(pattern=CODE)]
    country_of_return: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    returned_from: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    return_type: ReturnType
    transport_mode: TransportMode
    destination_municipality: Annotated[str, Field(pattern=CODE)]
    preferred_language: str = Field(default="es", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    indigenous_people: str | None = Field(default=None, max_length=100)
    has_disability: StrictBool = False
    travelling_with_family: StrictBool = False
    family_group_ref: str | None = Field(default=None, max_length=100)
    previous_returns: StrictInt = Field(default=0, ge=0, le=100)
    announcement_id: UUID | None = None
    vulnerabilities: list[Vulnerability] = Field(default_factory=list, max_length=30)
    immediate_needs: list[ServiceCategory] = Field(default_factory=list, max_length=30)
    relationship: Relationship | None = Field(
        default=None, description="Relationship to the head of the travel group (separated children)."
    )
    travel_group_size: StrictInt | None = Field(
        default=None, ge=1, le=100, description="Persons in the travel group; default: those registered."
    )
    announced_ref: str | None = Field(
        default=None, max_length=100, description="The announcement's own reference for this person."
    )

    @field_validator("arrived_at")
    @classmethod
    def _not_far_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + timedelta(hours=1):
            raise ValueError("arrived_at is in the future")
        return value

    def to_command(self) -> RegisterArrival:
        declared = self.model_dump(exclude={"person", "manifest_ref", "vulnerabilities", "immediate_needs"})
        declared["arrived_at"] = self.arrived_at.astimezone(UTC)
        return RegisterArrival(
            person=PersonalData(**self.person.model_dump()),
            facts=ArrivalFacts(
                **declared,
                vulnerabilities=frozenset(self.vulnerabilities),
                immediate_needs=tuple(self.immediate_needs),
            ),
            manifest_ref=self.manifest_ref,
        )
