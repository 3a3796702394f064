"""Statements of the event path are built once and compiled once, and reads a transaction remembers
(docs/adr/0024-statements-built-once.md).

Each test runs on SQLite and on PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from reintegra_kit.db import Database, delete_by, lock_case, lock_cases, plain_insert, select_by, update_by
from reintegra_kit.inbox import Inbox
from reintegra_kit.outbox import Outbox
from reintegra_kit.testing.statements import statements_sent
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from .conftest import Schema, open_db


@contextmanager
def compilations(db: Database) -> Iterator[list[str]]:
    """The cache statistics SQLAlchemy gives each statement executed meanwhile: "generated in …" when
    it compiled the statement, "cached since …" when it reused a compiled form."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if context is not None and context.compiled is not None:
            seen.append(context._get_cache_stats())

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def test_a_statement_is_built_once_per_table_and_keys(schema: Schema) -> None:
    timers = schema.kit.timers
    assert select_by(timers, "kind", "timer_key") is select_by(timers, "kind", "timer_key")
    assert select_by(timers, "kind") is not select_by(timers, "kind", "timer_key")
    assert update_by(timers, "id") is update_by(timers, "id")
    assert delete_by(timers, "id") is delete_by(timers, "id")
    assert str(select_by(timers, "kind", columns=("id",), order_by=("due_at",))).split() == [
        "SELECT",
        "timers.id",
        "FROM",
        "timers",
        "WHERE",
        "timers.kind",
        "=",
        ":kind",
        "ORDER",
        "BY",
        "timers.due_at",
    ]


async def test_the_helpers_read_update_and_delete_by_their_keys(db: Database, schema: Schema) -> None:
    traces = schema.kit.case_traces
    async with db.session() as s, s.begin():
        await s.execute(
            traces.insert(),
            [
                {"case_id": "a", "traceparent": "00-aa-01", "recorded_at": _now()},
                {"case_id": "b", "traceparent": "00-bb-01", "recorded_at": _now()},
            ],
        )
        changed = await s.execute(
            update_by(traces, "case_id"), {"key_case_id": "a", "traceparent": "00-cc-01"}
        )
        assert changed.rowcount == 1
        assert (
            await s.execute(select_by(traces, "case_id", columns=("traceparent",)), {"case_id": "a"})
        ).scalar_one() == "00-cc-01"
        assert (
            await s.execute(select_by(traces, "case_id"), {"case_id": "b"})
        ).one().traceparent == "00-bb-01"
        await s.execute(delete_by(traces, "case_id"), {"case_id": "b"})
        assert (await s.execute(select_by(traces, "case_id"), {"case_id": "b"})).first() is None


async def test_an_inbox_claim_compiles_once_whatever_the_number_of_rows(db: Database, schema: Schema) -> None:
    inbox = Inbox(schema.kit, "g")
    batches = [
        [(f"e{n}-{i}", "t", "topic") for i in range(size)] for n, size in enumerate((3, 1, 7, 12, 1, 40))
    ]
    async with db.session() as s, s.begin():
        # the first claims compile: one form for a single row, one for several (an executemany); the
        # listener keeps every claim on SQLAlchemy's path, where a one-row claim would otherwise run
        # from its plan (ADR 0025)
        with compilations(db):
            await inbox.claim_many(s, batches[0])
            await inbox.claim_many(s, batches[1])
        with compilations(db) as seen:
            for batch in batches[2:]:
                assert await inbox.claim_many(s, batch) == {e for e, _, _ in batch}
            # one already claimed and one new: only the new one is claimed
            assert await inbox.claim_many(s, [("e1-0", "t", "topic"), ("new", "t", "topic")]) == {"new"}
    claims = [stats for stats in seen if stats]
    assert claims, "the claims ran statements"
    assert len(claims) == 5
    assert all(stats.startswith("cached") for stats in claims), claims


async def test_the_case_lock_is_a_no_op_on_sqlite_and_an_advisory_lock_on_postgresql(db: Database) -> None:
    case_id: UUID = uuid4()
    async with db.session() as s, s.begin():
        await lock_case(s, case_id)
        await lock_case(s, case_id)  # re-entrant within the transaction
        if db.dialect == "postgresql":
            held = (
                await s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"))
            ).scalar_one()
            assert held >= 1


def _now() -> datetime:
    return datetime.now(UTC)


async def test_what_a_transaction_remembers_is_forgotten_on_rollback_to_a_savepoint_and_at_its_end(
    db: Database, schema: Schema
) -> None:
    uow = UnitOfWork(db, Outbox(schema.kit, "/reintegra/test"))
    async with uow:
        uow.remembered["facts"] = 1
        async with uow.savepoint():
            assert uow.remembered == {"facts": 1}  # kept while nothing fails
        with contextlib.suppress(RuntimeError):
            async with uow.savepoint():
                uow.remembered["facts"] = 2
                raise RuntimeError("the handler failed")
        assert uow.remembered == {}, "a rolled-back savepoint may have changed what was read"
        uow.remembered["facts"] = 3
        await uow.commit()
        assert uow.remembered == {}
    async with uow:
        assert uow.remembered == {}


async def test_on_sqlite_a_transaction_s_statements_run_without_a_greenlet_each_after_the_first(
    db: Database, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy.ext.asyncio.session as async_session

    spawned: list[object] = []
    real = async_session.greenlet_spawn

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        spawned.append(fn)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(async_session, "greenlet_spawn", counting)
    traces = schema.kit.case_traces
    async with db.session() as s, s.begin():
        await s.execute(select_by(traces, "case_id"), {"case_id": "none"})  # checks the connection out
        first = len(spawned)
        for n in range(5):
            await s.execute(
                plain_insert(traces), {"case_id": f"c{n}", "traceparent": "00-aa-01", "recorded_at": _now()}
            )
        rows = (await s.execute(select_by(traces, "case_id"), {"case_id": "c3"})).all()
        assert [r.case_id for r in rows] == ["c3"]
        # a failing statement raises SQLAlchemy's error, and a savepoint still rolls back
        with pytest.raises(IntegrityError):
            async with s.begin_nested():
                await s.execute(
                    plain_insert(traces), {"case_id": "c1", "traceparent": "x", "recorded_at": _now()}
                )
        assert (
            await s.execute(select_by(traces, "case_id"), {"case_id": "c1"})
        ).one().traceparent == "00-aa-01"
        statements_after_first = len(spawned) - first
    executes = [fn for fn in spawned[first:] if getattr(fn, "__name__", "") == "execute"]
    if db.dialect == "sqlite":
        # none: the insert's first run went through the synchronous session, and the savepoint's first
        # statement ran from its plan once ``connection()`` had established the savepoint (ADR 0025)
        assert len(executes) == 0
    else:
        # asyncpg awaits: the first run of a statement takes the usual path (the first insert); the
        # statements run again ran on asyncpg directly, the savepoint's first too (ADR 0025)
        assert len(executes) == 1
    assert statements_after_first >= len(executes)


async def test_cases_locked_together_hold_until_the_transaction_ends_and_lock_case_is_then_free(
    postgres_url: str, schema: Schema
) -> None:
    """``lock_cases`` (a consumer batch's cases, ADR 0031): one statement holds every case; a
    ``lock_case`` of one of them in the same transaction sends nothing; the next transaction locks
    anew."""
    db = await open_db(postgres_url, schema)
    other = Database(postgres_url)
    a, b, c = uuid4(), uuid4(), uuid4()

    async def taken_elsewhere(case_id: UUID) -> bool:
        key = int.from_bytes(case_id.bytes[:8], "big", signed=True)
        async with other.session() as s, s.begin():
            got = await s.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
            return not got.scalar_one()

    try:
        async with db.session() as s:
            async with s.begin():
                await lock_cases(s, [b, a, b])
                assert await taken_elsewhere(a)
                assert await taken_elsewhere(b)
                assert not await taken_elsewhere(c)
                with statements_sent(s) as sent:
                    await lock_case(s, a)
                    await lock_case(s, b)
                    assert sent == []  # both held since lock_cases
                    await lock_case(s, c)
                    assert len(sent) == 1  # not among them: locked now
                assert await taken_elsewhere(c)
            assert not await taken_elsewhere(a)  # released with the transaction
            async with s.begin():  # the same session, a new transaction: nothing is held any more
                with statements_sent(s) as sent:
                    await lock_case(s, a)
                assert len(sent) == 1
                assert await taken_elsewhere(a)
    finally:
        await other.dispose()
        await db.dispose()


async def test_transactions_locking_the_same_cases_in_any_order_wait_for_each_other_without_deadlock(
    postgres_url: str, schema: Schema
) -> None:
    """The locks are taken in the order of their keys, whatever the order of the cases given."""
    db = await open_db(postgres_url, schema)
    cases = [uuid4() for _ in range(6)]

    async def lock_all(order: list[UUID]) -> None:
        async with db.session() as s, s.begin():
            await lock_cases(s, order)
            await asyncio.sleep(0.02)

    try:
        for _ in range(5):
            await asyncio.gather(lock_all(cases), lock_all(cases[::-1]), lock_all(cases[2:] + cases[:2]))
    finally:
        await db.dispose()
