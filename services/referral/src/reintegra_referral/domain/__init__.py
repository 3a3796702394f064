"""The referral domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

from .consent import CONTACT_PURPOSE, SHARING_PURPOSES, CaseConsent, Grant, Scope
from .directory import (
    Agency,
    AgencyFacts,
    DirectoryService,
    InvalidDirectoryEntryError,
    OfficeHours,
    ServiceFacts,
)
from .matching import Candidate, Match, Profile, match
from .model import (
    ANSWER_TIMER,
    LIFECYCLE,
    REROUTE_TIMER,
    Actor,
    Channel,
    HistoryEntry,
    NeedToRefer,
    Referral,
    Routing,
    refusal_reason,
)
from .rules import add_working_hours, age_group, answer_by
from .sharing import ConsentPolicy, HoldEverything, ShareEverything, SharingDecision, SharingPolicy

__all__ = [
    "ANSWER_TIMER",
    "CONTACT_PURPOSE",
    "LIFECYCLE",
    "REROUTE_TIMER",
    "SHARING_PURPOSES",
    "Actor",
    "Agency",
    "AgencyFacts",
    "Candidate",
    "CaseConsent",
    "Channel",
    "ConsentPolicy",
    "DirectoryService",
    "Grant",
    "HistoryEntry",
    "HoldEverything",
    "InvalidDirectoryEntryError",
    "Match",
    "NeedToRefer",
    "OfficeHours",
    "Profile",
    "Referral",
    "Routing",
    "Scope",
    "ServiceFacts",
    "ShareEverything",
    "SharingDecision",
    "SharingPolicy",
    "add_working_hours",
    "age_group",
    "answer_by",
    "match",
    "refusal_reason",
]
