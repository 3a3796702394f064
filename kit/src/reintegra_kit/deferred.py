"""Writes sent with the transaction's commit, a table's together (docs/adr/0032-writes-sent-at-commit.md).

A consumer batch's transaction handles tens of events, and most of them append a row or two to the
same few tables: a referral's history, the timers, the webhook queue, the case traces. Each of those
inserts was a statement of its own; on PostgreSQL a round trip, with the task suspended until the
answer came. Nothing in the transaction reads those rows again, and nothing branches on whether they
went in, so they need not be sent when written. :func:`write_later` keeps such a write in the
session. The kept writes are sent when the transaction commits, one ``executemany`` per table (one
round trip on PostgreSQL; asyncpg pipelines the rows), or earlier when something needs them:

* a statement that reads or writes a table a kept write touches (its target, or a table it reads:
  ``INSERT … SELECT FROM agencies``) sends them all first, so that the transaction reads its own
  writes and keeps their order; so does a statement whose tables cannot be known (textual SQL);
* a savepoint sends them before it begins, so that rolling it back cannot take them with it; inside a
  savepoint nothing is kept (the write is sent at once);
* a rollback, or the end of the transaction without a commit, forgets them.

Kept writes are sent table by table, in the order each table was first written, and in their own
order within a table; consecutive writes of the same statement go as one ``executemany``. So a row
that refers to another (a foreign key) must be written after it and to a different table — written
earlier in the transaction or kept too. An error (a constraint a kept row breaks) is raised by the
statement that sent it, the commit's at the latest, and the transaction then rolls back whole, as
when it was raised at the write: the consumer then handles the batch's events one by one, so that it
is the failing event's that is retried and parked.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.asyncio.session import AsyncSessionTransaction
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.selectable import Select, TableClause
from sqlalchemy.sql.util import find_tables

_KEPT = "reintegra.written_later"
"""``session.info`` key: the writes kept for the session's current transaction (:class:`_Kept`)."""


@dataclass
class _Kept:
    transaction: Any  # the root SessionTransaction the writes belong to
    writes: list[tuple[str, Any, list[Mapping[str, Any]]]] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)  # every table they touch


_TABLES: dict[int, tuple[weakref.ref[Any], frozenset[str] | None]] = {}


def tables_of(statement: Any) -> frozenset[str] | None:
    """The names of the tables ``statement`` reads or writes; ``None`` when that cannot be known
    (textual SQL, anything but a SELECT, INSERT, UPDATE or DELETE construct). Computed once per
    statement object (the statements of the hot path are built once: ADR 0024)."""
    key = id(statement)
    entry = _TABLES.get(key)
    if entry is not None and entry[0]() is statement:
        return entry[1]
    if isinstance(statement, Select | Insert | Update | Delete):
        tables: frozenset[str] | None = frozenset(t.name for t in find_tables(statement, include_crud=True))
    else:
        tables = None
    try:
        ref = weakref.ref(statement, lambda _, key=key: _TABLES.pop(key, None))  # type: ignore[misc]
    except TypeError:
        return tables
    _TABLES[key] = (ref, tables)
    return tables


async def write_later(
    session: AsyncSession, statement: Any, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> None:
    """Run the INSERT, UPDATE or DELETE ``statement`` with ``rows`` (one set of values, or several)
    when the transaction commits, or before anything touches its tables (see the module's doc).

    For writes whose result nobody reads and whose failure is a fault, not an answer: an
    ``INSERT … ON CONFLICT DO NOTHING`` whose caller does not ask whether it inserted, an append to a
    log. Sent at once when the session does not keep writes (a session not of the kit, no
    transaction begun, inside a savepoint)."""
    many = [rows] if isinstance(rows, Mapping) else list(rows)
    if not many:
        return
    transaction = session.sync_session.get_transaction()
    tables = tables_of(statement)
    if (
        not isinstance(session, KeepingWrites)
        or transaction is None
        or session.in_nested_transaction()
        or tables is None
        or not isinstance(statement, Insert | Update | Delete)
        or not isinstance(statement.table, TableClause)
    ):
        await session.execute(statement, many if len(many) > 1 else many[0])
        return
    kept = session.info.get(_KEPT)
    if kept is None or kept.transaction is not transaction:
        kept = session.info[_KEPT] = _Kept(transaction)
    kept.writes.append((statement.table.name, statement, many))
    kept.tables |= tables


async def send_kept(session: AsyncSession) -> None:
    """Send the writes kept for the session's transaction (:func:`write_later`), a table's together."""
    kept: _Kept | None = session.info.pop(_KEPT, None)
    if kept is None or kept.transaction is not session.sync_session.get_transaction():
        return  # none, or kept for a transaction that ended without them
    by_table: dict[str, list[tuple[Any, list[Mapping[str, Any]]]]] = {}
    for table, statement, rows in kept.writes:
        runs = by_table.setdefault(table, [])
        if runs and runs[-1][0] is statement:
            runs[-1][1].extend(rows)
        else:
            runs.append((statement, list(rows)))
    for runs in by_table.values():
        for statement, rows in runs:
            await session.execute(statement, rows if len(rows) > 1 else rows[0])


def forget_kept(session: AsyncSession) -> None:
    """Drop the writes kept for the session's transaction (it rolls back or ends)."""
    session.info.pop(_KEPT, None)


def kept_count(session: AsyncSession) -> int:
    """How many writes (statement and rows) the session keeps for its transaction (for tests)."""
    kept: _Kept | None = session.info.get(_KEPT)
    return len(kept.writes) if kept is not None else 0


class _SendingFirst(AsyncSessionTransaction):
    """A savepoint that sends the kept writes before it begins (``begin_nested``)."""

    async def start(self, is_ctxmanager: bool = False) -> AsyncSessionTransaction:
        await send_kept(self.session)
        return await super().start(is_ctxmanager)


class KeepingWrites(AsyncSession):
    """The kit's sessions: they keep the writes given to :func:`write_later` until their commit, and
    send them first when a statement touches their tables, a savepoint begins or the session commits."""

    async def _before(self, statement: Any) -> None:
        """Called by ``execute`` first: send the kept writes if ``statement`` touches their tables."""
        kept: _Kept | None = self.info.get(_KEPT)
        if kept is None:
            return
        tables = tables_of(statement)
        if tables is None or not tables.isdisjoint(kept.tables):
            await send_kept(self)

    def begin_nested(self) -> AsyncSessionTransaction:
        return _SendingFirst(self, nested=True)

    async def commit(self) -> None:
        await send_kept(self)
        await super().commit()

    async def rollback(self) -> None:
        forget_kept(self)
        await super().rollback()

    async def close(self) -> None:
        forget_kept(self)
        await super().close()
