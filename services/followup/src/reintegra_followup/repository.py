"""Follow-up's unit of work and repository: they map the aggregate to rows, nothing else."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from reintegra_contracts import Event
from reintegra_contracts.codelists import FollowupCancellationReason
from reintegra_contracts.events.followup import FollowupReason
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.auth import RecordFilter, visible
from reintegra_kit.clock import as_utc
from reintegra_kit.db import (
    among,
    dialect_of,
    insert_ignoring,
    insert_or_ignore,
    lock_case,
    lock_cases,
    select_by,
    update_by,
)
from reintegra_kit.deferred import write_later
from reintegra_kit.erasure import ErasedCaseRepository
from reintegra_kit.repository import RememberedByCase, Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import and_, bindparam, or_, select, update

from .domain import ContactConsent, Followup, FollowupStatus, business_key
from .orm import case_scopes, contact_consents, erased_cases, followups

_BY_BUSINESS_KEYS = select(followups).where(followups.c.business_key.in_(bindparam("keys", expanding=True)))


class FollowupRepository(Repository):
    async def get(self, followup_id: UUID) -> Followup | None:
        row = (
            await self.session.execute(select_by(followups, "followup_id"), {"followup_id": followup_id})
        ).first()
        return _entity(row) if row else None

    async def by_business_key(self, key: str) -> Followup | None:
        memo: dict[str, Followup | None] | None = self._uow.remembered.get(_KEYS_MEMO)
        if memo is not None and key in memo:
            return memo[key]
        row = (
            await self.session.execute(select_by(followups, "business_key"), {"business_key": key})
        ).first()
        return _entity(row) if row else None

    async def by_business_keys(self, keys: list[str]) -> dict[str, Followup]:
        """The follow-ups of those ``keys`` that exist, by key (one statement)."""
        memo = self._uow.remembered.get(_KEYS_MEMO)
        if memo is not None and all(key in memo for key in keys):
            return {key: found for key in keys if (found := memo[key]) is not None}
        rows = await self.session.execute(_BY_BUSINESS_KEYS, {"keys": keys})
        return {f.business_key: f for f in (_entity(r) for r in rows)}

    async def remember(self, events: Sequence[Event]) -> None:
        """For a consumer batch, after its cases are locked (ADR 0031): in one statement, the
        follow-ups its events' handlers look up — by the business keys of its arrivals and referrals,
        and those waiting for its arrivals' cases. Found or not, each answer is remembered for the
        transaction (``uow.remembered``), and :meth:`save` keeps it true, so a later event of the
        batch sees what an earlier one wrote."""
        keys: list[str] = []
        arrivals: list[UUID] = []
        for event in events:
            if isinstance(event, ArrivalRegistered):
                keys.append(business_key(FollowupReason.POST_ARRIVAL, event.case_id, None))
                arrivals.append(event.case_id)
            elif isinstance(event, ReferralRequested):
                keys.append(business_key(FollowupReason.POST_ARRIVAL, event.case_id, None))
                keys.append(business_key(FollowupReason.REFERRAL_CHECK, event.case_id, event.referral_id))
        if not keys:
            return
        keys, arrivals = list(dict.fromkeys(keys)), list(dict.fromkeys(arrivals))
        rows = await self.session.execute(
            _looked_up(dialect_of(self.session)),
            {"keys": keys, "cases": arrivals, "waiting": FollowupStatus.WAITING_FOR_CASE.value},
        )
        loaded = [_entity(r) for r in rows]
        by_key = {f.business_key: f for f in loaded}
        remembered = self._uow.remembered
        remembered.setdefault(_KEYS_MEMO, {}).update({key: by_key.get(key) for key in keys})
        waiting: dict[UUID, list[Followup]] = {case_id: [] for case_id in arrivals}
        for f in sorted(loaded, key=_waiting_order):  # as waiting_for_case orders them
            if f.status is FollowupStatus.WAITING_FOR_CASE and f.case_id in waiting:
                waiting[f.case_id].append(f)
        remembered.setdefault(_WAITING_MEMO, {}).update(waiting)

    def _saved(self, f: Followup) -> None:
        """Keep what :meth:`remember` remembered true after ``f`` was written."""
        keys = self._uow.remembered.get(_KEYS_MEMO)
        if keys is not None:
            keys[f.business_key] = f
        waiting: dict[UUID, list[Followup]] | None = self._uow.remembered.get(_WAITING_MEMO)
        if waiting is not None:
            for case_id, listed in waiting.items():
                waiting[case_id] = [w for w in listed if w.followup_id != f.followup_id]
            if f.status is FollowupStatus.WAITING_FOR_CASE and f.case_id in waiting:
                waiting[f.case_id] = sorted([*waiting[f.case_id], f], key=_waiting_order)

    async def lock_case(self, case_id: UUID) -> None:
        """Hold the case until the transaction ends, so that an arrival and a referral of one case,
        handled by two replicas at once, see each other's work (PostgreSQL: a transaction-level
        advisory lock; SQLite already runs one writer at a time)."""
        await lock_case(self.session, case_id)

    async def waiting_for_case(self, case_id: UUID) -> list[Followup]:
        """The follow-ups that wait for ``case_id`` to become known."""
        waiting: dict[UUID, list[Followup]] | None = self._uow.remembered.get(_WAITING_MEMO)
        if waiting is not None and case_id in waiting:
            return list(waiting[case_id])
        rows = await self.session.execute(
            select_by(followups, "case_id", "status", order_by=("scheduled_at", "followup_id")),
            {"case_id": case_id, "status": FollowupStatus.WAITING_FOR_CASE.value},
        )
        return [_entity(r) for r in rows]

    async def for_case(self, case_id: UUID, visible_to: RecordFilter | None = None) -> list[Followup]:
        rows = await self.session.execute(
            select(followups)
            .where(followups.c.case_id == case_id, _visible(visible_to))
            .order_by(followups.c.due_at)
        )
        return [_entity(r) for r in rows]

    async def page(
        self, status: FollowupStatus | None, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[Followup]:
        stmt = (
            select(followups)
            .where(_visible(visible_to))
            .order_by(followups.c.due_at, followups.c.followup_id)
        )
        if status:
            stmt = stmt.where(followups.c.status == status.value)
        return [_entity(r) for r in await self.session.execute(stmt.limit(limit).offset(offset))]

    async def save(self, f: Followup) -> None:
        """Insert a new follow-up or update a loaded one (optimistic), then stage its events."""
        values = {
            "followup_id": f.followup_id,
            "case_id": f.case_id,
            "reason": f.reason.value,
            "referral_id": f.referral_id,
            "business_key": f.business_key,
            "due_at": f.due_at,
            "status": f.status.value,
            "scheduled_at": f.scheduled_at,
            "fired_at": f.fired_at,
            "cancellation_reason": f.cancellation_reason.value if f.cancellation_reason else None,
            "cancelled_at": f.cancelled_at,
        }
        if f.version == 0:
            await self.insert_versioned(followups, f, values, later=True)  # with the commit (ADR 0032)
        else:
            key = {"followup_id": values.pop("followup_id")}
            await self.update_versioned(followups, key, f, values)
        self._saved(f)
        await self.publish_events(f)


_KEYS_MEMO = "followup.by_business_key"
"""``uow.remembered`` key: a consumer batch's follow-ups by business key (``None``: none exists)."""
_WAITING_MEMO = "followup.waiting_for_case"
"""``uow.remembered`` key: the follow-ups waiting for each of a consumer batch's arrivals' cases."""


def _waiting_order(f: Followup) -> tuple[Any, str]:
    return (f.scheduled_at, str(f.followup_id))


@functools.cache
def _looked_up(dialect: str) -> Any:
    """The follow-ups of a batch's business keys, and those waiting for its arrivals' cases."""
    return select(followups).where(
        or_(
            among(followups.c.business_key, "keys", dialect),
            and_(among(followups.c.case_id, "cases", dialect), followups.c.status == bindparam("waiting")),
        )
    )


_CONSENTS_MEMO = "followup.contact_consents_of_case"
"""``uow.remembered`` key: the consents of the cases a consumer batch is about, by case."""


class ContactConsentRepository(Repository):
    async def get(self, consent_id: UUID) -> ContactConsent | None:
        row = (
            await self.session.execute(select_by(contact_consents, "consent_id"), {"consent_id": consent_id})
        ).first()
        return _consent(row) if row else None

    @property
    def _remembered(self) -> RememberedByCase[ContactConsent]:
        return RememberedByCase(self._uow, _CONSENTS_MEMO)

    async def of_case(self, case_id: UUID) -> list[ContactConsent]:
        """The case's consents; from what :meth:`remember` read for this transaction if it read the
        case."""
        remembered = self._remembered.of(case_id)
        if remembered is not None:
            return remembered
        rows = await self.session.execute(select_by(contact_consents, "case_id"), {"case_id": case_id})
        found = [_consent(r) for r in rows]
        self._remembered.keep(case_id, found)
        return found

    async def remember(self, case_ids: Sequence[UUID]) -> None:
        """Read the consents of every one of ``case_ids`` in one statement, for :meth:`of_case` to
        answer from for the rest of the transaction (a consumer batch's, after its cases were
        locked: ADR 0031). A write forgets what it changes."""
        await self._remembered.read(contact_consents, case_ids, _consent)

    async def add(self, c: ContactConsent) -> bool:
        """Record a consent once (a re-sent ``consent_recorded`` changes nothing)."""
        self._remembered.forget(c.case_id)
        return await insert_or_ignore(self.session, contact_consents, _consent_row(c), ["consent_id"])

    async def replace(self, c: ContactConsent) -> None:
        values = _consent_row(c)
        key = values.pop("consent_id")
        self._remembered.forget_all()  # the consent's case may be another one now
        await self.session.execute(
            update_by(contact_consents, "consent_id"), {"key_consent_id": key, **values}
        )

    async def rekey(self, from_case: UUID, to_case: UUID) -> None:
        self._remembered.forget(from_case, to_case)
        await self.session.execute(
            update(contact_consents).where(contact_consents.c.case_id == from_case).values(case_id=to_case)
        )


def _consent_row(c: ContactConsent) -> dict[str, Any]:
    return {
        "consent_id": c.consent_id,
        "case_id": c.case_id,
        "covers_contact": c.covers_contact,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
        "contact_withdrawn_at": c.contact_withdrawn_at,
    }


def _consent(row: Any) -> ContactConsent:
    return ContactConsent(
        consent_id=UUID(str(row.consent_id)),
        case_id=UUID(str(row.case_id)),
        covers_contact=bool(row.covers_contact),
        valid_from=as_utc(row.valid_from),
        valid_until=as_utc(row.valid_until) if row.valid_until else None,
        contact_withdrawn_at=as_utc(row.contact_withdrawn_at) if row.contact_withdrawn_at else None,
    )


def _visible(reach: RecordFilter | None) -> Any:
    """Follow-ups of the cases the caller may see (a case not known here yet: only to all)."""
    if reach is None or reach.unrestricted:
        return visible(reach)
    seen = select(case_scopes.c.case_id).where(
        visible(reach, centre=case_scopes.c.reception_centre, country=case_scopes.c.country)
    )
    return followups.c.case_id.in_(seen)


class CaseScopeRepository(Repository):
    """Whose record each case is: its reception centre and country (from ``arrival_registered``)."""

    async def record(self, case_id: UUID, reception_centre: str, country: str) -> None:
        row = {"case_id": case_id, "reception_centre": reception_centre, "country": country}
        statement = insert_ignoring(dialect_of(self.session), case_scopes, ("case_id",))
        await write_later(self.session, statement, row)  # with the commit (reintegra_kit.deferred)


class FollowupUnitOfWork(UnitOfWork):
    async def prepare_cases(self, case_ids: Sequence[UUID]) -> None:
        """A consumer batch's cases, before its handlers run: every case locked and every erasure
        read, one statement each (ADR 0031); each handler then locks its case and checks its
        erasure without a round trip."""
        await lock_cases(self.session, case_ids)
        await self.erasures.remember(case_ids)
        await self.consents.remember(case_ids)  # read by every handler but the erasure's

    async def prepare_events(self, events: Sequence[Event]) -> None:
        """The follow-ups a batch's arrivals and referrals look up, in one statement (ADR 0031)."""
        await self.followups.remember(events)

    @property
    def case_scopes(self) -> CaseScopeRepository:
        return CaseScopeRepository(self)

    @property
    def followups(self) -> FollowupRepository:
        return FollowupRepository(self)

    @property
    def consents(self) -> ContactConsentRepository:
        return ContactConsentRepository(self)

    @property
    def erasures(self) -> ErasedCaseRepository:
        return ErasedCaseRepository(self, erased_cases)


def _entity(row: Any) -> Followup:
    return Followup(
        followup_id=UUID(str(row.followup_id)),
        case_id=UUID(str(row.case_id)),
        reason=FollowupReason(row.reason),
        referral_id=UUID(str(row.referral_id)) if row.referral_id else None,
        due_at=as_utc(row.due_at),
        status=FollowupStatus(row.status),
        scheduled_at=as_utc(row.scheduled_at),
        fired_at=as_utc(row.fired_at) if row.fired_at else None,
        cancellation_reason=FollowupCancellationReason(row.cancellation_reason)
        if row.cancellation_reason
        else None,
        cancelled_at=as_utc(row.cancelled_at) if row.cancelled_at else None,
        version=row.version,
    )
