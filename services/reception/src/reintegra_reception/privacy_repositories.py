"""Repositories of consent, contact references and case closures: they map to rows, nothing else.

Free-text notes of a consent (the child's words, an override's reasons) are sealed under the person's
data key like the rest of their personal data, so erasing the person makes them unreadable too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_contracts.codelists import (
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    OverrideJustification,
    ServiceCategory,
)
from reintegra_kit import jsontext
from reintegra_kit.clock import as_utc
from reintegra_kit.db import among, dialect_of, select_by
from sqlalchemy import bindparam, func, insert, or_, select, update

from .crypto import FieldCipher
from .domain.commands import ChildView, Scope
from .domain.consent import CaseConsent, ConsentRecord, RecordedBy, Withdrawal
from .domain.contact import ContactReference, ReferenceStatus
from .orm import case_closures, case_consents, consent_records, consent_withdrawals, contact_references
from .repository import _Bulk, _chunks


def _scopes_json(scopes: Sequence[Scope]) -> str:
    return jsontext.dumps(
        [
            {
                "purpose": s.purpose.value,
                "service_categories": sorted(c.value for c in s.service_categories),
                "agencies": sorted(s.agencies),
            }
            for s in scopes
        ]
    )


def _scopes(text: str) -> tuple[Scope, ...]:
    return tuple(
        Scope(
            ConsentPurpose(s["purpose"]),
            frozenset(ServiceCategory(c) for c in s["service_categories"]),
            frozenset(s["agencies"]),
        )
        for s in jsontext.loads(text)
    )


def _note_field(consent_id: UUID, name: str) -> str:
    return f"consent:{consent_id}:{name}"


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


class ConsentRepository(_Bulk):
    async def get(self, case_id: UUID) -> CaseConsent | None:
        head = (await self.session.execute(select_by(case_consents, "case_id"), {"case_id": case_id})).first()
        if head is None:
            return None
        returnee_id = UUID(str(head.returnee_id))
        consent = CaseConsent(case_id=case_id, returnee_id=returnee_id, version=head.version)
        rows = list(
            await self.session.execute(
                select_by(consent_records, "case_id", order_by=("recorded_at", "consent_id")),
                {"case_id": case_id},
            )
        )
        cipher = (await self.reception.data_keys.ciphers([returnee_id])).get(returnee_id)
        consent.records = [_record(r, cipher) for r in rows]
        for w in await self.session.execute(
            select_by(consent_withdrawals, "case_id", order_by=("withdrawn_at",)), {"case_id": case_id}
        ):
            withdrawal = Withdrawal(
                withdrawal_id=UUID(str(w.withdrawal_id)),
                consent_id=UUID(str(w.consent_id)),
                withdrawn_at=as_utc(w.withdrawn_at),
                withdrawn_by=ConsentGiver(w.withdrawn_by),
                purposes=frozenset(ConsentPurpose(p) for p in jsontext.loads(w.purposes)),
                recorded_by=RecordedBy(w.recorded_by_role, w.recorded_by_subject, w.recorded_by_agency),
            )
            consent.apply(withdrawal)
            consent.withdrawals.append(withdrawal)
        return consent

    async def save(self, consent: CaseConsent) -> None:
        """Insert the case's consent (or bump its version), its new records and withdrawals, and stage
        its events."""
        if consent.version == 0:
            await self.insert_versioned(
                case_consents, consent, {"case_id": consent.case_id, "returnee_id": consent.returnee_id}
            )
        else:
            await self.update_versioned(
                case_consents, {"case_id": consent.case_id}, consent, {"returnee_id": consent.returnee_id}
            )
        cipher: FieldCipher | None = None
        if any(r.child_view_note or r.justification_note for r in consent.records):
            cipher = await self.reception.data_keys.cipher(consent.returnee_id)
        await self.insert_ignoring(
            consent_records,
            [_record_row(consent.case_id, r, cipher) for r in consent.records],
            ["consent_id"],
        )
        await self.insert_ignoring(
            consent_withdrawals,
            [
                {
                    "withdrawal_id": w.withdrawal_id,
                    "case_id": consent.case_id,
                    "consent_id": w.consent_id,
                    "withdrawn_at": w.withdrawn_at,
                    "withdrawn_by": w.withdrawn_by.value,
                    "purposes": jsontext.dumps(sorted(p.value for p in w.purposes)),
                    "recorded_by_role": w.recorded_by.role,
                    "recorded_by_subject": w.recorded_by.subject,
                    "recorded_by_agency": w.recorded_by.agency,
                }
                for w in consent.withdrawals
            ],
            ["withdrawal_id"],
        )
        await self.publish_events(consent)

    async def overrides(
        self, limit: int, offset: int, *, notes: bool = False
    ) -> list[tuple[UUID, UUID, ConsentRecord]]:
        """Vital-interest overrides, newest first: (case, person, record), with their withdrawals
        applied; the notes only if asked (and readable: an erased person's are not)."""
        rows = list(
            await self.session.execute(
                select(consent_records.c.case_id, consent_records.c.consent_id)
                .where(consent_records.c.basis == ConsentBasis.VITAL_INTEREST.value)
                .order_by(consent_records.c.recorded_at.desc(), consent_records.c.consent_id)
                .limit(limit)
                .offset(offset)
            )
        )
        found = []
        for case_id, consent_id in rows:
            case = await self.get(UUID(str(case_id)))
            assert case is not None  # a record belongs to its case's consent (foreign key)
            record = case.get(UUID(str(consent_id)))
            if not notes:
                record.justification_note = None
            found.append((case.case_id, case.returnee_id, record))
        return found

    async def for_cases(self, case_ids: Sequence[UUID]) -> list[CaseConsent]:
        found = [await self.get(c) for c in case_ids]
        return [c for c in found if c is not None]


def _record_row(case_id: UUID, r: ConsentRecord, cipher: FieldCipher | None) -> dict[str, Any]:
    def seal(name: str, value: str | None) -> bytes | None:
        return cipher.encrypt(_note_field(r.consent_id, name), value) if cipher and value else None

    return {
        "consent_id": r.consent_id,
        "case_id": case_id,
        "basis": r.basis.value,
        "given_by": r.given_by.value,
        "method": r.method.value,
        "scopes": _scopes_json(r.scopes),
        "information_language": r.information_language,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "recorded_at": r.recorded_at,
        "recorded_by_role": r.recorded_by.role,
        "recorded_by_subject": r.recorded_by.subject,
        "recorded_by_agency": r.recorded_by.agency,
        "recorded_by_centre": r.recorded_by.centre,
        "child_view": r.child_view.value if r.child_view else None,
        "child_view_note_enc": seal("child_view_note", r.child_view_note),
        "justification": r.justification.value if r.justification else None,
        "justification_note_enc": seal("justification_note", r.justification_note),
    }


def _record(r: Any, cipher: FieldCipher | None) -> ConsentRecord:
    consent_id = UUID(str(r.consent_id))

    def open_(name: str, blob: bytes | None) -> str | None:
        return cipher.decrypt(_note_field(consent_id, name), blob) if cipher and blob is not None else None

    return ConsentRecord(
        consent_id=consent_id,
        basis=ConsentBasis(r.basis),
        given_by=ConsentGiver(r.given_by),
        method=ConsentMethod(r.method),
        scopes=_scopes(r.scopes),
        information_language=r.information_language,
        valid_from=as_utc(r.valid_from),
        valid_until=_aware(r.valid_until),
        recorded_at=as_utc(r.recorded_at),
        recorded_by=RecordedBy(
            r.recorded_by_role, r.recorded_by_subject, r.recorded_by_agency, r.recorded_by_centre
        ),
        child_view=ChildView(r.child_view) if r.child_view else None,
        child_view_note=open_("child_view_note", r.child_view_note_enc),
        justification=OverrideJustification(r.justification) if r.justification else None,
        justification_note=open_("justification_note", r.justification_note_enc),
    )


_OF_REFERRAL_OR_HASH = select(contact_references).where(
    or_(
        contact_references.c.referral_id == bindparam("referral_id"),
        contact_references.c.reference_hash == bindparam("reference_hash"),
    )
)


_REFERENCES_MEMO = "reception.contact_references_looked_up"
"""``uow.remembered`` key: a consumer batch's contact references, by referral id and by hash
(``None``: none), for the look-ups of its ``referral_requested`` events."""


@functools.cache
def _of_referrals_or_hashes(dialect: str) -> Any:
    return select(contact_references).where(
        or_(
            among(contact_references.c.referral_id, "referral_ids", dialect),
            among(contact_references.c.reference_hash, "hashes", dialect),
        )
    )


class ContactReferenceRepository(_Bulk):
    async def remember(self, looked_up: Sequence[tuple[UUID, str]]) -> None:
        """For a consumer batch: the references of these ``(referral id, hash)`` pairs, as
        :meth:`of_referral_or_hash` reads them, all in one statement. Found or not, each answer is
        remembered for the transaction (``uow.remembered``), and :meth:`save` keeps it true, so a
        later event of the batch sees what an earlier one wrote."""
        if not looked_up:
            return
        referral_ids = list(dict.fromkeys(referral_id for referral_id, _ in looked_up))
        hashes = list(dict.fromkeys(digest for _, digest in looked_up))
        rows = await self.session.execute(
            _of_referrals_or_hashes(dialect_of(self.session)),
            {"referral_ids": referral_ids, "hashes": hashes},
        )
        found = [_reference(r) for r in rows]
        by_referral = {ref.referral_id: ref for ref in found}
        by_hash = {ref.reference_hash: ref for ref in found}
        memo = self._uow.remembered.setdefault(_REFERENCES_MEMO, ({}, {}))
        memo[0].update({referral_id: by_referral.get(referral_id) for referral_id in referral_ids})
        memo[1].update({digest: by_hash.get(digest) for digest in hashes})

    async def by_hash(self, digest: str) -> ContactReference | None:
        row = (
            await self.session.execute(
                select_by(contact_references, "reference_hash"), {"reference_hash": digest}
            )
        ).first()
        return _reference(row) if row else None

    async def of_referral_or_hash(
        self, referral_id: UUID, digest: str
    ) -> tuple[ContactReference | None, ContactReference | None]:
        """In one statement: the reference of ``referral_id`` and the one whose hash is ``digest``
        (the same one, another referral's, or none). None when the batch read them (:meth:`remember`)."""
        memo = self._uow.remembered.get(_REFERENCES_MEMO)
        if memo is not None and referral_id in memo[0] and digest in memo[1]:
            return memo[0][referral_id], memo[1][digest]
        rows = [
            _reference(r)
            for r in await self.session.execute(
                _OF_REFERRAL_OR_HASH, {"referral_id": referral_id, "reference_hash": digest}
            )
        ]
        return (
            next((r for r in rows if r.referral_id == referral_id), None),
            next((r for r in rows if r.reference_hash == digest), None),
        )

    async def get(self, referral_id: UUID) -> ContactReference | None:
        row = (
            await self.session.execute(
                select_by(contact_references, "referral_id"), {"referral_id": referral_id}
            )
        ).first()
        return _reference(row) if row else None

    async def active_for_cases(self, case_ids: Sequence[UUID]) -> list[ContactReference]:
        found: list[ContactReference] = []
        for chunk in _chunks(list(case_ids)):
            rows = await self.session.execute(
                select(contact_references).where(
                    contact_references.c.case_id.in_(chunk),
                    contact_references.c.status == ReferenceStatus.ACTIVE.value,
                )
            )
            found.extend(_reference(r) for r in rows)
        return found

    async def for_cases(self, case_ids: Sequence[UUID]) -> list[ContactReference]:
        found: list[ContactReference] = []
        for chunk in _chunks(list(case_ids)):
            rows = await self.session.execute(
                select(contact_references).where(contact_references.c.case_id.in_(chunk))
            )
            found.extend(_reference(r) for r in rows)
        return found

    async def save(self, ref: ContactReference) -> None:
        values = {
            "referral_id": ref.referral_id,
            "reference_hash": ref.reference_hash,
            "case_id": ref.case_id,
            "agency_id": ref.agency_id,
            "category": ref.category.value,
            "expires_at": ref.expires_at,
            "status": ref.status.value,
            "status_reason": ref.status_reason,
            "issued_at": ref.issued_at,
            "updated_at": ref.updated_at,
        }
        if ref.version == 0:  # with the commit: a batch's new references in one statement
            await self.insert_versioned(contact_references, ref, values, later=True)
        else:
            values.pop("referral_id")
            await self.update_versioned(contact_references, {"referral_id": ref.referral_id}, ref, values)
        memo = self._uow.remembered.get(_REFERENCES_MEMO)
        if memo is not None:  # what remember() read stays true: this reference, under its hash now
            by_referral, by_hash = memo
            by_referral[ref.referral_id] = ref
            for digest, other in list(by_hash.items()):
                if other is not None and other.referral_id == ref.referral_id:
                    by_hash[digest] = None
            by_hash[ref.reference_hash] = ref


def _reference(r: Any) -> ContactReference:
    return ContactReference(
        referral_id=UUID(str(r.referral_id)),
        reference_hash=r.reference_hash,
        case_id=UUID(str(r.case_id)),
        agency_id=r.agency_id,
        category=ServiceCategory(r.category),
        expires_at=as_utc(r.expires_at),
        issued_at=as_utc(r.issued_at),
        updated_at=as_utc(r.updated_at),
        status=ReferenceStatus(r.status),
        status_reason=r.status_reason,
        version=r.version,
    )


class ClosureRepository(_Bulk):
    """Which cases follow-up closed (and when): the retention period runs from there."""

    async def set(self, case_id: UUID, closed_at: datetime | None, at: datetime) -> None:
        found = (
            await self.session.execute(select_by(case_closures, "case_id"), {"case_id": case_id})
        ).first()
        if found is None:
            await self.session.execute(
                insert(case_closures).values(case_id=case_id, closed_at=closed_at, updated_at=at)
            )
        elif as_utc(found.updated_at) <= at:
            await self.session.execute(
                update(case_closures)
                .where(case_closures.c.case_id == case_id)
                .values(closed_at=closed_at, updated_at=at)
            )

    async def count(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(case_closures))).scalar_one())
