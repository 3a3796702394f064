"""What referral knows of a case's consents: a read model of reception's ``consent_recorded`` and
``consent_withdrawn`` (reception owns consent; referral enforces it where sharing happens). Pure: no I/O.

A consent (or a vital-interest override: a ``consent_recorded`` with ``basis=vital_interest`` and a
validity window) covers a request — a purpose, an agency, a service category — at a moment when

* the moment is inside its validity (``valid_from`` ≤ moment < ``valid_until``, if any),
* one of its scopes covers the request: the scope's purpose is the request's, its agencies are empty
  (any agency) or name the agency, its service categories are empty (every category) or contain the
  request's — a *kind* of agency is named through the category of service it offers,
* it was not withdrawn whole, and no scope withdrawn from it covers the request (a withdrawal "per
  purpose" removes exactly what its scopes cover).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from reintegra_contracts.codelists import ConsentBasis, ConsentPurpose, ServiceCategory
from reintegra_contracts.events.reception import ConsentRecorded, ConsentScope, ConsentWithdrawn

SHARING_PURPOSES = frozenset({ConsentPurpose.REFERRAL, ConsentPurpose.SHARE_WITH_PROVIDER})
"""Purposes under which a referral (the minimised view of the need) may be shared with an agency."""

CONTACT_PURPOSE = ConsentPurpose.CONTACT_BY_PROVIDER
"""The purpose under which an agency may obtain the person's contact details (via its reference)."""


@dataclass(frozen=True)
class Scope:
    """One purpose, for some agencies (empty: any) and service categories (empty: every one)."""

    purpose: ConsentPurpose
    categories: frozenset[ServiceCategory] = frozenset()
    agencies: frozenset[str] = frozenset()

    @classmethod
    def of(cls, scope: ConsentScope) -> Scope:
        return cls(scope.purpose, frozenset(scope.service_categories), frozenset(scope.agencies))

    def covers(self, purpose: ConsentPurpose, agency_id: str, category: ServiceCategory) -> bool:
        return (
            self.purpose is purpose
            and (not self.agencies or agency_id in self.agencies)
            and (not self.categories or category in self.categories)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "purpose": self.purpose.value,
            "categories": sorted(c.value for c in self.categories),
            "agencies": sorted(self.agencies),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Scope:
        categories = data.get("categories") or []
        agencies = data.get("agencies") or []
        assert isinstance(categories, list)
        assert isinstance(agencies, list)
        return cls(
            ConsentPurpose(str(data["purpose"])),
            frozenset(ServiceCategory(c) for c in categories),
            frozenset(str(a) for a in agencies),
        )


@dataclass(frozen=True)
class Grant:
    """One recorded consent or vital-interest override, with what was withdrawn from it."""

    consent_id: UUID
    case_id: UUID
    basis: ConsentBasis
    scopes: tuple[Scope, ...]
    valid_from: datetime
    valid_until: datetime | None
    recorded_at: datetime
    withdrawn: tuple[Scope, ...] = ()
    withdrawn_whole: bool = False
    withdrawn_at: datetime | None = None

    @classmethod
    def recorded(cls, event: ConsentRecorded) -> Grant:
        return cls(
            consent_id=event.consent_id,
            case_id=event.case_id,
            basis=event.basis,
            scopes=tuple(Scope.of(s) for s in event.scopes),
            valid_from=event.valid_from,
            valid_until=event.valid_until,
            recorded_at=event.recorded_at,
        )

    def withdraw(self, event: ConsentWithdrawn) -> Grant:
        """This consent after ``event`` (whole when it names no scope, else those scopes)."""
        if not event.scopes:
            return replace(self, withdrawn_whole=True, withdrawn_at=event.withdrawn_at)
        parts = tuple(dict.fromkeys((*self.withdrawn, *(Scope.of(s) for s in event.scopes))))
        return replace(self, withdrawn=parts, withdrawn_at=event.withdrawn_at)

    @property
    def vital_interest(self) -> bool:
        return self.basis is ConsentBasis.VITAL_INTEREST

    def valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)

    def covers(
        self, purposes: Iterable[ConsentPurpose], agency_id: str, category: ServiceCategory, at: datetime
    ) -> bool:
        if self.withdrawn_whole or not self.valid_at(at):
            return False
        return any(
            any(s.covers(p, agency_id, category) for s in self.scopes)
            and not any(w.covers(p, agency_id, category) for w in self.withdrawn)
            for p in purposes
        )


@dataclass(frozen=True)
class CaseConsent:
    """Every consent and override recorded for one case."""

    case_id: UUID
    grants: tuple[Grant, ...] = field(default=())

    def covering(
        self, purposes: Iterable[ConsentPurpose], agency_id: str, category: ServiceCategory, at: datetime
    ) -> Grant | None:
        """The grant that covers the request at ``at``: the person's own consent before an override,
        the latest recorded first; ``None`` when nothing covers it."""
        wanted = tuple(purposes)
        ordered = sorted(self.grants, key=lambda g: (g.vital_interest, -g.recorded_at.timestamp()))
        return next((g for g in ordered if g.covers(wanted, agency_id, category, at)), None)
