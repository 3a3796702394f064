"""Events of the service directory (topic ``reintegra.directory.events.v1``).

The referral service owns the directory — which agency offers which service, where, to whom, how fast
it answers — and records every change as an event carrying the entry's **whole new state**, so that
other services and agencies can mirror the directory by reading the topic from the beginning.

The directory is not about a case: the ``case_id`` of these events is the agency's **directory stream
id**, :func:`directory_stream_id` of its code (a name-based UUID), so that the envelope, the key check
and per-key order work unchanged and every change of one agency and its services stays in order.
Readers must not take it for a case. Nothing here is personal data: a contact point is a role or a
desk, never a person.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..base import AgencyCode, CountryCode, Event
from ..codelists import (
    AgencyKind,
    CostArrangement,
    Dimension,
    Level,
    PartnerChannel,
    ServiceCategory,
    Sex,
    Vulnerability,
)
from ..topics import DIRECTORY_EVENTS

DIRECTORY_NAMESPACE = UUID("0b7c6f1e-5a4d-4c1b-9a0e-6d1f3e2a9c47")
"""Namespace of the directory stream ids."""

_MIRRORS: tuple[str, ...] = ("agency systems (directory mirrors)",)


def directory_stream_id(agency_id: str) -> UUID:
    """The ``case_id`` (Kafka key) of the directory events of agency ``agency_id`` and its services."""
    return uuid5(DIRECTORY_NAMESPACE, agency_id)


class OfficeHours(BaseModel):
    """When an agency's first point of contact works, in the agency's time zone."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    days: list[int] = Field(description="ISO weekdays (1 = Monday … 7 = Sunday).")
    opens: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Opening time, HH:MM.")
    closes: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="Closing time, HH:MM.")


class AgencyChanged(Event):
    """An agency was added to the directory or changed (its whole new state). / Institución registrada o modificada."""

    event_type: ClassVar[str] = "org.reintegra.directory.agency_changed.v1"
    topic: ClassVar[str] = DIRECTORY_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _MIRRORS

    case_id: UUID = Field(description="Directory stream id of the agency (directory_stream_id), not a case.")
    agency_id: AgencyCode = Field(description="Code of the agency (names its partner topics).")
    label_es: str = Field(max_length=200, description="Name of the agency in Spanish.")
    label_en: str = Field(max_length=200, description="Name of the agency in English.")
    agency_kind: AgencyKind = Field(description="Government, municipal, NGO, UN or private.")
    country: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country it works in.")
    timezone: str = Field(description="IANA time zone of its office hours, e.g. America/Tegucigalpa.")
    contact_role: str = Field(
        max_length=200, description="First point of contact, as a role or desk (never a person's name)."
    )
    office_hours: list[OfficeHours] = Field(description="When the first point of contact works.")
    response_time_hours: float = Field(
        gt=0, description="Agreed time to answer a referral, in working hours (fractions allowed)."
    )
    channel: PartnerChannel = Field(description="How it receives and answers referrals.")
    coordinator: bool = Field(
        default=False, description="Whether it is the coordinating office escalations of its country go to."
    )
    active: bool = Field(default=True, description="Whether it takes referrals.")
    changed_at: AwareDatetime = Field(description="When the change was made.")
    created: bool = Field(description="Whether the agency is new in the directory.")


class AgencyRemoved(Event):
    """An agency was removed from the directory (its services with it). / Institución retirada."""

    event_type: ClassVar[str] = "org.reintegra.directory.agency_removed.v1"
    topic: ClassVar[str] = DIRECTORY_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _MIRRORS

    case_id: UUID = Field(description="Directory stream id of the agency (directory_stream_id), not a case.")
    agency_id: AgencyCode = Field(description="Code of the agency removed.")
    removed_at: AwareDatetime = Field(description="When it was removed.")


class ServiceChanged(Event):
    """A service was added to the directory or changed (its whole new state). / Servicio registrado o modificado."""

    event_type: ClassVar[str] = "org.reintegra.directory.service_changed.v1"
    topic: ClassVar[str] = DIRECTORY_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _MIRRORS

    case_id: UUID = Field(
        description="Directory stream id of the service's agency (directory_stream_id), not a case."
    )
    service_id: str = Field(max_length=50, description="Code of the service.")
    agency_id: AgencyCode = Field(description="Code of the agency that provides it.")
    label_es: str = Field(max_length=200, description="Name of the service in Spanish.")
    label_en: str = Field(max_length=200, description="Name of the service in English.")
    category: ServiceCategory = Field(description="Service category.")
    level: Level = Field(description="Level of the service on the grid.")
    dimension: Dimension = Field(description="Dimension of the service on the grid.")
    country: CountryCode = Field(description="Country it is offered in.")
    departments: list[str] = Field(
        default_factory=list, description="Codes of the departments it covers (e.g. HN-05)."
    )
    municipalities: list[str] = Field(
        default_factory=list, description="Codes of the municipalities it covers (e.g. HN-0501)."
    )
    national: bool = Field(description="Whether it covers the whole country.")
    min_age: int | None = Field(default=None, ge=0, le=120, description="Youngest age served, if limited.")
    max_age: int | None = Field(default=None, ge=0, le=120, description="Oldest age served, if limited.")
    sexes: list[Sex] = Field(default_factory=list, description="Sexes served; empty = all.")
    groups: list[Vulnerability] = Field(
        default_factory=list, description="Groups served; empty = everyone, else the person must be in one."
    )
    weekly_capacity: int | None = Field(
        default=None, ge=0, description="New referrals it can take per week; absent = not limited."
    )
    cost: CostArrangement = Field(description="Who pays for it.")
    response_time_hours: float | None = Field(
        default=None, gt=0, description="Its own answer time in working hours, when not the agency's."
    )
    active: bool = Field(default=True, description="Whether it takes referrals.")
    changed_at: AwareDatetime = Field(description="When the change was made.")
    created: bool = Field(description="Whether the service is new in the directory.")


class ServiceRemoved(Event):
    """A service was removed from the directory. / Servicio retirado."""

    event_type: ClassVar[str] = "org.reintegra.directory.service_removed.v1"
    topic: ClassVar[str] = DIRECTORY_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _MIRRORS

    case_id: UUID = Field(
        description="Directory stream id of the service's agency (directory_stream_id), not a case."
    )
    service_id: str = Field(max_length=50, description="Code of the service removed.")
    agency_id: AgencyCode = Field(description="Code of the agency that provided it.")
    removed_at: AwareDatetime = Field(description="When it was removed.")
