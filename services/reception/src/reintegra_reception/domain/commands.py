"""Commands the reception service accepts (imperative names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability


@dataclass(frozen=True)
class PersonalData:
    """What identifies the person. It stays in the reception database; it never goes on Kafka."""

    given_names: str
    family_names: str
    date_of_birth: date
    document_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ArrivalFacts:
    """What the reception desk records about an arrival, apart from who the person is.

    The names are those of the HTTP request and of ``arrival_registered``, so that the three map onto
    each other field by field without being spelled out again.
    """

    sex: Sex
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str
    country_of_return: str
    returned_from: str
    return_type: ReturnType
    transport_mode: TransportMode
    destination_municipality: str
    preferred_language: str = "es"
    indigenous_people: str | None = None
    has_disability: bool = False
    travelling_with_family: bool = False
    family_group_ref: str | None = None
    previous_returns: int = 0
    announcement_id: UUID | None = None
    vulnerabilities: frozenset[Vulnerability] = field(default_factory=frozenset)
    immediate_needs: tuple[ServiceCategory, ...] = ()


@dataclass(frozen=True)
class RegisterArrival:
    """Register a returned person arriving at a reception centre (idempotent by ``manifest_ref``)."""

    person: PersonalData
    facts: ArrivalFacts
    manifest_ref: str | None = None
