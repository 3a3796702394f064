"""The audit log of personal data: every lookup and every other read of a person's data, every consent
refused, every override, export and erasure — append-only and hash-chained (ADR 0072).

Each row records who (subject, roles, agency, centre from the token), when, what (action, outcome and
the reason of a refusal), about which case, person and referral, which personal fields, and why (the
purpose). It never holds personal data itself: ids are pseudonymous, fields are named, not copied.

**Hash chain.** Row *n* stores ``hash = SHA-256(prev_hash || canonical JSON of row n)`` with
``prev_hash`` = the hash of row *n-1* (64 zeros for the first), and ``seq`` counts 1, 2, 3… without
gaps. ``audit_head`` keeps the last seq and hash. :func:`verify_chain` recomputes everything: a changed
row breaks its own hash, a removed row leaves a gap and breaks the next row's ``prev_hash``, rows
removed at the end disagree with the head. Appending locks the head row, so concurrent writers queue
and the chain never forks. The table is append-only in the database too (triggers refuse UPDATE,
DELETE and, on PostgreSQL, TRUNCATE). Someone able to drop the triggers *and* rewrite every later
row and the head could still forge a consistent chain: ``python -m reintegra_reception audit verify``
prints the head (seq and hash) to be kept elsewhere, and ``--anchor SEQ:HASH`` checks a head kept
before.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_kit.clock import as_utc
from reintegra_kit.repository import Repository
from sqlalchemy import insert, or_, select, update

from .domain.commands import Actor
from .orm import audit_head, audit_log

GENESIS = "0" * 64
HASHED = (
    "seq", "at", "action", "outcome", "reason", "actor_subject", "actor_roles", "actor_agency",
    "actor_centre", "case_id", "returnee_id", "referral_id", "fields", "purpose", "prev_hash",
)  # fmt: skip
"""The columns a row's hash covers (all but the hash itself)."""


class AuditAction(enum.StrEnum):
    CONTACT_LOOKUP = "contact_lookup"
    PERSONAL_DATA_READ = "personal_data_read"
    CONSENT_RECORD = "consent_record"
    CONSENT_WITHDRAW = "consent_withdraw"
    OVERRIDE_RECORD = "override_record"
    OVERRIDE_NOTES_READ = "override_notes_read"
    ACCESS_REPORT = "access_report"
    SUBJECT_ACCESS_EXPORT = "subject_access_export"
    ERASURE = "erasure"


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(frozen=True)
class AuditEntry:
    """What one row says (before it gets its place in the chain)."""

    action: AuditAction
    outcome: Outcome
    actor: Actor
    purpose: str
    fields: tuple[str, ...] = ()
    case_id: UUID | None = None
    returnee_id: UUID | None = None
    referral_id: UUID | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AuditRow:
    """A row of the log as stored."""

    seq: int
    at: datetime
    action: str
    outcome: str
    reason: str | None
    actor_subject: str
    actor_roles: str
    actor_agency: str | None
    actor_centre: str | None
    case_id: UUID | None
    returnee_id: UUID | None
    referral_id: UUID | None
    fields: list[str]
    purpose: str
    prev_hash: str
    hash: str


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat(timespec="microseconds")
    if isinstance(value, UUID):
        return str(value)
    return value


def row_hash(values: dict[str, Any]) -> str:
    """The hash of a row: SHA-256 over its ``prev_hash`` and the canonical JSON of :data:`HASHED`."""
    body = json.dumps(
        {k: _canonical(values[k]) for k in HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(f"{values['prev_hash']}\n{body}".encode()).hexdigest()


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value is not None else None


def _row(r: Any) -> AuditRow:
    return AuditRow(
        seq=int(r.seq),
        at=as_utc(r.at),
        action=r.action,
        outcome=r.outcome,
        reason=r.reason,
        actor_subject=r.actor_subject,
        actor_roles=r.actor_roles,
        actor_agency=r.actor_agency,
        actor_centre=r.actor_centre,
        case_id=_uuid(r.case_id),
        returnee_id=_uuid(r.returnee_id),
        referral_id=_uuid(r.referral_id),
        fields=json.loads(r.fields),
        purpose=r.purpose,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


class AuditLog(Repository):
    """Appends to and reads the audit log, in the unit of work's transaction."""

    async def append(self, entry: AuditEntry, at: datetime) -> int:
        """Append ``entry`` at the end of the chain; return its seq. Serialised by the head row's lock."""
        head = (
            await self.session.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update())
        ).one()
        values: dict[str, Any] = {
            "seq": int(head.seq) + 1,
            "at": as_utc(at),
            "action": entry.action.value,
            "outcome": entry.outcome.value,
            "reason": (entry.reason or None) and entry.reason[:300],
            "actor_subject": entry.actor.subject[:200],
            "actor_roles": ",".join(sorted(entry.actor.roles))[:300],
            "actor_agency": entry.actor.agency,
            "actor_centre": entry.actor.centre,
            "case_id": entry.case_id,
            "returnee_id": entry.returnee_id,
            "referral_id": entry.referral_id,
            "fields": json.dumps(list(entry.fields)),
            "purpose": entry.purpose,
            "prev_hash": head.hash,
        }
        values["hash"] = row_hash(values)
        await self.session.execute(insert(audit_log).values(**values))
        await self.session.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=values["seq"], hash=values["hash"])
        )
        return int(values["seq"])

    async def page(
        self,
        limit: int,
        offset: int,
        *,
        case_ids: Sequence[UUID] = (),
        returnee_ids: Sequence[UUID] = (),
        action: str | None = None,
    ) -> list[AuditRow]:
        """Rows, newest first; only those about ``case_ids`` or ``returnee_ids`` when given."""
        stmt = select(audit_log).order_by(audit_log.c.seq.desc())
        if case_ids or returnee_ids:
            stmt = stmt.where(
                or_(audit_log.c.case_id.in_(list(case_ids)), audit_log.c.returnee_id.in_(list(returnee_ids)))
            )
        if action is not None:
            stmt = stmt.where(audit_log.c.action == action)
        return [_row(r) for r in await self.session.execute(stmt.limit(limit).offset(offset))]

    async def head(self) -> tuple[int, str]:
        row = (await self.session.execute(select(audit_head).where(audit_head.c.id == 1))).one()
        return int(row.seq), str(row.hash)


@dataclass
class ChainReport:
    """What :func:`verify_chain` found."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


async def verify_chain(
    log: AuditLog, *, batch: int = 1_000, anchor: tuple[int, str] | None = None
) -> ChainReport:
    """Recompute the whole chain; each problem names the row and what is wrong with it."""
    report = ChainReport()
    expected, prev, last = 1, GENESIS, 0
    anchored = anchor is None
    while True:
        rows = list(
            await log.session.execute(
                select(audit_log).where(audit_log.c.seq >= expected).order_by(audit_log.c.seq).limit(batch)
            )
        )
        if not rows:
            break
        for r in rows:
            values = {c: getattr(r, c) for c in (*HASHED, "hash")}
            seq = int(r.seq)
            if seq != expected:
                report.problems.append(
                    f"rows {expected}..{seq - 1} are missing (removed)"
                    if seq > expected + 1
                    else f"row {expected} is missing (removed)"
                )
            if r.prev_hash != prev:
                report.problems.append(
                    f"row {seq}: prev_hash is not the hash of the row before it (a row before was changed or removed)"
                )
            if row_hash(values) != r.hash:
                report.problems.append(f"row {seq}: its content does not match its hash (changed)")
            if anchor is not None and seq == anchor[0]:
                anchored = True
                if r.hash != anchor[1]:
                    report.problems.append(
                        f"row {seq}: hash differs from the anchor kept (the chain was rewritten)"
                    )
            prev, last, expected = r.hash, seq, seq + 1
            report.rows += 1
    head_seq, head_hash = await log.head()
    report.head_seq, report.head_hash = head_seq, head_hash
    if head_seq != last:
        report.problems.append(
            f"the log ends at row {last} but its head says {head_seq} (rows removed at the end)"
            if head_seq > last
            else f"the log goes on to row {last} past its head {head_seq}"
        )
    elif head_hash != prev:
        report.problems.append(f"the head's hash is not row {last}'s")
    if not anchored and anchor is not None:
        report.problems.append(f"row {anchor[0]} of the anchor is not in the log (removed)")
    return report
