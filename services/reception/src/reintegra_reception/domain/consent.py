"""Consent: what a person agreed to share, with whom and for what, who gave it, and when sharing may go
ahead without it (a vital-interest override). Pure: no I/O (docs/adr/0071-consent-and-contact-references.md).

A case has one :class:`CaseConsent`: the consents recorded on it (``consent_recorded``), each a set of
scopes (purpose x service categories x agencies), and their withdrawals (``consent_withdrawn``),
whole or per purpose. What the case allows at a moment is the union of the scopes of the records
valid then and not withdrawn. A vital-interest override is a record too (``basis=vital_interest``),
time-limited, justified by a code and by the professional's own words (kept here only).

The rules of who may give consent, follow the IOM's standard operating procedures and the Honduran
protocol for children: an adult consents for themself (or through a legal representative); a child's
consent is given by a parent or guardian — not when the child travels without one — or by the
country's child-protection authority, and the child's own view is recorded with it; a child alone
may only agree to the assessment and to protection services. Only a mental-health professional or a
protection officer may record an override.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    OverrideJustification,
    ServiceCategory,
    StaffRole,
)
from reintegra_contracts.events.reception import ConsentRecorded, ConsentScope, ConsentWithdrawn
from reintegra_kit.domain import AggregateRoot, ConflictError, DomainError, ForbiddenError, NotFoundError

from .commands import Actor, ChildView, RecordConsent, RecordOverride, Scope, WithdrawConsent
from .rules import ADULT_AGE, CHILD_PROTECTION_AUTHORITY

RECORDING_ROLES: Final = (
    "protection_officer",
    "mental_health_professional",
    "case_worker",
    "reception_officer",
)
"""Roles that record a person's consent and its withdrawal (the first held is the one acted as)."""

OVERRIDE_ROLES: Final = ("mental_health_professional", "protection_officer")
"""The only roles that may record a vital-interest override (the IOM SOPs: life at risk, assessed by a
mental-health professional; the protection authorities act for children and survivors)."""

STAFF_ROLE: Final[dict[str, StaffRole]] = {
    "reception_officer": StaffRole.RECEPTION_OFFICER,
    "case_worker": StaffRole.CASE_WORKER,
    "protection_officer": StaffRole.PROTECTION_OFFICER,
    "mental_health_professional": StaffRole.MENTAL_HEALTH_PROFESSIONAL,
}
"""Access-policy roles as the published language names them."""

SHARING_PURPOSES: Final = frozenset(
    {ConsentPurpose.REFERRAL, ConsentPurpose.SHARE_WITH_PROVIDER, ConsentPurpose.CONTACT_BY_PROVIDER}
)
"""Purposes about sharing with agencies: the only ones a scope may narrow to categories and agencies,
and the only ones an override allows."""

PROTECTION_SERVICES: Final = frozenset({ServiceCategory.CHILD_PROTECTION, ServiceCategory.PROTECTION})
"""What a child alone may agree to be referred to (and contacted for) without a guardian."""

CHILD_ALONE_PURPOSES: Final = SHARING_PURPOSES | {ConsentPurpose.ASSESSMENT}

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
NOTE_MAX = 2000
OVERRIDE_NOTE_MIN = 20
"""An override's note must say something: at least this many characters."""


class ConsentRefusedError(DomainError):
    """The consent cannot be recorded as given (who gave it, what it covers, or when)."""

    code = "consent-refused"
    title = "The consent cannot be recorded as given"


class OverrideRefusedError(ForbiddenError):
    """The actor may not record a vital-interest override."""

    code = "override-refused"
    title = "Not allowed to record a vital-interest override"


class ConsentStatus(enum.StrEnum):
    ACTIVE = "active"
    PARTLY_WITHDRAWN = "partly_withdrawn"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ConsentSubject:
    """What the consent rules need to know of the case's person (from the case; pure values)."""

    case_id: UUID
    returnee_id: UUID
    age: int
    travelling_alone: bool
    """A child unaccompanied or separated: no parent or guardian travels with them."""
    country: str | None

    @property
    def is_child(self) -> bool:
        return self.age < ADULT_AGE

    @property
    def child_protection_authority(self) -> str | None:
        return CHILD_PROTECTION_AUTHORITY.get(self.country or "")


@dataclass(frozen=True)
class RecordedBy:
    """Who recorded a change: role acted as, subject, agency and centre from the token."""

    role: str
    subject: str
    agency: str | None = None
    centre: str | None = None

    @classmethod
    def of(cls, actor: Actor, role: str) -> RecordedBy:
        return cls(role, actor.subject, actor.agency, actor.centre)


@dataclass
class ConsentRecord:
    """One consent (or override) as recorded, and what has been withdrawn of it since."""

    consent_id: UUID
    basis: ConsentBasis
    given_by: ConsentGiver
    method: ConsentMethod
    scopes: tuple[Scope, ...]
    information_language: str
    valid_from: datetime
    valid_until: datetime | None
    recorded_at: datetime
    recorded_by: RecordedBy
    child_view: ChildView | None = None
    child_view_note: str | None = None
    justification: OverrideJustification | None = None
    justification_note: str | None = None
    withdrawn_at: datetime | None = None
    """When the whole record was withdrawn."""
    withdrawn_purposes: dict[ConsentPurpose, datetime] = field(default_factory=dict)

    @property
    def is_override(self) -> bool:
        return self.basis is ConsentBasis.VITAL_INTEREST

    def expired(self, at: datetime) -> bool:
        return self.valid_until is not None and at >= self.valid_until

    def active_scopes(self, at: datetime) -> tuple[Scope, ...]:
        """The scopes that hold at ``at`` (none once withdrawn whole, expired, or not yet valid)."""
        if self.withdrawn_at is not None or self.expired(at) or at < self.valid_from:
            return ()
        return tuple(s for s in self.scopes if s.purpose not in self.withdrawn_purposes)

    def status(self, at: datetime) -> ConsentStatus:
        if self.withdrawn_at is not None:
            return ConsentStatus.WITHDRAWN
        if self.expired(at):
            return ConsentStatus.EXPIRED
        if self.withdrawn_purposes:
            return ConsentStatus.PARTLY_WITHDRAWN
        return ConsentStatus.ACTIVE


@dataclass(frozen=True)
class Withdrawal:
    withdrawal_id: UUID
    consent_id: UUID
    withdrawn_at: datetime
    withdrawn_by: ConsentGiver
    purposes: frozenset[ConsentPurpose]
    """Empty: the whole consent."""
    recorded_by: RecordedBy


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's consent history."""

    at: datetime
    action: str
    """recorded, override_recorded, withdrawn, expired"""
    consent_id: UUID
    basis: ConsentBasis
    given_by: ConsentGiver
    purposes: tuple[ConsentPurpose, ...]
    recorded_by_role: str | None


@dataclass(eq=False)
class CaseConsent(AggregateRoot):
    """The consents of one case and their withdrawals."""

    case_id: UUID
    returnee_id: UUID
    records: list[ConsentRecord] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    version: int = 0

    # -- recording --------------------------------------------------------------------------------

    def record_consent(self, cmd: RecordConsent, subject: ConsentSubject, now: datetime) -> ConsentRecord:
        """Record a consent after checking who gave it and what it covers (``consent_recorded``)."""
        role = cmd.actor.acting_as(RECORDING_ROLES)
        if role is None:
            raise ForbiddenError(
                f"consent is recorded by {', '.join(RECORDING_ROLES)}; your roles: {_roles(cmd.actor)}"
            )
        _check_scopes(cmd.scopes)
        _check_language(cmd.information_language)
        _check_until(cmd.valid_until, now)
        _check_giver(cmd, subject, role)
        _check_child_view(cmd, subject)
        record = ConsentRecord(
            consent_id=uuid4(),
            basis=ConsentBasis.CONSENT,
            given_by=cmd.given_by,
            method=cmd.method,
            scopes=_unique(cmd.scopes),
            information_language=cmd.information_language,
            valid_from=now,
            valid_until=cmd.valid_until,
            recorded_at=now,
            recorded_by=RecordedBy.of(cmd.actor, role),
            child_view=cmd.child_view,
            child_view_note=(cmd.child_view_note or None),
        )
        self._add(record)
        return record

    def record_override(
        self, cmd: RecordOverride, subject: ConsentSubject, now: datetime, max_validity: timedelta
    ) -> ConsentRecord:
        """Record a vital-interest override (``consent_recorded`` with ``basis=vital_interest``; the
        event carries the justification code, never the note)."""
        role = cmd.actor.acting_as(OVERRIDE_ROLES)
        if role is None:
            raise OverrideRefusedError(
                "a vital-interest override may be recorded only by a mental-health professional or a "
                f"protection officer; your roles: {_roles(cmd.actor)}"
            )
        _check_scopes(cmd.scopes)
        others = sorted({s.purpose.value for s in cmd.scopes if s.purpose not in SHARING_PURPOSES})
        if others:
            raise ConsentRefusedError(
                "an override allows only referral, sharing with the provider and contact by the provider "
                f"(the person's life is at risk), not {', '.join(others)}"
            )
        note = cmd.note.strip()
        if len(note) < OVERRIDE_NOTE_MIN:
            raise ConsentRefusedError(
                f"note: say why the person's life is at risk and why consent cannot be obtained (at least "
                f"{OVERRIDE_NOTE_MIN} characters); it stays in reception's database"
            )
        if len(note) > NOTE_MAX:
            raise ConsentRefusedError(f"note: at most {NOTE_MAX} characters")
        _check_until(cmd.valid_until, now)
        if cmd.valid_until > now + max_validity:
            raise ConsentRefusedError(
                f"an override lasts at most {_duration(max_validity)}: set valid_until no later than "
                f"{(now + max_validity).isoformat()}, and record a new one if the risk persists"
            )
        record = ConsentRecord(
            consent_id=uuid4(),
            basis=ConsentBasis.VITAL_INTEREST,
            given_by=ConsentGiver.NOT_GIVEN,
            method=ConsentMethod.PROFESSIONAL_ASSESSMENT,
            scopes=_unique(cmd.scopes),
            information_language="und",
            valid_from=now,
            valid_until=cmd.valid_until,
            recorded_at=now,
            recorded_by=RecordedBy.of(cmd.actor, role),
            justification=cmd.justification,
            justification_note=note,
        )
        self._add(record)
        return record

    def _add(self, record: ConsentRecord) -> None:
        self.records.append(record)
        self.record(
            ConsentRecorded(
                case_id=self.case_id,
                consent_id=record.consent_id,
                returnee_id=self.returnee_id,
                recorded_at=record.recorded_at,
                basis=record.basis,
                given_by=record.given_by,
                method=record.method,
                scopes=[_published(s) for s in record.scopes],
                valid_from=record.valid_from,
                valid_until=record.valid_until,
                recorded_by_role=STAFF_ROLE[record.recorded_by.role],
                information_language=record.information_language,  # "und" for an override: nobody was informed
                override_justification=record.justification,
            )
        )

    # -- withdrawal ---------------------------------------------------------------------------------

    def withdraw(self, cmd: WithdrawConsent, subject: ConsentSubject, now: datetime) -> list[Withdrawal]:
        """Withdraw a consent, or every active consent of the case, whole or for some purposes
        (``consent_withdrawn`` per consent)."""
        role = cmd.actor.acting_as(RECORDING_ROLES)
        if role is None:
            raise ForbiddenError(
                f"a withdrawal is recorded by {', '.join(RECORDING_ROLES)}; your roles: {_roles(cmd.actor)}"
            )
        _check_withdrawer(cmd.withdrawn_by, subject)
        if cmd.consent_id is not None:
            found = self.get(cmd.consent_id)
            if found.is_override and cmd.actor.acting_as(OVERRIDE_ROLES) is None:
                raise OverrideRefusedError(
                    "an override is ended only by a mental-health professional or a protection officer"
                )
            targets = [found]
        else:
            targets = [r for r in self.records if not r.is_override and r.active_scopes(now)]
        active = [r for r in targets if r.active_scopes(now)]
        if not active:
            which = f"consent {cmd.consent_id} is" if cmd.consent_id else "no consent of this case is"
            raise ConflictError(f"{which} active (withdrawn or expired before): nothing to withdraw")
        by = RecordedBy.of(cmd.actor, role)
        done = []
        for record in active:
            held = {s.purpose for s in record.active_scopes(now)}
            purposes = frozenset(cmd.purposes & held) if cmd.purposes else frozenset()
            if cmd.purposes and not purposes:
                if cmd.consent_id is None:
                    continue  # another consent of the case covers them
                missing = ", ".join(sorted(p.value for p in cmd.purposes))
                raise ConflictError(f"consent {record.consent_id} does not cover {missing} (any more)")
            whole = not purposes or purposes >= held
            withdrawal = Withdrawal(uuid4(), record.consent_id, now, cmd.withdrawn_by, purposes, by)
            self.apply(withdrawal, whole=whole)
            self.withdrawals.append(withdrawal)
            done.append(withdrawal)
            self.record(
                ConsentWithdrawn(
                    case_id=self.case_id,
                    consent_id=record.consent_id,
                    returnee_id=self.returnee_id,
                    withdrawn_at=now,
                    withdrawn_by=cmd.withdrawn_by,
                    scopes=[] if whole else [_published(s) for s in record.scopes if s.purpose in purposes],
                )
            )
        if not done:
            missing = ", ".join(sorted(p.value for p in cmd.purposes))
            raise ConflictError(f"no active consent of this case covers {missing}: nothing to withdraw")
        return done

    def apply(self, withdrawal: Withdrawal, *, whole: bool | None = None) -> None:
        """Apply a withdrawal to its record (also when a case's consent is loaded)."""
        record = self.get(withdrawal.consent_id)
        if whole is None:
            remaining = {s.purpose for s in record.scopes} - set(record.withdrawn_purposes)
            whole = not withdrawal.purposes or withdrawal.purposes >= remaining
        if whole:
            record.withdrawn_at = withdrawal.withdrawn_at
        for purpose in withdrawal.purposes:
            record.withdrawn_purposes.setdefault(purpose, withdrawal.withdrawn_at)

    # -- questions ----------------------------------------------------------------------------------

    def get(self, consent_id: UUID) -> ConsentRecord:
        for r in self.records:
            if r.consent_id == consent_id:
                return r
        raise NotFoundError(f"consent {consent_id} not found on case {self.case_id}")

    def covering(
        self,
        purpose: ConsentPurpose,
        at: datetime,
        agency: str | None = None,
        category: ServiceCategory | None = None,
    ) -> ConsentRecord | None:
        """The record that allows ``purpose`` (for that agency and category) at ``at``: a consent
        first, else an override; None if nothing does."""
        allowing = [
            r for r in self.records if any(s.covers(purpose, agency, category) for s in r.active_scopes(at))
        ]
        allowing.sort(key=lambda r: (r.is_override, r.recorded_at))
        return allowing[0] if allowing else None

    def why_not(
        self,
        purpose: ConsentPurpose,
        at: datetime,
        agency: str | None = None,
        category: ServiceCategory | None = None,
    ) -> str:
        """Why nothing covers ``purpose`` at ``at``: withdrawn, expired, or never given (no personal data)."""
        what = (
            f"{purpose.value}"
            + (f" by {agency}" if agency else "")
            + (f" ({category.value})" if category else "")
        )
        once = [r for r in self.records if any(s.covers(purpose, agency, category) for s in r.scopes)]
        for r in sorted(once, key=lambda r: r.recorded_at, reverse=True):
            if r.withdrawn_at is not None or purpose in r.withdrawn_purposes:
                when = r.withdrawn_at or r.withdrawn_purposes[purpose]
                return f"the consent that allowed {what} was withdrawn on {when.isoformat()}"
            if r.expired(at) and r.valid_until is not None:
                kind = "override" if r.is_override else "consent"
                return f"the {kind} that allowed {what} expired on {r.valid_until.isoformat()}"
        return f"no consent of this case allows {what}"

    def history(self, at: datetime) -> list[HistoryEntry]:
        """Every change, oldest first: recorded, overridden, withdrawn, expired (up to ``at``)."""
        entries: list[HistoryEntry] = []
        for r in self.records:
            purposes = tuple(dict.fromkeys(s.purpose for s in r.scopes))
            action = "override_recorded" if r.is_override else "recorded"
            entries.append(
                HistoryEntry(
                    r.recorded_at, action, r.consent_id, r.basis, r.given_by, purposes, r.recorded_by.role
                )
            )
            if r.valid_until is not None and r.valid_until <= at:
                withdrawn_before = r.withdrawn_at is not None and r.withdrawn_at <= r.valid_until
                if not withdrawn_before:
                    entries.append(
                        HistoryEntry(
                            r.valid_until, "expired", r.consent_id, r.basis, r.given_by, purposes, None
                        )
                    )
        for w in self.withdrawals:
            r = self.get(w.consent_id)
            purposes = tuple(sorted(w.purposes)) or tuple(dict.fromkeys(s.purpose for s in r.scopes))
            entries.append(
                HistoryEntry(
                    w.withdrawn_at,
                    "withdrawn",
                    w.consent_id,
                    r.basis,
                    w.withdrawn_by,
                    purposes,
                    w.recorded_by.role,
                )
            )
        entries.sort(key=lambda e: (e.at, e.action != "recorded"))
        return entries

    def current_scopes(self, at: datetime) -> list[tuple[ConsentRecord, Scope]]:
        """What the case allows at ``at``: each active scope with the record it comes from."""
        return [(r, s) for r in self.records for s in r.active_scopes(at)]


# -- rules -------------------------------------------------------------------------------------------


def _roles(actor: Actor) -> str:
    return ", ".join(sorted(actor.roles)) or "none"


def _duration(d: timedelta) -> str:
    hours = int(d.total_seconds() // 3600)
    return f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours"


def _unique(scopes: tuple[Scope, ...]) -> tuple[Scope, ...]:
    return tuple(dict.fromkeys(scopes))


def _published(scope: Scope) -> ConsentScope:
    return ConsentScope(
        purpose=scope.purpose,
        service_categories=sorted(scope.service_categories),
        agencies=sorted(scope.agencies),
    )


def _check_scopes(scopes: tuple[Scope, ...]) -> None:
    if not scopes:
        raise ConsentRefusedError("scopes: say what the consent covers (at least one purpose)")
    for scope in scopes:
        if (scope.service_categories or scope.agencies) and scope.purpose not in SHARING_PURPOSES:
            raise ConsentRefusedError(
                f"scopes: {scope.purpose.value} is not about sharing with agencies; only referral, "
                "share_with_provider and contact_by_provider name service categories or agencies"
            )


def _check_language(tag: str) -> None:
    if not _LANGUAGE.fullmatch(tag):
        raise ConsentRefusedError(f"information_language {tag!r} is not a BCP 47 tag (e.g. es, en, mam)")


def _check_until(valid_until: datetime | None, now: datetime) -> None:
    if valid_until is not None and valid_until <= now:
        raise ConsentRefusedError("valid_until is not in the future")


def _check_giver(cmd: RecordConsent, subject: ConsentSubject, role: str) -> None:
    giver = cmd.given_by
    if giver is ConsentGiver.NOT_GIVEN:
        raise ConsentRefusedError(
            "given_by not_given is a vital-interest override: record it as an override "
            "(a mental-health professional or a protection officer, with a justification)"
        )
    if not subject.is_child:
        if giver not in (ConsentGiver.SELF, ConsentGiver.LEGAL_REPRESENTATIVE):
            raise ConsentRefusedError(
                f"the person is an adult ({subject.age}): they consent themself (given_by self) or "
                f"through a legal representative, not {giver.value}"
            )
        return
    age = f"the person is a child ({subject.age})"
    if giver is ConsentGiver.SELF:
        beyond = [s for s in cmd.scopes if not _child_alone_may(s, subject)]
        if beyond:
            what = ", ".join(_describe(s) for s in beyond)
            raise ConsentRefusedError(
                f"{age}: a child cannot consent alone to {what}; a parent or guardian, or the "
                "child-protection authority, gives that consent, and the child's own view is recorded "
                "with it (a child alone may agree only to the assessment and to protection services)"
            )
    elif giver is ConsentGiver.GUARDIAN and subject.travelling_alone:
        authority = subject.child_protection_authority or "the child-protection authority"
        raise ConsentRefusedError(
            f"{age} and travels without a parent or guardian: the consent of the child-protection "
            f"authority ({authority}) is needed, not a guardian's"
        )
    elif giver is ConsentGiver.CHILD_PROTECTION_AUTHORITY and role != "protection_officer":
        raise ConsentRefusedError(
            "the child-protection authority's consent is recorded by its protection officer "
            f"(you act as {role})"
        )


def _child_alone_may(scope: Scope, subject: ConsentSubject) -> bool:
    if scope.purpose not in CHILD_ALONE_PURPOSES:
        return False
    if scope.purpose is ConsentPurpose.ASSESSMENT:
        return True
    authority = subject.child_protection_authority
    protective_categories = bool(scope.service_categories) and scope.service_categories <= PROTECTION_SERVICES
    protective_agencies = not scope.agencies or (authority is not None and scope.agencies <= {authority})
    return protective_categories and protective_agencies


def _describe(scope: Scope) -> str:
    parts = [scope.purpose.value]
    if scope.service_categories:
        parts.append("for " + "/".join(sorted(c.value for c in scope.service_categories)))
    else:
        parts.append("for any service" if scope.purpose in SHARING_PURPOSES else "")
    if scope.agencies:
        parts.append("with " + "/".join(sorted(scope.agencies)))
    return " ".join(p for p in parts if p)


def _check_child_view(cmd: RecordConsent, subject: ConsentSubject) -> None:
    if not subject.is_child:
        if cmd.child_view is not None or cmd.child_view_note:
            raise ConsentRefusedError(
                "child_view: the person is an adult; a child's view is recorded only for a child"
            )
        return
    if cmd.given_by is not ConsentGiver.SELF and cmd.child_view is None:
        raise ConsentRefusedError(
            f"child_view: the person is a child ({subject.age}); record their own view of this consent "
            "(agrees, disagrees, no_opinion, or not_able_to_express)"
        )
    if cmd.child_view_note and len(cmd.child_view_note) > NOTE_MAX:
        raise ConsentRefusedError(f"child_view_note: at most {NOTE_MAX} characters")


def _check_withdrawer(giver: ConsentGiver, subject: ConsentSubject) -> None:
    if giver is ConsentGiver.NOT_GIVEN:
        raise ConsentRefusedError("withdrawn_by: name who withdraws (the person, a guardian, the authority)")
    if not subject.is_child and giver not in (ConsentGiver.SELF, ConsentGiver.LEGAL_REPRESENTATIVE):
        raise ConsentRefusedError(
            f"the person is an adult ({subject.age}): they withdraw themself or through a legal "
            f"representative, not {giver.value}"
        )
