"""The referral domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

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
from .sharing import HoldEverything, ShareEverything, SharingDecision, SharingPolicy

__all__ = [
    "ANSWER_TIMER",
    "LIFECYCLE",
    "REROUTE_TIMER",
    "Actor",
    "Agency",
    "AgencyFacts",
    "Candidate",
    "Channel",
    "DirectoryService",
    "HistoryEntry",
    "HoldEverything",
    "InvalidDirectoryEntryError",
    "Match",
    "NeedToRefer",
    "OfficeHours",
    "Profile",
    "Referral",
    "Routing",
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
