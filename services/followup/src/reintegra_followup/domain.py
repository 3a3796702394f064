"""The follow-up domain: when each contact falls due. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

from reintegra_contracts.events.followup import FollowupReason


def due_after_arrival(arrived_at: datetime, first_after: timedelta) -> datetime:
    return arrived_at + first_after


def due_after_referral(requested_at: datetime, check_after: timedelta) -> datetime:
    return requested_at + check_after


REASONS = tuple(FollowupReason)
