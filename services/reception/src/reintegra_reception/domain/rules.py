"""Rules of registration and screening: age, company, vulnerabilities, immediate needs, protection
concerns and who leads them. Pure: no I/O."""

from __future__ import annotations

from datetime import date
from typing import Final

from reintegra_contracts.codelists import (
    AgeGroup,
    ConcernType,
    Priority,
    ServiceCategory,
    Urgency,
    Vulnerability,
)

from .commands import ArrivalFacts, Relationship

ADULT_AGE = 18
OLDER_ADULT_AGE = 60

CHILD_PROTECTION_AUTHORITY: Final[dict[str, str]] = {
    "HN": "hn-senaf",  # Secretaría de la Niñez, Adolescencia y Familia
    "GT": "gt-pgn",  # Procuraduría General de la Nación (Procuraduría de la Niñez y la Adolescencia)
    "SV": "sv-conapina",  # Consejo Nacional de la Primera Infancia, Niñez y Adolescencia (formerly CONNA)
    "MX": "mx-dif",  # Sistema Nacional para el Desarrollo Integral de la Familia
}
"""The child-protection authority of each country of return (agency codes; sample data, verify locally).
It leads every concern about a child travelling alone or separated."""

DEFAULT_URGENCY: Final[dict[ConcernType, Urgency]] = {
    ConcernType.UNACCOMPANIED_CHILD: Urgency.IMMEDIATE,
    ConcernType.SEPARATED_CHILD: Urgency.IMMEDIATE,
    ConcernType.TRAFFICKING: Urgency.IMMEDIATE,
    ConcernType.THREAT_TO_LIFE: Urgency.IMMEDIATE,
    ConcernType.MEDICAL_EMERGENCY: Urgency.IMMEDIATE,
    ConcernType.MENTAL_HEALTH_EMERGENCY: Urgency.IMMEDIATE,
    ConcernType.GENDER_BASED_VIOLENCE: Urgency.WITHIN_24_HOURS,
    ConcernType.DISPLACEMENT_RISK: Urgency.WITHIN_24_HOURS,
}
"""Severity of each concern when the screener does not say otherwise; ``immediate`` is *critical*."""

CONCERN_SERVICE: Final[dict[ConcernType, ServiceCategory]] = {
    ConcernType.UNACCOMPANIED_CHILD: ServiceCategory.CHILD_PROTECTION,
    ConcernType.SEPARATED_CHILD: ServiceCategory.CHILD_PROTECTION,
    ConcernType.TRAFFICKING: ServiceCategory.PROTECTION,
    ConcernType.GENDER_BASED_VIOLENCE: ServiceCategory.PROTECTION,
    ConcernType.THREAT_TO_LIFE: ServiceCategory.PROTECTION,
    ConcernType.DISPLACEMENT_RISK: ServiceCategory.SHELTER,
    ConcernType.MEDICAL_EMERGENCY: ServiceCategory.HEALTH,
    ConcernType.MENTAL_HEALTH_EMERGENCY: ServiceCategory.MENTAL_HEALTH,
}
"""The service each concern is referred to at once."""

CONCERN_FLAG: Final[dict[ConcernType, Vulnerability]] = {
    ConcernType.UNACCOMPANIED_CHILD: Vulnerability.UNACCOMPANIED_CHILD,
    ConcernType.SEPARATED_CHILD: Vulnerability.SEPARATED_CHILD,
    ConcernType.TRAFFICKING: Vulnerability.SURVIVOR_OF_TRAFFICKING,
    ConcernType.GENDER_BASED_VIOLENCE: Vulnerability.SURVIVOR_OF_GBV,
    ConcernType.DISPLACEMENT_RISK: Vulnerability.DISPLACEMENT_RISK,
}

_GUARDIANS_OF_HEAD = frozenset({Relationship.PARENT})
_HEADS_CHILDREN = frozenset({Relationship.CHILD, Relationship.WARD})
_SEPARATING = frozenset(
    {
        Relationship.SIBLING,
        Relationship.GRANDCHILD,
        Relationship.OTHER_RELATIVE,
        Relationship.NOT_RELATED,
        Relationship.SPOUSE_OR_PARTNER,
    }
)


def age_at(birth: date, moment: date) -> int:
    """Completed years between ``birth`` and ``moment`` (negative if ``birth`` is later)."""
    return moment.year - birth.year - ((moment.month, moment.day) < (birth.month, birth.day))


def age_group_of(age: int) -> AgeGroup:
    for limit, group in ((5, AgeGroup.CHILD_0_5), (11, AgeGroup.CHILD_6_11), (17, AgeGroup.ADOLESCENT_12_17)):
        if age <= limit:
            return group
    return (
        AgeGroup.ADULT_18_29
        if age < 30
        else AgeGroup.ADULT_30_59
        if age < 60
        else AgeGroup.OLDER_ADULT_60_PLUS
    )


def child_company(
    relationship: Relationship | None,
    with_family: bool,
    adults_in_group: list[Relationship | None] | None = None,
) -> Vulnerability:
    """How a child travels: unaccompanied, separated (with adults none of whom is their parent or
    guardian) or in a family.

    ``relationship`` is the child's relationship to the group's head; ``adults_in_group`` the
    relationships of the group's adults when the whole group is known (a manifest), else ``None``.
    """
    if not with_family or adults_in_group == []:
        return Vulnerability.UNACCOMPANIED_CHILD
    if relationship in _SEPARATING:
        return Vulnerability.SEPARATED_CHILD
    if adults_in_group is not None:
        if relationship in _HEADS_CHILDREN and Relationship.HEAD not in adults_in_group:
            return Vulnerability.SEPARATED_CHILD  # the head (their parent or guardian) is not an adult here
        if relationship is Relationship.HEAD and not _GUARDIANS_OF_HEAD & set(adults_in_group):
            return Vulnerability.SEPARATED_CHILD
    return Vulnerability.CHILD_IN_FAMILY


def vulnerabilities_of(
    facts: ArrivalFacts, age: int, adults_in_group: list[Relationship | None] | None = None
) -> list[Vulnerability]:
    """Declared vulnerabilities plus those that follow from age, company, disability and people."""
    flags = set(facts.vulnerabilities)
    if age < ADULT_AGE:
        company = child_company(facts.relationship, facts.travelling_with_family, adults_in_group)
        if Vulnerability.SEPARATED_CHILD in flags:  # declared: with an adult who is not a guardian
            company = Vulnerability.SEPARATED_CHILD
        flags -= {
            Vulnerability.UNACCOMPANIED_CHILD,
            Vulnerability.SEPARATED_CHILD,
            Vulnerability.CHILD_IN_FAMILY,
        }
        flags.add(company)
    if age >= OLDER_ADULT_AGE:
        flags.add(Vulnerability.OLDER_ADULT)
    if facts.has_disability:
        flags.add(Vulnerability.DISABILITY)
    if facts.indigenous_people:
        flags.add(Vulnerability.INDIGENOUS)
    return sorted(flags)


def immediate_needs_of(facts: ArrivalFacts, vulnerabilities: list[Vulnerability]) -> list[ServiceCategory]:
    """Needs to meet before the assessment: a child alone or separated always needs the
    child-protection authority."""
    needs = list(dict.fromkeys(facts.immediate_needs))
    alone = {Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.SEPARATED_CHILD} & set(vulnerabilities)
    if alone and ServiceCategory.CHILD_PROTECTION not in needs:
        needs.append(ServiceCategory.CHILD_PROTECTION)
    return needs


def concerns_on_arrival(vulnerabilities: list[Vulnerability]) -> list[ConcernType]:
    """Concerns raised by registration itself, without waiting for the screening."""
    found = []
    if Vulnerability.UNACCOMPANIED_CHILD in vulnerabilities:
        found.append(ConcernType.UNACCOMPANIED_CHILD)
    if Vulnerability.SEPARATED_CHILD in vulnerabilities:
        found.append(ConcernType.SEPARATED_CHILD)
    return found


def lead_agency_of(concern: ConcernType, country: str | None) -> str | None:
    """Who leads a concern: the country's child-protection authority for a child alone or separated."""
    if concern in (ConcernType.UNACCOMPANIED_CHILD, ConcernType.SEPARATED_CHILD) and country:
        return CHILD_PROTECTION_AUTHORITY.get(country)
    return None


URGENT_PROTECTION: Final = frozenset(
    {
        Vulnerability.UNACCOMPANIED_CHILD,
        Vulnerability.SEPARATED_CHILD,
        Vulnerability.SURVIVOR_OF_TRAFFICKING,
        Vulnerability.SURVIVOR_OF_GBV,
        Vulnerability.DISPLACEMENT_RISK,
    }
)


def protection_priority(
    vulnerabilities: list[Vulnerability], immediate_needs: list[ServiceCategory]
) -> Priority:
    """How urgently the person needs protection and assessment, from every flag reception holds — what
    ``arrival_registered`` says instead of the special-category flags themselves (ADR 0080): urgent for
    a child alone or separated, a survivor of trafficking or gender-based violence, a risk of
    displacement; high for any other vulnerability or an immediate need; medium otherwise."""
    flags = set(vulnerabilities)
    if flags & URGENT_PROTECTION:
        return Priority.URGENT
    if flags or immediate_needs:
        return Priority.HIGH
    return Priority.MEDIUM
