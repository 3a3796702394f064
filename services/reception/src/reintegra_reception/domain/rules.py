"""The reception domain: registering a returned person's arrival. Pure: no I/O, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from reintegra_contracts.codelists import (
    ReturnType,
    ServiceCategory,
    Sex,
    TransportMode,
    Vulnerability,
)

ADULT_AGE = 18
OLDER_ADULT_AGE = 60


class ArrivalRejectedError(Exception):
    """The arrival cannot be registered as given."""


@dataclass(frozen=True)
class PersonalData:
    """What identifies the person. It stays in the reception database; it never goes on Kafka."""

    given_names: str
    family_names: str
    date_of_birth: date
    document_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class RegisterArrival:
    """Command: register a returned person arriving at a reception centre."""

    person: PersonalData
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
    declared_vulnerabilities: frozenset[Vulnerability] = field(default_factory=frozenset)
    immediate_needs: tuple[ServiceCategory, ...] = ()
    manifest_ref: str | None = None


def age_at(birth: date, moment: date) -> int:
    """Completed years between ``birth`` and ``moment``."""
    years = moment.year - birth.year - ((moment.month, moment.day) < (birth.month, birth.day))
    if years < 0:
        raise ArrivalRejectedError("date_of_birth is after the arrival")
    return years


def vulnerabilities_of(cmd: RegisterArrival, age: int) -> list[Vulnerability]:
    """Declared vulnerabilities plus those that follow from age, company, disability and people."""
    flags = set(cmd.declared_vulnerabilities)
    if age < ADULT_AGE:
        if cmd.travelling_with_family:
            flags.add(Vulnerability.CHILD_IN_FAMILY)
        elif Vulnerability.SEPARATED_CHILD not in flags:
            flags.add(Vulnerability.UNACCOMPANIED_CHILD)
    if age >= OLDER_ADULT_AGE:
        flags.add(Vulnerability.OLDER_ADULT)
    if cmd.has_disability:
        flags.add(Vulnerability.DISABILITY)
    if cmd.indigenous_people:
        flags.add(Vulnerability.INDIGENOUS)
    return sorted(flags)


def immediate_needs_of(cmd: RegisterArrival, vulnerabilities: list[Vulnerability]) -> list[ServiceCategory]:
    """Needs to meet before the assessment: a child alone always needs the child-protection authority."""
    needs = list(dict.fromkeys(cmd.immediate_needs))
    if Vulnerability.UNACCOMPANIED_CHILD in vulnerabilities and ServiceCategory.CHILD_PROTECTION not in needs:
        needs.append(ServiceCategory.CHILD_PROTECTION)
    return needs
