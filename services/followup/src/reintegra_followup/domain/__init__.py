"""The follow-up domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

from .consent import ContactConsent, contact_stopped
from .model import DUE_TIMER, Followup, FollowupStatus

__all__ = ["DUE_TIMER", "ContactConsent", "Followup", "FollowupStatus", "contact_stopped"]
