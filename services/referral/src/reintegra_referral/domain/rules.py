"""Pure rules of the referral service: working hours, answer-by times, age bands. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reintegra_contracts.codelists import AgeGroup, Priority

from .directory import ALWAYS_OPEN, AgencyFacts, OfficeHours, ServiceFacts

URGENT_RESPONSE = timedelta(hours=4)
"""An urgent need is answered within four hours of the clock, office hours or not."""

_MAX_DAYS = 400


def add_working_hours(start: datetime, hours: float, schedule: Sequence[OfficeHours], tz: str) -> datetime:
    """``start`` plus ``hours`` of the agency's office hours (in its time zone), as a UTC-aware time.

    Time outside the office hours does not count: 2 working hours asked at 15:00 of an office open
    08:00-16:00 end at 09:00 the next working day. An empty schedule means always open.
    """
    zone = ZoneInfo(tz)
    intervals = schedule or ALWAYS_OPEN
    remaining = timedelta(hours=hours)
    local = start.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    for _ in range(_MAX_DAYS):
        windows = sorted(h.minutes() for h in intervals if day.isoweekday() in h.days)
        for opens, closes in windows:
            window_start = (day + timedelta(minutes=opens)).replace(tzinfo=zone)
            window_end = (day + timedelta(minutes=closes)).replace(tzinfo=zone)
            begin = max(window_start, local)
            if begin >= window_end:
                continue
            available = window_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("office hours leave no working time within a year")


def answer_by(now: datetime, agency: AgencyFacts, service: ServiceFacts, priority: Priority) -> datetime:
    """When the agency must answer a referral: its response time (the service's own if it has one) in
    its working hours; an urgent need at most four hours later, whatever the office hours."""
    hours = service.response_time_hours or agency.response_time_hours
    due = add_working_hours(now, hours, agency.office_hours, agency.timezone)
    if priority is Priority.URGENT:
        due = min(due, now + URGENT_RESPONSE)
    return due


def age_group(age: int) -> AgeGroup:
    """The age band shown to agencies instead of the age."""
    if age <= 5:
        return AgeGroup.CHILD_0_5
    if age <= 11:
        return AgeGroup.CHILD_6_11
    if age <= 17:
        return AgeGroup.ADOLESCENT_12_17
    if age <= 29:
        return AgeGroup.ADULT_18_29
    if age <= 59:
        return AgeGroup.ADULT_30_59
    return AgeGroup.OLDER_ADULT_60_PLUS
