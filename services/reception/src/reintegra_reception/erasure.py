"""Erasure, retention, subject access and key rotation (handlers; ADR 0070).

* :func:`erase_returnee` crypto-shreds a person: their data key is destroyed, so every copy of their
  fields is unreadable; their blind indexes are forgotten; contact references of their cases are
  revoked; ``returnee_erased`` is published once per case so that the other services drop the free text
  they hold. Kafka is never rewritten: no event carries the person's identity.
* :func:`due_for_retention` finds the people whose cases last changed (or were closed) more than
  ``REINTEGRA_RETENTION_YEARS`` ago — a closure counts as the last change of its case; activity after
  a closure (a reopening, a withdrawal) counts too; the retention job erases each in its own
  transaction.
* :func:`export_subject` gathers everything reception holds on one person, as JSON-ready data.
* :func:`rewrap_data_keys` re-wraps data keys under the current key-encryption key (rotation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from reintegra_kit.clock import Clock, as_utc
from reintegra_kit.domain import NotFoundError
from sqlalchemy import func, select

from .audit import AuditAction, AuditEntry, Outcome
from .domain.commands import Actor, EraseReturnee
from .orm import (
    assistance,
    case_closures,
    cases,
    consent_records,
    consent_withdrawals,
    contact_references,
    protection_concerns,
    returnees,
)
from .privacy import PERSONAL_FIELDS, people_and_cases
from .repository import ReceptionUnitOfWork


@dataclass(frozen=True)
class Erasure:
    returnee_id: UUID
    erased_at: datetime
    case_ids: list[UUID]
    records: list[UUID]
    """The person's record and the records merged into it."""


async def erase_returnee(cmd: EraseReturnee, uow: ReceptionUnitOfWork, clock: Clock) -> Erasure:
    """Erase the person of ``cmd.case_id`` (``returnee_erased`` per case); audited."""
    case = await uow.cases.get(cmd.case_id)
    if case is None:
        raise NotFoundError(f"case {cmd.case_id} not found")
    now = clock.now()
    people, case_ids = await people_and_cases(uow, case.returnee_id)
    person = await uow.returnees.get(case.returnee_id)
    if person is None:
        raise NotFoundError(f"the person of case {cmd.case_id} is not known")
    person.erase(case_ids, cmd.reason, now)
    await uow.returnees.erase(person, people[1:])
    await uow.announcements.forget_keys_of_cases(case_ids)
    for ref in await uow.contact_references.active_for_cases(case_ids):
        ref.revoke("person erased", now)
        await uow.contact_references.save(ref)
    await uow.audit.append(
        AuditEntry(
            AuditAction.ERASURE,
            Outcome.ALLOWED,
            cmd.actor,
            cmd.reason.value,
            fields=PERSONAL_FIELDS,
            case_id=case.case_id,
            returnee_id=case.returnee_id,
        ),
        now,
    )
    return Erasure(case.returnee_id, now, case_ids, people)


@dataclass(frozen=True)
class RetentionCandidate:
    returnee_id: UUID
    case_id: UUID
    """One of the person's cases (the one to name when erasing)."""
    last_activity: datetime


async def due_for_retention(
    cutoff: datetime, uow: ReceptionUnitOfWork, limit: int = 500, after: UUID | None = None
) -> list[RetentionCandidate]:
    """People (not erased, not merged) whose every case closed — or, if not closed, last changed
    (registration, assistance, screening, consent, a referral's contact reference) — before ``cutoff``;
    at most ``limit``, by returnee id after ``after``."""
    stmt = (
        select(cases.c.returnee_id, func.max(cases.c.registered_at))
        .join(returnees, returnees.c.returnee_id == cases.c.returnee_id)
        .where(returnees.c.erased_at.is_(None), returnees.c.merged_into.is_(None))
        .group_by(cases.c.returnee_id)
        .having(func.max(cases.c.registered_at) < cutoff)
        .order_by(cases.c.returnee_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(cases.c.returnee_id > after)
    found = []
    for returnee_id, _ in list(await uow.session.execute(stmt)):
        rid = UUID(str(returnee_id))
        _, case_ids = await people_and_cases(uow, rid)
        last = await _last_activity(uow, case_ids)
        if last is not None and last < cutoff:
            found.append(RetentionCandidate(rid, case_ids[0], last))
    return found


async def _last_activity(uow: ReceptionUnitOfWork, case_ids: list[UUID]) -> datetime | None:
    """When the cases last changed or were closed (the latest of all; None without cases)."""
    if not case_ids:
        return None
    queries = [
        select(func.max(cases.c.registered_at)).where(cases.c.case_id.in_(case_ids)),
        select(func.max(assistance.c.provided_at)).where(assistance.c.case_id.in_(case_ids)),
        select(func.max(protection_concerns.c.raised_at)).where(protection_concerns.c.case_id.in_(case_ids)),
        select(func.max(consent_records.c.recorded_at)).where(consent_records.c.case_id.in_(case_ids)),
        select(func.max(consent_withdrawals.c.withdrawn_at)).where(
            consent_withdrawals.c.case_id.in_(case_ids)
        ),
        select(func.max(contact_references.c.updated_at)).where(contact_references.c.case_id.in_(case_ids)),
        select(func.max(case_closures.c.closed_at)).where(case_closures.c.case_id.in_(case_ids)),
    ]
    times = [(await uow.session.execute(q)).scalar_one() for q in queries]
    known = [as_utc(t) for t in times if t is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class ExportSubject:
    """Everything reception holds on the person of ``case_id`` (subject access), audited."""

    case_id: UUID
    actor: Actor


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set | tuple | list):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, frozenset | set) else items
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items() if not k.startswith("_")}
    return value


async def export_subject(cmd: ExportSubject, uow: ReceptionUnitOfWork, clock: Clock) -> dict[str, Any]:
    """The person's data, cases, consents, contact references, reviews and who looked: JSON-ready."""
    case = await uow.cases.get(cmd.case_id)
    if case is None:
        raise NotFoundError(f"case {cmd.case_id} not found")
    now = clock.now()
    people, case_ids = await people_and_cases(uow, case.returnee_id)
    records = await uow.returnees.get_many(people, {})
    person_cases = [c for c in [await uow.cases.get(i) for i in case_ids] if c is not None]
    consents = await uow.consents.for_cases(case_ids)
    refs = await uow.contact_references.for_cases(case_ids)
    reviews = {r.review_id: r for c in case_ids for r in await uow.reviews.for_case(c)}
    looked = await uow.audit.page(10_000, 0, case_ids=case_ids, returnee_ids=people)
    await uow.audit.append(
        AuditEntry(
            AuditAction.SUBJECT_ACCESS_EXPORT,
            Outcome.ALLOWED,
            cmd.actor,
            "subject_access",
            fields=PERSONAL_FIELDS,
            case_id=case.case_id,
            returnee_id=case.returnee_id,
        ),
        now,
    )
    return {
        "exported_at": _plain(now),
        "returnee_id": str(case.returnee_id),
        "records": [
            {
                "returnee_id": str(r.returnee_id),
                "erased_at": _plain(r.erased_at),
                "merged_into": _plain(r.merged_into),
                "sex": r.sex.value,
                "personal_data": _plain(r.person) if r.person is not None else None,
            }
            for r in records.values()
        ],
        "cases": [
            {k: _plain(v) for k, v in vars(c).items() if not k.startswith("_") and k not in {"version"}}
            for c in person_cases
        ],
        "consents": [
            {
                "case_id": str(c.case_id),
                "records": [_plain(r) for r in c.records],
                "withdrawals": [_plain(w) for w in c.withdrawals],
                "history": [_plain(h) for h in c.history(now)],
            }
            for c in consents
        ],
        "contact_references": [
            {
                k: _plain(v)
                for k, v in vars(r).items()
                if not k.startswith("_") and k not in {"version", "reference_hash"}
            }
            for r in refs
        ],
        "duplicate_reviews": [
            {k: _plain(v) for k, v in vars(r).items() if not k.startswith("_") and k != "version"}
            for r in reviews.values()
        ],
        "accesses": [_plain(row) for row in looked],
    }


async def rewrap_data_keys(batch: int, uow: ReceptionUnitOfWork) -> int:
    """Re-wrap up to ``batch`` data keys under the current key-encryption key; how many were."""
    done = 0
    for owner, wrapped in await uow.data_keys.not_under_current(batch):
        after = uow.keys.ring.rewrap(wrapped, owner)
        done += await uow.data_keys.replace(owner, wrapped, after)
    return done
