"""Triage rules: who is seen first, and how urgent a case becomes. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

from reintegra_contracts.codelists import Priority, Urgency, Vulnerability

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


CONCERN_PRIORITY = {
    Urgency.IMMEDIATE: Priority.URGENT,
    Urgency.WITHIN_24_HOURS: Priority.HIGH,
    Urgency.WITHIN_72_HOURS: Priority.MEDIUM,
    Urgency.ROUTINE: Priority.LOW,
}
"""The priority a protection concern of each severity calls for."""


def escalated(
    priority: Priority, due: datetime, urgency: Urgency, now: datetime
) -> tuple[Priority, datetime]:
    """Priority and time of an assessment after a protection concern: never less urgent than before;
    at most as late as the concern's severity allows (a critical one: now)."""
    wanted = CONCERN_PRIORITY[urgency]
    new = overall_priority(priority, [wanted])
    latest = now + SCHEDULING_DELAY[wanted]
    return new, min(due, latest)
