"""The one decision point on whether a referral may be shared with an agency. Pure: no I/O.

A referral goes to the agency (partner topic, HTTP inbox, webhook) only when :meth:`SharingPolicy.decide`
allows it; otherwise it waits in ``awaiting_consent``. The :class:`~.model.Referral` aggregate asks it,
and nothing else decides.

Until consent is recorded by the consent feature (issue 11), the service runs with
:class:`ShareEverything`: every referral may be shared. The consent feature replaces the policy (and
passes the case's consent read model as ``consent``) without touching the aggregate or the handlers:
a consent covering the agency and the purpose allows; no consent, or a withdrawn one, holds the
referral; a withdrawal cancels the pending referrals (``Referral.cancel(CONSENT_WITHDRAWN, …)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from reintegra_contracts.codelists import ServiceCategory


@dataclass(frozen=True)
class SharingDecision:
    """Whether a referral may be shared now, and on what basis."""

    allowed: bool
    basis: str
    consent_id: UUID | None = None
    contact_reference_allowed: bool = False


class SharingPolicy(Protocol):
    """Decides whether the referral of ``case_id``'s need may go to ``agency_id``."""

    def decide(
        self, case_id: UUID, agency_id: str, category: ServiceCategory, consent: Any | None = None
    ) -> SharingDecision: ...


class ShareEverything:
    """The policy until consent is recorded (issue 11): every referral may be shared."""

    def decide(
        self, case_id: UUID, agency_id: str, category: ServiceCategory, consent: Any | None = None
    ) -> SharingDecision:
        return SharingDecision(allowed=True, basis="no consent model yet: every referral may be shared")


class HoldEverything:
    """Shares nothing: every referral waits for consent (tests, and a safe default to switch to)."""

    def decide(
        self, case_id: UUID, agency_id: str, category: ServiceCategory, consent: Any | None = None
    ) -> SharingDecision:
        return SharingDecision(allowed=False, basis="no recorded consent covers this agency")
