"""Triage rules: who is seen first, and how urgent a case becomes. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

from reintegra_contracts.codelists import Priority, Vulnerability

URGENT_FLAGS = frozenset(
    {
        Vulnerability.UNACCOMPANIED_CHILD,
        Vulnerability.SEPARATED_CHILD,
        Vulnerability.SURVIVOR_OF_TRAFFICKING,
        Vulnerability.SURVIVOR_OF_GBV,
        Vulnerability.DISPLACEMENT_RISK,
    }
)

SCHEDULING_DELAY = {
    Priority.URGENT: timedelta(0),
    Priority.HIGH: timedelta(days=1),
    Priority.MEDIUM: timedelta(days=3),
    Priority.LOW: timedelta(days=7),
}
"""How long after arrival an assessment takes place, by priority."""

PRIORITY_ORDER = [Priority.URGENT, Priority.HIGH, Priority.MEDIUM, Priority.LOW]


def triage(vulnerabilities: list[Vulnerability], immediate_needs: int) -> Priority:
    """Priority of a new case: children alone, trafficking, GBV and displacement are urgent."""
    flags = set(vulnerabilities)
    if flags & URGENT_FLAGS:
        return Priority.URGENT
    if flags or immediate_needs:
        return Priority.HIGH
    return Priority.MEDIUM


def scheduled_for(arrived_at: datetime, priority: Priority) -> datetime:
    return arrived_at + SCHEDULING_DELAY[priority]


def overall_priority(case_priority: Priority, need_priorities: list[Priority]) -> Priority:
    """The most urgent of the case's triage and its needs."""
    return min([case_priority, *need_priorities], key=PRIORITY_ORDER.index)
