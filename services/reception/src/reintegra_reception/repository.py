"""Reception's unit of work and repositories: they map to rows, nothing else.

Bulk operations (a manifest) use one statement per table, not one per row. Candidate search reads
``identity_keys`` by equality on its primary key (indexed), never scanning ``returnees``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid4

from reintegra_contracts import Event
from reintegra_contracts.codelists import (
    AgeGroup,
    ConcernType,
    ImmediateAssistance,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit import jsontext
from reintegra_kit.auth import RecordFilter, RecordScope, visible
from reintegra_kit.clock import as_utc
from reintegra_kit.db import (
    Database,
    dialect_of,
    insert_ignoring,
    insert_many_or_ignore,
    plain_insert,
    rows_among,
    select_by,
)
from reintegra_kit.outbox import Outbox
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import Table, bindparam, delete, func, select, update

from .crypto import DataKeyDestroyedError, FieldCipher, ReceptionKeys, WrappedKey
from .domain import (
    Announcement,
    Assistance,
    Case,
    CaseStatus,
    Concern,
    DuplicateReview,
    PersonalData,
    Returnee,
    ReviewStatus,
)
from .domain.contact import reference_hash
from .domain.model import AnnouncedPersonRecord
from .orm import (
    announced_person_keys,
    announced_persons,
    announcements,
    assistance,
    cases,
    identity_keys,
    manifest_lines,
    person_keys,
    protection_concerns,
    returnees,
    reviews,
    travel_groups,
)

if TYPE_CHECKING:
    from .audit import AuditLog
    from .privacy_repositories import ClosureRepository, ConsentRepository, ContactReferenceRepository

CHUNK = 500
"""Values per ``IN (…)`` or multi-row statement (well under SQLite's and asyncpg's limits)."""


# The statements of the registration path, built once (docs/adr/0024-statements-built-once.md).
_CANDIDATES = select(identity_keys.c.key, identity_keys.c.returnee_id).where(
    identity_keys.c.key.in_(bindparam("keys", expanding=True))
)
_EXPECTED_BETWEEN = (
    select(announced_persons.c.announcement_id)
    .join(
        announced_person_keys,
        announced_person_keys.c.announced_person_id == announced_persons.c.announced_person_id,
    )
    .join(announcements, announcements.c.announcement_id == announced_persons.c.announcement_id)
    .where(
        announced_person_keys.c.key.in_(bindparam("keys", expanding=True)),
        announced_persons.c.case_id.is_(None),
        announcements.c.expected_arrival_at.between(bindparam("start"), bindparam("end")),
    )
)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Bulk(Repository):
    @property
    def reception(self) -> ReceptionUnitOfWork:
        """The unit of work, as reception's (its keys and data-key cache)."""
        return cast("ReceptionUnitOfWork", self._uow)

    async def insert_ignoring(self, table: Table, rows: list[dict[str, Any]], conflict: list[str]) -> None:
        """Insert ``rows``, skipping those whose ``conflict`` columns exist already."""
        statement = insert_ignoring(dialect_of(self.session), table, tuple(conflict))
        for chunk in _chunks(rows, 200):
            await self.session.execute(statement, chunk)


_KNOWN_CASES = "reception.known_cases"
"""``uow.remembered`` key: the cases of a consumer batch that reception registered."""


class CaseRepository(_Bulk):
    async def claim_manifest_lines(self, claims: dict[str, UUID]) -> set[str]:
        """Claim manifest lines for new cases; return the refs claimed now. A line registered before
        (or being registered by another transaction, which this then waits for) is not claimed."""
        claimed: set[str] = set()
        items = list(claims.items())
        for chunk in _chunks(items, 200):
            rows = [{"manifest_ref": ref, "case_id": case_id} for ref, case_id in chunk]
            claimed.update(
                await insert_many_or_ignore(
                    self.session, manifest_lines, rows, ["manifest_ref"], "manifest_ref"
                )
            )
        return claimed

    async def by_manifest_refs(self, refs: Sequence[str]) -> dict[str, Case]:
        found: dict[str, Case] = {}
        for chunk in _chunks(list(refs)):
            rows = await self.session.execute(
                select(cases, manifest_lines.c.manifest_ref.label("line_ref"))
                .join(manifest_lines, manifest_lines.c.case_id == cases.c.case_id)
                .where(manifest_lines.c.manifest_ref.in_(chunk))
            )
            for r in rows:
                found[r.line_ref] = _case(r)
        return found

    async def exists(self, case_id: UUID) -> bool:
        """Whether reception registered ``case_id`` (erased or merged cases included: their rows stay)."""
        known = self._uow.remembered.get(_KNOWN_CASES)
        if known is not None and case_id in known:
            return True  # a case's row is never deleted: known once, known for the transaction
        found = await self.session.execute(
            select_by(cases, "case_id", columns=("case_id",)), {"case_id": case_id}
        )
        return found.first() is not None

    async def remember_known(self, case_ids: Sequence[UUID]) -> None:
        """Read which of ``case_ids`` reception registered, in one statement, for :meth:`exists` to
        answer from for the rest of the transaction (a consumer batch's: ADR 0031). Only the cases
        found are remembered: a case's row is never deleted, so a case found stays known, while one
        not found may be registered meanwhile and is read again when asked."""
        rows = await rows_among(self.session, cases, "case_id", set(case_ids), ("case_id",))
        self._uow.remembered.setdefault(_KNOWN_CASES, set()).update(UUID(str(row.case_id)) for row in rows)

    async def scope(self, case_id: UUID) -> RecordScope | None:
        """Whose record the case is (its reception centre and country), without loading the case."""
        row = (
            await self.session.execute(
                select_by(cases, "case_id", columns=("reception_centre", "country_of_return")),
                {"case_id": case_id},
            )
        ).first()
        return RecordScope(centre=row.reception_centre, country=row.country_of_return) if row else None

    async def get(self, case_id: UUID, *, with_history: bool = True) -> Case | None:
        """The case; ``with_history=False`` leaves out its assistance and protection concerns (two
        statements fewer, for rules that need only the case's facts: consent)."""
        key = {"case_id": case_id}
        row = (await self.session.execute(select_by(cases, "case_id"), key)).first()
        if row is None:
            return None
        case = _case(row)
        if not with_history:
            return case
        case.assistance = [
            _assistance(r)
            for r in await self.session.execute(
                select_by(assistance, "case_id", order_by=("provided_at",)), key
            )
        ]
        case.concerns = [
            _concern(r)
            for r in await self.session.execute(
                select_by(protection_concerns, "case_id", order_by=("raised_at",)), key
            )
        ]
        return case

    async def for_returnee(self, returnee_id: UUID) -> list[Case]:
        rows = await self.session.execute(
            select(cases).where(cases.c.returnee_id == returnee_id).order_by(cases.c.arrived_at)
        )
        return [_case(r) for r in rows]

    async def arrivals_of(self, returnee_ids: Sequence[UUID]) -> dict[UUID, list[tuple[UUID, datetime]]]:
        """The registered (not merged) cases of each returnee: (case id, arrival), oldest first."""
        found: dict[UUID, list[tuple[UUID, datetime]]] = {}
        for chunk in _chunks(list(returnee_ids)):
            rows = await self.session.execute(
                select(cases.c.returnee_id, cases.c.case_id, cases.c.arrived_at)
                .where(cases.c.returnee_id.in_(chunk), cases.c.status == CaseStatus.REGISTERED.value)
                .order_by(cases.c.arrived_at)
            )
            for r in rows:
                found.setdefault(UUID(str(r.returnee_id)), []).append(
                    (UUID(str(r.case_id)), as_utc(r.arrived_at))
                )
        return found

    async def travel_groups(self, refs: Sequence[str]) -> dict[str, UUID]:
        """The pseudonymous id of each family/travel group, created on first use (safe when members of
        one family are registered at the same moment)."""
        if not refs:
            return {}
        await self.insert_ignoring(
            travel_groups,
            [{"family_group_ref": r, "travel_group_id": uuid4()} for r in sorted(set(refs))],
            ["family_group_ref"],
        )
        found: dict[str, UUID] = {}
        for chunk in _chunks(sorted(set(refs))):
            rows = await self.session.execute(
                select(travel_groups).where(travel_groups.c.family_group_ref.in_(chunk))
            )
            found.update({r.family_group_ref: UUID(str(r.travel_group_id)) for r in rows})
        return found

    async def travel_group(self, family_group_ref: str) -> UUID:
        return (await self.travel_groups([family_group_ref]))[family_group_ref]

    async def group_sizes(self, group_ids: Sequence[UUID]) -> dict[UUID, int]:
        """How many registered cases each travel group has so far."""
        found: dict[UUID, int] = {}
        for chunk in _chunks(list(set(group_ids))):
            rows = await self.session.execute(
                select(cases.c.travel_group_id, func.count())
                .where(cases.c.travel_group_id.in_(chunk), cases.c.status == CaseStatus.REGISTERED.value)
                .group_by(cases.c.travel_group_id)
            )
            found.update({UUID(str(g)): int(n) for g, n in rows})
        return found

    async def page(self, limit: int, offset: int, visible_to: RecordFilter | None = None) -> list[Case]:
        rows = await self.session.execute(
            select(cases)
            .where(visible(visible_to, centre=cases.c.reception_centre, country=cases.c.country_of_return))
            .order_by(cases.c.registered_at, cases.c.case_id)
            .limit(limit)
            .offset(offset)
        )
        return [_case(r) for r in rows]

    async def for_announcement(self, announcement_id: UUID) -> list[Case]:
        rows = await self.session.execute(
            select(cases).where(cases.c.announcement_id == announcement_id).order_by(cases.c.registered_at)
        )
        return [_case(r) for r in rows]

    async def add_many(self, new: Sequence[Case], manifest_refs: dict[UUID, str] | None = None) -> None:
        """Insert new cases (one statement per table), then stage their events in order."""
        refs = manifest_refs or {}
        if not new:
            return
        await self.session.execute(
            plain_insert(cases), [{**_row(c), "manifest_ref": refs.get(c.case_id), "version": 1} for c in new]
        )
        await self._children(new)
        for case in new:
            case.version = 1
        self._uow.case_is_new(*(case.case_id for case in new))  # their trace: this one, unread
        await self.publish_events(*new)

    async def save(self, case: Case) -> None:
        """Update a loaded case (optimistic), add its new assistance and concerns, stage its events."""
        values = _row(case)
        await self.update_versioned(cases, {"case_id": values.pop("case_id")}, case, values)
        await self._children([case])
        await self.publish_events(case)

    async def _children(self, changed: Sequence[Case]) -> None:
        given = [
            {
                "assistance_id": a.assistance_id,
                "case_id": c.case_id,
                "provided_at": a.provided_at,
                "items": jsontext.dumps([i.value for i in a.items]),
                "provided_by": a.provided_by,
            }
            for c in changed
            for a in c.assistance
        ]
        raised = [
            {
                "concern_id": k.concern_id,
                "case_id": c.case_id,
                "concern_type": k.concern_type.value,
                "urgency": k.urgency.value,
                "raised_at": k.raised_at,
                "raised_by_role": k.raised_by_role.value,
                "lead_agency": k.lead_agency,
                "service_category": k.service_category.value if k.service_category else None,
            }
            for c in changed
            for k in c.concerns
        ]
        if given:
            await self.insert_ignoring(assistance, given, ["assistance_id"])
        if raised:
            await self.insert_ignoring(protection_concerns, raised, ["concern_id"])


class DataKeyRepository(_Bulk):
    """The people's data keys, stored wrapped under the key-encryption key (``crypto.py``).

    Unwrapped keys live only in memory, for one unit of work. A destroyed key (erasure) cannot be
    brought back: its person's fields no longer decrypt anywhere.
    """

    def generate(
        self, owners: Sequence[tuple[UUID, datetime]]
    ) -> tuple[dict[UUID, FieldCipher], list[dict[str, Any]]]:
        """New data keys for new people (``(returnee id, created at)``): their ciphers, and the rows
        (wrapped keys) that :meth:`store` writes once the people's rows exist."""
        ring = self.reception.keys.ring
        rows, made = [], {}
        for owner, created_at in owners:
            data_key = ring.new_data_key()
            wrapped = ring.wrap(data_key, owner)
            rows.append(
                {
                    "returnee_id": owner,
                    "kek_id": wrapped.kek_id,
                    "wrapped_key": wrapped.blob,
                    "created_at": created_at,
                }
            )
            made[owner] = FieldCipher(data_key, owner)
        self.reception.ciphers.update(made)
        return made, rows

    async def store(self, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows, 200):
            await self.session.execute(plain_insert(person_keys), list(chunk))

    async def ciphers(self, owners: Iterable[UUID]) -> dict[UUID, FieldCipher]:
        """The field ciphers of ``owners`` whose data key still exists (an erased person has none)."""
        cache = self.reception.ciphers
        wanted = sorted({o for o in owners if o not in cache}, key=str)
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(person_keys.c.returnee_id, person_keys.c.kek_id, person_keys.c.wrapped_key).where(
                    person_keys.c.returnee_id.in_(chunk), person_keys.c.wrapped_key.is_not(None)
                )
            )
            for owner, kek_id, blob in rows:
                rid = UUID(str(owner))
                key = self.reception.keys.ring.unwrap(WrappedKey(kek_id, bytes(blob)), rid)
                cache[rid] = FieldCipher(key, rid)
        return {o: cache[o] for o in owners if o in cache}

    async def cipher(self, owner: UUID) -> FieldCipher:
        """The field cipher of one person; :class:`DataKeyDestroyedError` once erased."""
        found = await self.ciphers([owner])
        if owner not in found:
            raise DataKeyDestroyedError(f"the data key of {owner} was destroyed (erased) or never existed")
        return found[owner]

    async def destroy(self, owners: Sequence[UUID], now: datetime) -> None:
        """Crypto-shredding: forget the wrapped data keys of ``owners`` for good."""
        for chunk in _chunks(list(owners)):
            await self.session.execute(
                update(person_keys)
                .where(person_keys.c.returnee_id.in_(chunk))
                .values(wrapped_key=None, kek_id=None, destroyed_at=now)
            )
        for owner in owners:
            self.reception.ciphers.pop(owner, None)

    async def not_under_current(self, limit: int) -> list[tuple[UUID, WrappedKey]]:
        """Up to ``limit`` living data keys wrapped under another KEK than the current one."""
        rows = await self.session.execute(
            select(person_keys.c.returnee_id, person_keys.c.kek_id, person_keys.c.wrapped_key)
            .where(
                person_keys.c.wrapped_key.is_not(None),
                person_keys.c.kek_id != self.reception.keys.ring.current_id,
            )
            .order_by(person_keys.c.returnee_id)
            .limit(limit)
        )
        return [(UUID(str(o)), WrappedKey(k, bytes(b))) for o, k, b in rows]

    async def replace(self, owner: UUID, before: WrappedKey, after: WrappedKey) -> bool:
        """Store ``after`` in place of ``before`` (false if the row changed meanwhile)."""
        result = await self.session.execute(
            update(person_keys)
            .where(person_keys.c.returnee_id == owner, person_keys.c.kek_id == before.kek_id)
            .values(kek_id=after.kek_id, wrapped_key=after.blob)
        )
        return bool(getattr(result, "rowcount", 0))

    async def count_by_kek(self) -> dict[str, int]:
        """How many data keys each KEK wraps (``destroyed``: erased people)."""
        rows = await self.session.execute(
            select(person_keys.c.kek_id, func.count()).group_by(person_keys.c.kek_id)
        )
        return {(k or "destroyed"): int(n) for k, n in rows}


_SEALED_FIELDS = ("given_names", "family_names", "date_of_birth", "document_number", "phone")


def _seal(cipher: FieldCipher, person: PersonalData) -> dict[str, bytes | None]:
    return {
        "given_names_enc": cipher.encrypt("given_names", person.given_names),
        "family_names_enc": cipher.encrypt("family_names", person.family_names),
        "date_of_birth_enc": cipher.encrypt("date_of_birth", person.date_of_birth.isoformat()),
        "document_number_enc": cipher.encrypt("document_number", person.document_number),
        "phone_enc": cipher.encrypt("phone", person.phone),
    }


def _open(cipher: FieldCipher, row: Any) -> PersonalData:
    values = {name: cipher.decrypt(name, getattr(row, f"{name}_enc")) for name in _SEALED_FIELDS}
    return PersonalData(
        given_names=values["given_names"] or "",
        family_names=values["family_names"] or "",
        date_of_birth=date.fromisoformat(values["date_of_birth"] or ""),
        document_number=values["document_number"],
        phone=values["phone"],
    )


class ReturneeRepository(_Bulk):
    """Personal data: only here, never on Kafka, encrypted field by field under each person's data
    key. Its blind indexes live in ``identity_keys``."""

    async def add_many(self, new: Sequence[Returnee], keys: dict[UUID, frozenset[str]]) -> None:
        """Insert new people (their data sealed under new data keys) and the blind indexes that find
        them and the people already known (a known person's new spelling)."""
        if not new:
            await self.add_keys(keys)
            return
        ciphers, wrapped = self.reception.data_keys.generate([(r.returnee_id, r.created_at) for r in new])
        await self.session.execute(
            plain_insert(returnees),
            [
                {
                    "returnee_id": r.returnee_id,
                    **_seal(ciphers[r.returnee_id], r.data),
                    "sex": r.sex.value,
                    "created_at": r.created_at,
                }
                for r in new
            ],
        )
        await self.reception.data_keys.store(wrapped)
        await self.add_keys(keys)

    async def add_keys(self, keys: dict[UUID, frozenset[str]]) -> None:
        """Make ``keys`` find each returnee (a key met again changes nothing)."""
        rows = [{"key": k, "returnee_id": rid} for rid, ks in keys.items() for k in sorted(ks)]
        await self.insert_ignoring(identity_keys, rows, ["key", "returnee_id"])

    async def candidates(self, keys: Iterable[str], limit_per_key: int) -> dict[str, list[UUID]]:
        """The returnees each key finds (equality on the indexed key; at most ``limit_per_key`` each)."""
        found: dict[str, list[UUID]] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = await self.session.execute(_CANDIDATES, {"keys": list(chunk)})
            for key, returnee_id in rows:
                bucket = found.setdefault(key, [])
                if len(bucket) < limit_per_key:
                    bucket.append(UUID(str(returnee_id)))
        return found

    async def get_many(self, ids: Sequence[UUID], country_of: dict[UUID, str]) -> dict[UUID, Returnee]:
        """The people ``ids``, their data decrypted (``person`` is None for an erased person)."""
        found: dict[UUID, Returnee] = {}
        for chunk in _chunks(sorted(set(ids), key=str)):
            rows = list(
                await self.session.execute(select(returnees).where(returnees.c.returnee_id.in_(chunk)))
            )
            ciphers = await self.reception.data_keys.ciphers(
                [UUID(str(r.returnee_id)) for r in rows if r.erased_at is None]
            )
            for r in rows:
                rid = UUID(str(r.returnee_id))
                cipher = ciphers.get(rid)
                found[rid] = Returnee(
                    returnee_id=rid,
                    person=_open(cipher, r) if cipher is not None else None,
                    sex=Sex(r.sex),
                    country=country_of.get(rid, ""),
                    created_at=as_utc(r.created_at),
                    merged_into=UUID(str(r.merged_into)) if r.merged_into else None,
                    erased_at=as_utc(r.erased_at) if r.erased_at else None,
                )
        return found

    async def get(self, returnee_id: UUID) -> Returnee | None:
        return (await self.get_many([returnee_id], {})).get(returnee_id)

    async def merged_into(self, returnee_id: UUID) -> list[UUID]:
        """The records merged into ``returnee_id`` (the same person registered twice)."""
        rows = await self.session.execute(
            select(returnees.c.returnee_id).where(returnees.c.merged_into == returnee_id)
        )
        return [UUID(str(r[0])) for r in rows]

    async def erase(self, returnee: Returnee, merged: Sequence[UUID]) -> None:
        """Crypto-shred an erased person and the records merged into theirs: destroy the data keys,
        forget the blind indexes, mark them erased; stage ``returnee_erased``."""
        assert returnee.erased_at is not None, "call Returnee.erase first"
        now = returnee.erased_at
        ids = [returnee.returnee_id, *merged]
        await self.reception.data_keys.destroy(ids, now)
        for chunk in _chunks(ids):
            await self.session.execute(delete(identity_keys).where(identity_keys.c.returnee_id.in_(chunk)))
            await self.session.execute(
                update(returnees).where(returnees.c.returnee_id.in_(chunk)).values(erased_at=now)
            )
        await self.publish_events(returnee)

    async def sealed_row(self, returnee_id: UUID) -> dict[str, bytes | None] | None:
        """The stored ciphertexts of one person, as they are (erasure tests: still there, unreadable)."""
        row = (
            await self.session.execute(select(returnees).where(returnees.c.returnee_id == returnee_id))
        ).first()
        if row is None:
            return None
        return {name: getattr(row, f"{name}_enc") for name in _SEALED_FIELDS}

    async def without_keys(self, limit: int) -> list[Returnee]:
        """Returnees registered before identity keys existed (none of their keys is stored)."""
        keyed = select(identity_keys.c.returnee_id).where(
            identity_keys.c.returnee_id == returnees.c.returnee_id
        )
        rows = await self.session.execute(
            select(returnees.c.returnee_id, func.max(cases.c.country_of_return))
            .join(cases, cases.c.returnee_id == returnees.c.returnee_id, isouter=True)
            .where(~keyed.exists(), returnees.c.merged_into.is_(None), returnees.c.erased_at.is_(None))
            .group_by(returnees.c.returnee_id)
            .limit(limit)
        )
        countries = {UUID(str(rid)): country or "" for rid, country in rows}
        return list((await self.get_many(list(countries), countries)).values())

    async def merge(self, merged: UUID, surviving: UUID) -> None:
        """Merge a returnee record into another: its keys now find the surviving record."""
        rows = await self.session.execute(
            select(identity_keys.c.key).where(identity_keys.c.returnee_id == merged)
        )
        await self.add_keys({surviving: frozenset(r[0] for r in rows)})
        await self.session.execute(delete(identity_keys).where(identity_keys.c.returnee_id == merged))
        await self.session.execute(
            update(returnees).where(returnees.c.returnee_id == merged).values(merged_into=surviving)
        )


class AnnouncementRepository(_Bulk):
    async def get(self, announcement_id: UUID) -> Announcement | None:
        row = (
            await self.session.execute(
                select(announcements).where(announcements.c.announcement_id == announcement_id)
            )
        ).first()
        if row is None:
            return None
        persons = list(
            await self.session.execute(
                select(announced_persons)
                .where(announced_persons.c.announcement_id == announcement_id)
                .order_by(announced_persons.c.position)
            )
        )
        ids = [r.announced_person_id for r in persons]
        keys: dict[UUID, set[str]] = {}
        for chunk in _chunks(ids):
            for key, pid in await self.session.execute(
                select(announced_person_keys.c.key, announced_person_keys.c.announced_person_id).where(
                    announced_person_keys.c.announced_person_id.in_(chunk)
                )
            ):
                keys.setdefault(UUID(str(pid)), set()).add(key)
        return _announcement(
            row, [_announced(p, frozenset(keys.get(UUID(str(p.announced_person_id)), ()))) for p in persons]
        )

    async def expected_between(self, start: datetime, end: datetime, keys: Iterable[str]) -> list[UUID]:
        """Announcements expected in ``[start, end]`` with a person whose sure key is among ``keys``."""
        wanted = sorted(set(keys))
        if not wanted:
            return []
        found: set[UUID] = set()
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                _EXPECTED_BETWEEN, {"keys": list(chunk), "start": start, "end": end}
            )
            found.update(UUID(str(r[0])) for r in rows)
        return sorted(found)

    async def page(
        self, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[Announcement]:
        where = visible(
            visible_to, centre=announcements.c.reception_centre, country=announcements.c.country_of_return
        )
        rows = await self.session.execute(
            select(announcements.c.announcement_id)
            .where(where)
            .order_by(announcements.c.expected_arrival_at.desc(), announcements.c.announcement_id)
            .limit(limit)
            .offset(offset)
        )
        found = [await self.get(UUID(str(r[0]))) for r in rows]
        return [a for a in found if a is not None]

    async def add(self, a: Announcement) -> None:
        values = {
            "announcement_id": a.announcement_id,
            "case_id": a.case_id,
            "announced_by": a.announced_by,
            "announced_at": a.announced_at,
            "expected_arrival_at": a.expected_arrival_at,
            "port_of_entry": a.port_of_entry,
            "reception_centre": a.reception_centre,
            "country_of_return": a.country_of_return,
            "returned_from": a.returned_from,
            "return_type": a.return_type.value,
            "transport_mode": a.transport_mode.value,
            "transport_reference": a.transport_reference,
        }
        await self.insert_versioned(announcements, a, values)
        await self.session.execute(
            plain_insert(announced_persons),
            [
                {
                    "announced_person_id": p.announced_person_id,
                    "announcement_id": a.announcement_id,
                    "position": p.position,
                    "reference": p.reference,
                    "age_group": p.age_group.value if p.age_group else None,
                    "sex": p.sex.value if p.sex else None,
                    "travel_group_id": p.travel_group_id,
                    "vulnerabilities": jsontext.dumps([v.value for v in p.vulnerabilities]),
                    "needs_medical_attention": p.needs_medical_attention,
                    "case_id": None,
                }
                for p in a.persons
            ],
        )
        key_rows = [
            {"key": k, "announced_person_id": p.announced_person_id}
            for p in a.persons
            for k in sorted(p.keys)
        ]
        await self.insert_ignoring(announced_person_keys, key_rows, ["key", "announced_person_id"])
        await self.publish_events(a)

    async def forget_keys_of_cases(self, case_ids: Sequence[UUID]) -> None:
        """Forget the identity keys of the announced people who arrived as ``case_ids`` (erasure)."""
        for chunk in _chunks(list(case_ids)):
            matched = select(announced_persons.c.announced_person_id).where(
                announced_persons.c.case_id.in_(chunk)
            )
            await self.session.execute(
                delete(announced_person_keys).where(announced_person_keys.c.announced_person_id.in_(matched))
            )

    async def mark_arrived(self, arrived: dict[UUID, UUID]) -> None:
        """Record which case each announced person arrived as."""
        for person_id, case_id in arrived.items():
            await self.session.execute(
                update(announced_persons)
                .where(announced_persons.c.announced_person_id == person_id)
                .values(case_id=case_id)
            )


class ReviewRepository(_Bulk):
    async def add_many(self, new: Sequence[DuplicateReview]) -> None:
        if not new:
            return
        await self.session.execute(plain_insert(reviews), [{**_review_row(r), "version": 1} for r in new])
        for r in new:
            r.version = 1
        await self.publish_events(*new)

    async def get(self, review_id: UUID) -> DuplicateReview | None:
        row = (await self.session.execute(select(reviews).where(reviews.c.review_id == review_id))).first()
        return _review(row) if row else None

    async def save(self, r: DuplicateReview) -> None:
        values = _review_row(r)
        await self.update_versioned(reviews, {"review_id": values.pop("review_id")}, r, values)
        await self.publish_events(r)

    async def page(
        self, status: ReviewStatus | None, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[DuplicateReview]:
        # a review belongs to the centre and country of the newer registration's case
        case_visible = visible(visible_to, centre=cases.c.reception_centre, country=cases.c.country_of_return)
        stmt = (
            select(reviews)
            .where(reviews.c.case_id.in_(select(cases.c.case_id).where(case_visible)))
            .order_by(reviews.c.detected_at, reviews.c.review_id)
        )
        if status is not None:
            stmt = stmt.where(reviews.c.status == status.value)
        return [_review(r) for r in await self.session.execute(stmt.limit(limit).offset(offset))]

    async def for_case(self, case_id: UUID) -> list[DuplicateReview]:
        rows = await self.session.execute(
            select(reviews).where((reviews.c.case_id == case_id) | (reviews.c.candidate_case_id == case_id))
        )
        return [_review(r) for r in rows]


class ReceptionUnitOfWork(UnitOfWork):
    """Reception's unit of work: its repositories, and the keys its personal data is sealed with."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        on_commit: Callable[[], None] | None = None,
        *,
        keys: ReceptionKeys,
    ) -> None:
        super().__init__(db, outbox, on_commit)
        self.keys = keys
        self.ciphers: dict[UUID, FieldCipher] = {}
        """Data keys unwrapped in this unit of work (forgotten with it)."""

    async def prepare_cases(self, case_ids: Sequence[UUID]) -> None:
        """A consumer batch's cases, before its handlers run: which of them reception registered,
        in one statement (ADR 0031); each handler then checks its case without a round trip.
        Nothing is locked: a case's row, once there, stays, so what is remembered stays true."""
        await self.cases.remember_known(case_ids)

    async def prepare_events(self, events: Sequence[Event]) -> None:
        """A consumer batch's events, before its handlers run: the contact references its
        ``referral_requested`` events look up, in one statement (ADR 0031)."""
        await self.contact_references.remember(
            [
                (event.referral_id, reference_hash(event.contact_reference))
                for event in events
                if isinstance(event, ReferralRequested)
                and event.contact_reference
                and event.contact_reference_expires_at is not None
            ]
        )

    @classmethod
    def factory(
        cls, keys: ReceptionKeys | None
    ) -> Callable[[Database, Outbox, Callable[[], None]], ReceptionUnitOfWork]:
        """What the runtime (or a test harness) calls to open a unit of work with ``keys`` (``None``:
        a service built only to be described; opening a unit of work then fails, naming the keys)."""

        def make(db: Database, outbox: Outbox, on_commit: Callable[[], None]) -> ReceptionUnitOfWork:
            if keys is None:
                raise RuntimeError(
                    "reception has no keys: set REINTEGRA_KEY_ENCRYPTION_KEY and REINTEGRA_BLIND_INDEX_SECRET"
                )
            return cls(db, outbox, on_commit, keys=keys)

        return make

    async def __aexit__(self, *exc: Any) -> None:
        self.ciphers.clear()
        await super().__aexit__(*exc)

    @property
    def data_keys(self) -> DataKeyRepository:
        return DataKeyRepository(self)

    @property
    def consents(self) -> ConsentRepository:
        from .privacy_repositories import ConsentRepository

        return ConsentRepository(self)

    @property
    def contact_references(self) -> ContactReferenceRepository:
        from .privacy_repositories import ContactReferenceRepository

        return ContactReferenceRepository(self)

    @property
    def closures(self) -> ClosureRepository:
        from .privacy_repositories import ClosureRepository

        return ClosureRepository(self)

    @property
    def audit(self) -> AuditLog:
        from .audit import AuditLog

        return AuditLog(self)

    @property
    def cases(self) -> CaseRepository:
        return CaseRepository(self)

    @property
    def returnees(self) -> ReturneeRepository:
        return ReturneeRepository(self)

    @property
    def announcements(self) -> AnnouncementRepository:
        return AnnouncementRepository(self)

    @property
    def reviews(self) -> ReviewRepository:
        return ReviewRepository(self)


_CASE_ENUMS = ("return_type", "transport_mode", "status", "sex")
_CASE_SKIP = frozenset({"version", "assistance", "concerns"})


def _row(case: Case) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: v for k, v in case.__dict__.items() if not k.startswith("_") and k not in _CASE_SKIP
    }
    for name in _CASE_ENUMS:
        if values.get(name) is not None:
            values[name] = values[name].value
    values["vulnerabilities"] = jsontext.dumps([v.value for v in case.vulnerabilities])
    values["immediate_needs"] = jsontext.dumps([n.value for n in case.immediate_needs])
    return values


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value else None


def _case(row: Any) -> Case:
    return Case(
        case_id=UUID(str(row.case_id)),
        returnee_id=UUID(str(row.returnee_id)),
        travel_group_id=_uuid(row.travel_group_id),
        arrived_at=as_utc(row.arrived_at),
        port_of_entry=row.port_of_entry,
        reception_centre=row.reception_centre,
        destination_municipality=row.destination_municipality,
        age=row.age,
        return_type=ReturnType(row.return_type),
        transport_mode=TransportMode(row.transport_mode),
        vulnerabilities=[Vulnerability(v) for v in jsontext.loads(row.vulnerabilities)],
        immediate_needs=[ServiceCategory(n) for n in jsontext.loads(row.immediate_needs)],
        is_repeat_return=row.is_repeat_return,
        registered_at=as_utc(row.registered_at),
        country_of_return=row.country_of_return,
        sex=Sex(row.sex) if row.sex else None,
        status=CaseStatus(row.status),
        merged_into=_uuid(row.merged_into),
        previous_returns=row.previous_returns,
        declared_previous_returns=row.declared_previous_returns,
        travel_group_size=row.travel_group_size,
        announcement_id=_uuid(row.announcement_id),
        announced_person_id=_uuid(row.announced_person_id),
        version=row.version,
    )


def _assistance(row: Any) -> Assistance:
    return Assistance(
        assistance_id=UUID(str(row.assistance_id)),
        provided_at=as_utc(row.provided_at),
        items=tuple(ImmediateAssistance(i) for i in jsontext.loads(row.items)),
        provided_by=row.provided_by,
    )


def _concern(row: Any) -> Concern:
    return Concern(
        concern_id=UUID(str(row.concern_id)),
        concern_type=ConcernType(row.concern_type),
        urgency=Urgency(row.urgency),
        raised_at=as_utc(row.raised_at),
        raised_by_role=StaffRole(row.raised_by_role),
        lead_agency=row.lead_agency,
        service_category=ServiceCategory(row.service_category) if row.service_category else None,
    )


def _announced(row: Any, keys: frozenset[str]) -> AnnouncedPersonRecord:
    return AnnouncedPersonRecord(
        announced_person_id=UUID(str(row.announced_person_id)),
        position=row.position,
        reference=row.reference,
        age_group=AgeGroup(row.age_group) if row.age_group else None,
        sex=Sex(row.sex) if row.sex else None,
        travel_group_id=_uuid(row.travel_group_id),
        vulnerabilities=[Vulnerability(v) for v in jsontext.loads(row.vulnerabilities)],
        needs_medical_attention=row.needs_medical_attention,
        keys=keys,
        case_id=_uuid(row.case_id),
    )


def _announcement(row: Any, persons: list[AnnouncedPersonRecord]) -> Announcement:
    return Announcement(
        announcement_id=UUID(str(row.announcement_id)),
        case_id=UUID(str(row.case_id)),
        announced_by=row.announced_by,
        announced_at=as_utc(row.announced_at),
        expected_arrival_at=as_utc(row.expected_arrival_at),
        port_of_entry=row.port_of_entry,
        reception_centre=row.reception_centre,
        country_of_return=row.country_of_return,
        returned_from=row.returned_from,
        return_type=ReturnType(row.return_type),
        transport_mode=TransportMode(row.transport_mode),
        transport_reference=row.transport_reference,
        persons=persons,
        version=row.version,
    )


def _review_row(r: DuplicateReview) -> dict[str, Any]:
    return {
        "review_id": r.review_id,
        "case_id": r.case_id,
        "returnee_id": r.returnee_id,
        "candidate_returnee_id": r.candidate_returnee_id,
        "candidate_case_id": r.candidate_case_id,
        "score": r.score,
        "comparison": jsontext.dumps(r.comparison),
        "status": r.status.value,
        "detected_at": r.detected_at,
        "decided_at": r.decided_at,
        "decided_by_role": r.decided_by_role.value if r.decided_by_role else None,
    }


def _review(row: Any) -> DuplicateReview:
    return DuplicateReview(
        review_id=UUID(str(row.review_id)),
        case_id=UUID(str(row.case_id)),
        returnee_id=UUID(str(row.returnee_id)),
        candidate_returnee_id=UUID(str(row.candidate_returnee_id)),
        candidate_case_id=UUID(str(row.candidate_case_id)),
        score=float(row.score),
        comparison=jsontext.loads(row.comparison),
        status=ReviewStatus(row.status),
        detected_at=as_utc(row.detected_at),
        decided_at=as_utc(row.decided_at) if row.decided_at else None,
        decided_by_role=StaffRole(row.decided_by_role) if row.decided_by_role else None,
        version=row.version,
    )
