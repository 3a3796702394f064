"""The one decision point on whether a referral may be shared with an agency. Pure: no I/O.

A referral goes to the agency (partner topic, HTTP inbox, webhook) only when :meth:`SharingPolicy.decide`
allows it; otherwise it waits in ``awaiting_consent``. The :class:`~.model.Referral` aggregate asks it,
with the case's consents (:class:`~.consent.CaseConsent`, a read model of reception's events) that the
handler loaded, and nothing else decides.

* :class:`ConsentPolicy` (the default, ``REINTEGRA_SHARING_POLICY=consent``): shared when a valid
  consent covers the agency and the purpose (``referral`` or ``share_with_provider``), or a valid
  vital-interest override does; the agency may resolve its contact reference at reception when a
  scope ``contact_by_provider`` covers it too.
* :class:`ShareEverything` (``share_all``): every referral is shared — never in production; only an
  explicit setting for trying referral without a reception that records consent (the local stack
  runs with ``consent``), and the policy of handler tests that are not about consent.
* :class:`HoldEverything`: nothing is shared (tests).

Each decision also fixes the contact reference's expiry (``REINTEGRA_CONTACT_REFERENCE_TTL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from reintegra_contracts.codelists import ServiceCategory

from .consent import CONTACT_PURPOSE, SHARING_PURPOSES, CaseConsent

DEFAULT_CONTACT_REFERENCE_TTL = timedelta(days=30)


@dataclass(frozen=True)
class SharingDecision:
    """Whether a referral may be shared now, on what basis, and the terms of its contact reference."""

    allowed: bool
    basis: str
    consent_id: UUID | None = None
    """The person's consent that allows it (``None`` under a vital-interest override)."""
    override_id: UUID | None = None
    """The vital-interest override that allows it, when no consent does."""
    contact_reference_allowed: bool = False
    contact_reference_expires_at: datetime | None = None


class SharingPolicy(Protocol):
    """Decides whether the referral of ``case_id``'s need (``category``) may go to ``agency_id`` at ``at``."""

    def decide(
        self,
        case_id: UUID,
        agency_id: str,
        category: ServiceCategory,
        consent: CaseConsent | None,
        at: datetime,
    ) -> SharingDecision: ...


@dataclass(frozen=True)
class ConsentPolicy:
    """Shared only under a valid consent — or vital-interest override — covering the agency and purpose."""

    contact_reference_ttl: timedelta = DEFAULT_CONTACT_REFERENCE_TTL

    def decide(
        self,
        case_id: UUID,
        agency_id: str,
        category: ServiceCategory,
        consent: CaseConsent | None,
        at: datetime,
    ) -> SharingDecision:
        grant = consent.covering(SHARING_PURPOSES, agency_id, category, at) if consent else None
        if grant is None:
            return SharingDecision(
                allowed=False,
                basis=f"no valid consent covers referral of {category.value} to {agency_id}",
            )
        contact = (
            consent is not None and consent.covering((CONTACT_PURPOSE,), agency_id, category, at) is not None
        )
        expires = at + self.contact_reference_ttl
        if grant.vital_interest:
            until = grant.valid_until.isoformat() if grant.valid_until else "withdrawn"
            return SharingDecision(
                allowed=True,
                basis=f"vital-interest override {grant.consent_id} (valid until {until})",
                override_id=grant.consent_id,
                contact_reference_allowed=contact,
                contact_reference_expires_at=expires,
            )
        return SharingDecision(
            allowed=True,
            basis=f"consent {grant.consent_id}",
            consent_id=grant.consent_id,
            contact_reference_allowed=contact,
            contact_reference_expires_at=expires,
        )


@dataclass(frozen=True)
class ShareEverything:
    """Every referral may be shared (``REINTEGRA_SHARING_POLICY=share_all``: never in production)."""

    contact_reference_ttl: timedelta = DEFAULT_CONTACT_REFERENCE_TTL

    def decide(
        self,
        case_id: UUID,
        agency_id: str,
        category: ServiceCategory,
        consent: CaseConsent | None,
        at: datetime,
    ) -> SharingDecision:
        return SharingDecision(
            allowed=True,
            basis="sharing policy share_all: consent is not checked",
            contact_reference_expires_at=at + self.contact_reference_ttl,
        )


class HoldEverything:
    """Shares nothing: every referral waits for consent (tests)."""

    def decide(
        self,
        case_id: UUID,
        agency_id: str,
        category: ServiceCategory,
        consent: CaseConsent | None,
        at: datetime,
    ) -> SharingDecision:
        return SharingDecision(allowed=False, basis="sharing policy holds every referral")
