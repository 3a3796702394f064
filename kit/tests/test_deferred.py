"""Writes sent with the commit, a table's together (reintegra_kit.deferred; ADR 0032).

Each test runs on SQLite and on PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from reintegra_kit.clock import ManualClock
from reintegra_kit.db import Database, insert_ignoring, plain_insert, select_by, update_by
from reintegra_kit.deferred import kept_count, tables_of, write_later
from reintegra_kit.outbox import Outbox
from reintegra_kit.testing.statements import statements_sent
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from .conftest import Schema

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _trace(case_id: str) -> dict[str, Any]:
    return {"case_id": case_id, "traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "recorded_at": NOW}


async def _count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


def test_the_tables_of_a_statement_are_known_and_textual_sql_is_not(schema: Schema) -> None:
    traces, effects = schema.kit.case_traces, schema.effects
    assert tables_of(select_by(traces, "case_id")) == {"case_traces"}
    assert tables_of(plain_insert(effects)) == {"effects"}
    joined = select(traces.c.case_id).where(traces.c.case_id.in_(select(effects.c.event_id)))
    assert tables_of(joined) == {"case_traces", "effects"}
    assert tables_of(select(func.now())) == frozenset()
    assert tables_of(text("SELECT 1")) is None


async def test_kept_writes_go_at_the_commit_one_statement_per_table(db: Database, schema: Schema) -> None:
    traces, effects = schema.kit.case_traces, schema.effects
    async with db.session() as s, s.begin():
        with statements_sent(s) as sent:
            for n in range(5):  # interleaved, as a batch's events write them
                await write_later(s, plain_insert(effects), {"event_id": f"e{n}"})
                await write_later(s, insert_ignoring(db.dialect, traces, ("case_id",)), _trace(f"c{n}"))
            assert sent == []  # nothing sent yet
            assert kept_count(s) == 10
            await s.commit()
        assert len(sent) == 2  # one executemany per table
    assert await _count(db, effects) == 5
    assert await _count(db, traces) == 5


async def test_a_statement_touching_a_kept_table_sends_the_kept_writes_first(
    db: Database, schema: Schema
) -> None:
    traces, effects = schema.kit.case_traces, schema.effects
    async with db.session() as s, s.begin():
        await write_later(s, plain_insert(effects), [{"event_id": "e1"}, {"event_id": "e2"}])
        # another table: the kept writes stay kept
        assert (await s.execute(select_by(traces, "case_id"), {"case_id": "x"})).first() is None
        assert kept_count(s) == 1
        # the kept table: the transaction reads its own writes
        found = (await s.execute(select(effects.c.event_id).order_by(effects.c.event_id))).scalars()
        assert list(found) == ["e1", "e2"]
        assert kept_count(s) == 0
        # a write whose order matters: the update runs after the insert kept before it
        await write_later(s, insert_ignoring(db.dialect, traces, ("case_id",)), _trace("c1"))
        await s.execute(update_by(traces, "case_id"), {"key_case_id": "c1", "traceparent": "changed"})
        # textual SQL: its tables are not known, so everything kept goes first
        await write_later(s, plain_insert(effects), {"event_id": "e3"})
        assert (await s.execute(text("SELECT count(*) FROM effects"))).scalar_one() == 3
        await s.commit()
    async with db.session() as s:
        assert (
            await s.execute(select_by(traces, "case_id"), {"case_id": "c1"})
        ).one().traceparent == "changed"


async def test_a_rollback_forgets_the_kept_writes(db: Database, schema: Schema) -> None:
    effects = schema.effects
    async with db.session() as s:
        async with s.begin():
            await write_later(s, plain_insert(effects), {"event_id": "gone"})
            await s.rollback()
        assert kept_count(s) == 0
        async with s.begin():  # the next transaction does not send them
            await write_later(s, plain_insert(effects), {"event_id": "kept"})
            await s.commit()
    async with db.session() as s:
        assert list((await s.execute(select(effects.c.event_id))).scalars()) == ["kept"]


async def test_a_savepoint_rolled_back_takes_only_its_own_writes(db: Database, schema: Schema) -> None:
    effects = schema.effects
    async with db.session() as s, s.begin():
        await write_later(s, plain_insert(effects), {"event_id": "before"})
        savepoint = await s.begin_nested()
        assert kept_count(s) == 0  # sent when the savepoint began
        await write_later(s, plain_insert(effects), {"event_id": "inside"})  # sent at once
        assert kept_count(s) == 0
        await savepoint.rollback()
        await s.commit()
    async with db.session() as s:
        assert list((await s.execute(select(effects.c.event_id))).scalars()) == ["before"]


async def test_a_kept_row_that_breaks_a_constraint_fails_the_commit_and_nothing_is_written(
    db: Database, schema: Schema
) -> None:
    effects = schema.effects
    async with db.session() as s:
        await s.begin()
        await write_later(s, plain_insert(effects), {"event_id": "twice"})
        await write_later(s, plain_insert(effects), {"event_id": "twice"})
        with pytest.raises(IntegrityError):
            await s.commit()
        await s.rollback()
    assert await _count(db, effects) == 0


async def test_timers_scheduled_later_go_together_and_a_cancel_in_the_same_transaction_sees_them(
    db: Database, schema: Schema
) -> None:
    uow = UnitOfWork(db, Outbox(schema.kit, "/test", ManualClock(NOW)))
    async with uow:
        with statements_sent(uow.session) as sent:
            for n in range(4):
                await uow.timers.schedule_later("test.due", f"k{n}", NOW + timedelta(days=n))
            assert sent == []
            assert await uow.timers.cancel("test.due", "k0")  # the kept rows are written first
            await uow.commit()
        assert len(sent) == 2  # the four timers in one statement, then the cancel
    async with uow:
        assert (await uow.timers.get("test.due", "k0")) is not None
        assert [(await uow.timers.get("test.due", f"k{n}"))[0] for n in range(4)] == [  # type: ignore[index]
            "cancelled",
            "scheduled",
            "scheduled",
            "scheduled",
        ]


async def test_the_case_traces_of_a_transaction_are_written_at_its_commit_in_one_statement(
    db: Database, schema: Schema
) -> None:
    tracer = TracerProvider().get_tracer("test")
    uow = UnitOfWork(db, Outbox(schema.kit, "/test"))
    cases = [str(uuid4()) for _ in range(4)]
    first = cases[0]
    async with db.session() as s, s.begin():  # another transaction recorded the first case's trace
        await s.execute(plain_insert(schema.kit.case_traces), {**_trace(first), "traceparent": "theirs"})
    with tracer.start_as_current_span("a batch"):
        async with uow:
            with statements_sent(uow.session) as sent:
                for case_id in cases:
                    with uow.trace_scope("event", follow=False):
                        await uow.track_case(case_id)
                assert sent == []
                await uow.commit()
            assert len(sent) == 1
    async with db.session() as s:
        stored = {r.case_id: r.traceparent for r in await s.execute(select(schema.kit.case_traces))}
    assert stored[first] == "theirs"  # not replaced
    ours = {stored[c] for c in cases[1:]}
    assert len(ours) == 1
    assert "theirs" not in ours
    # what the process learned: ours where ours went in, "exists" (no context) where another's was first
    assert all(db.known_case_traces.traceparent(c) == stored[c] for c in cases[1:])
    assert first in db.known_case_traces
    assert db.known_case_traces.traceparent(first) is None


async def test_a_case_created_by_a_command_takes_its_trace_without_a_read(
    db: Database, schema: Schema
) -> None:
    """A command (which follows a case's stored trace) that creates the case: no trace can be
    stored yet, so none is read; the current one is written with the commit and learned."""
    tracer = TracerProvider().get_tracer("test")
    uow = UnitOfWork(db, Outbox(schema.kit, "/test"))
    created, existing = str(uuid4()), str(uuid4())
    with tracer.start_as_current_span("POST /v1/arrivals") as span:
        async with uow:
            with statements_sent(uow.session) as sent, uow.trace_scope("RegisterArrival", follow=True):
                uow.case_is_new(created)
                await uow.track_case(created)
                assert sent == []  # not read
                await uow.track_case(existing)  # not new: read, then (none stored) written at once
                assert len(sent) == 2
            await uow.commit()
    async with db.session() as s:
        stored = {r.case_id: r.traceparent for r in await s.execute(select(schema.kit.case_traces))}
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert stored[created].split("-")[1] == trace_id
    assert db.known_case_traces.traceparent(created) == stored[created]
