"""The referral domain: pure — no I/O, no framework (see docs/where-does-x-go.md)."""

from .directory import DirectoryService, match, respond_by
from .model import Referral, ReferralStatus

__all__ = ["DirectoryService", "Referral", "ReferralStatus", "match", "respond_by"]
