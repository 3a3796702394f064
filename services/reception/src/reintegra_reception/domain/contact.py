"""Contact references: how an agency reaches a person without contact data ever travelling. Pure.

Referral gives each referral an opaque, expiring ``contact_reference`` (a random token) on its
``referral_requested`` event and on the agency's minimised view. Reception keeps a read model of those
events — reference (as a hash) → case, referral, agency, service category, expiry, and whether the
referral is still active — and resolves a reference into the person's name and phone only for the
agency it was sent to, while the referral is active and the reference has not expired, and only when
the case's consent (or a vital-interest override) covers contact by that agency
(docs/adr/0071-consent-and-contact-references.md). Every attempt is written to the audit log.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from reintegra_contracts.codelists import ServiceCategory
from reintegra_kit.domain import AggregateRoot, DomainError, ForbiddenError, Lifecycle, NotFoundError


class ReferenceStatus(enum.StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    """The referral ended (rejected, cancelled, completed, failed)."""
    REVOKED = "revoked"
    """Reception revoked it (consent withdrawn, person erased)."""


LIFECYCLE: Lifecycle[ReferenceStatus] = Lifecycle(
    "contact reference", {ReferenceStatus.ACTIVE: {ReferenceStatus.CLOSED, ReferenceStatus.REVOKED}}
)


class UnknownContactReferenceError(NotFoundError):
    code = "contact-reference-unknown"
    title = "Unknown contact reference"


class ContactReferenceOfAnotherAgencyError(ForbiddenError):
    code = "contact-reference-of-another-agency"
    title = "The contact reference was issued to another agency"


class ContactReferenceGoneError(DomainError):
    """The reference resolved once but no longer does: expired, referral over, or revoked."""

    http_status = 410
    code = "contact-reference-gone"
    title = "The contact reference no longer resolves"


class ContactNotAllowedError(ForbiddenError):
    code = "contact-not-consented"
    title = "The person's consent does not allow this contact"


def reference_hash(reference: str) -> str:
    """What reception stores of a reference: its SHA-256 (the reference is random, so a hash cannot be
    reversed by guessing, and a copy of the database gives no usable reference)."""
    return hashlib.sha256(reference.encode()).hexdigest()


@dataclass(eq=False)
class ContactReference(AggregateRoot):
    """One referral's contact reference, as reception follows it from referral's events."""

    referral_id: UUID
    reference_hash: str
    case_id: UUID
    agency_id: str
    category: ServiceCategory
    expires_at: datetime
    issued_at: datetime
    updated_at: datetime
    status: ReferenceStatus = ReferenceStatus.ACTIVE
    status_reason: str | None = None
    version: int = 0

    def reissue(self, reference: str, expires_at: datetime, at: datetime) -> None:
        """The same referral announced again with a (possibly new) reference: follow it while active."""
        if self.status is ReferenceStatus.ACTIVE:
            self.reference_hash = reference_hash(reference)
            self.expires_at = expires_at
            self.updated_at = at

    def moved_to(self, case_id: UUID, at: datetime) -> None:
        """Referral re-keyed the referral onto another case (a merge)."""
        self.case_id = case_id
        self.updated_at = at

    def end(self, reason: str, at: datetime) -> None:
        """The referral ended (or was cancelled): the reference stops resolving. Idempotent."""
        if self.status is ReferenceStatus.ACTIVE:
            self.status = LIFECYCLE.check(self.status, ReferenceStatus.CLOSED, "close")
            self.status_reason = reason
            self.updated_at = at

    def revoke(self, reason: str, at: datetime) -> bool:
        """Reception stops it resolving (consent withdrawn, person erased); whether it was active."""
        if self.status is not ReferenceStatus.ACTIVE:
            return False
        self.status = LIFECYCLE.check(self.status, ReferenceStatus.REVOKED, "be revoked")
        self.status_reason = reason
        self.updated_at = at
        return True

    def check(self, agency: str | None, now: datetime) -> None:
        """Refuse, with the reason, a lookup by ``agency`` at ``now`` (the consent is checked apart)."""
        if agency is None or agency != self.agency_id:
            raise ContactReferenceOfAnotherAgencyError(
                f"this contact reference was issued to another agency; your agency: {agency or 'none in your token'}"
            )
        if self.status is ReferenceStatus.REVOKED:
            raise ContactReferenceGoneError(f"the contact reference was revoked ({self.status_reason})")
        if self.status is ReferenceStatus.CLOSED:
            raise ContactReferenceGoneError(f"the referral is no longer active ({self.status_reason})")
        if now >= self.expires_at:
            raise ContactReferenceGoneError(f"the contact reference expired on {self.expires_at.isoformat()}")
