"""Rules of registration: age, and the vulnerabilities and immediate needs that follow. Pure: no I/O."""

from __future__ import annotations

from datetime import date

from reintegra_contracts.codelists import ServiceCategory, Vulnerability

from .commands import ArrivalFacts

ADULT_AGE = 18
OLDER_ADULT_AGE = 60


def age_at(birth: date, moment: date) -> int:
    """Completed years between ``birth`` and ``moment`` (negative if ``birth`` is later)."""
    return moment.year - birth.year - ((moment.month, moment.day) < (birth.month, birth.day))


def vulnerabilities_of(facts: ArrivalFacts, age: int) -> list[Vulnerability]:
    """Declared vulnerabilities plus those that follow from age, company, disability and people."""
    flags = set(facts.vulnerabilities)
    if age < ADULT_AGE:
        if facts.travelling_with_family:
            flags.add(Vulnerability.CHILD_IN_FAMILY)
        elif Vulnerability.SEPARATED_CHILD not in flags:
            flags.add(Vulnerability.UNACCOMPANIED_CHILD)
    if age >= OLDER_ADULT_AGE:
        flags.add(Vulnerability.OLDER_ADULT)
    if facts.has_disability:
        flags.add(Vulnerability.DISABILITY)
    if facts.indigenous_people:
        flags.add(Vulnerability.INDIGENOUS)
    return sorted(flags)


def immediate_needs_of(facts: ArrivalFacts, vulnerabilities: list[Vulnerability]) -> list[ServiceCategory]:
    """Needs to meet before the assessment: a child alone always needs the child-protection authority."""
    needs = list(dict.fromkeys(facts.immediate_needs))
    if Vulnerability.UNACCOMPANIED_CHILD in vulnerabilities and ServiceCategory.CHILD_PROTECTION not in needs:
        needs.append(ServiceCategory.CHILD_PROTECTION)
    return needs
