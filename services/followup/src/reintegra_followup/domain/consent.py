"""Whether the person may still be contacted for follow-up: a read model of reception's
``consent_recorded`` / ``consent_withdrawn``, reduced to the purpose ``followup_contact``. Pure.

Follow-up contacts are scheduled as they always were; what a consent changes is when they **stop**: a
withdrawal that takes the purpose away — the whole consent, or a scope ``followup_contact`` — stops
the case's contacts, unless another valid consent (or vital-interest override) still covers that
purpose. A consent covering it, recorded later, lets new contacts be scheduled again; those cancelled
stay cancelled (a case worker decides whether to reach out again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from reintegra_contracts.codelists import ConsentPurpose
from reintegra_contracts.events.reception import ConsentRecorded, ConsentWithdrawn

CONTACT = ConsentPurpose.FOLLOWUP_CONTACT


@dataclass(frozen=True)
class ContactConsent:
    """One consent of a case, as far as follow-up contact goes."""

    consent_id: UUID
    case_id: UUID
    covers_contact: bool
    valid_from: datetime
    valid_until: datetime | None
    contact_withdrawn_at: datetime | None = None

    @classmethod
    def recorded(cls, event: ConsentRecorded) -> ContactConsent:
        return cls(
            consent_id=event.consent_id,
            case_id=event.case_id,
            covers_contact=any(s.purpose is CONTACT for s in event.scopes),
            valid_from=event.valid_from,
            valid_until=event.valid_until,
        )

    def withdraw(self, event: ConsentWithdrawn) -> ContactConsent:
        """After ``event``: contact is withdrawn if the whole consent is, or a scope for it."""
        if not event.scopes or any(s.purpose is CONTACT for s in event.scopes):
            return replace(self, contact_withdrawn_at=event.withdrawn_at)
        return self

    def allows_contact(self, at: datetime) -> bool:
        return (
            self.covers_contact
            and self.contact_withdrawn_at is None
            and self.valid_from <= at
            and (self.valid_until is None or at < self.valid_until)
        )


def contact_stopped(consents: Iterable[ContactConsent], at: datetime) -> bool:
    """Whether the case's follow-up contacts must stop: the person withdrew contact and no valid
    consent recorded since (or alongside) allows it."""
    known = list(consents)
    withdrawn = any(c.contact_withdrawn_at is not None for c in known)
    return withdrawn and not any(c.allows_contact(at) for c in known)
