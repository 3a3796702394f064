"""A read-only unit of work (``uow.reading()``): what a request's record-scope check uses. It reads
what was committed, writes nothing, and on PostgreSQL runs each read outside a transaction (one round
trip, not BEGIN, SELECT, ROLLBACK) without leaving autocommit on the pooled connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from reintegra_contracts.events.followup import FollowupDue, FollowupReason
from reintegra_kit.db import Database
from reintegra_kit.direct import DirectResult
from reintegra_kit.outbox import Outbox
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError

from .conftest import Schema, open_db


def unit(db: Database, schema: Schema) -> UnitOfWork:
    return UnitOfWork(db, Outbox(schema.kit, "/test"))


async def test_a_read_only_unit_of_work_reads_what_was_committed(db: Database, schema: Schema) -> None:
    async with unit(db, schema) as u:
        await u.session.execute(insert(schema.effects), [{"event_id": "a"}, {"event_id": "b"}])
        await u.commit()
    async with unit(db, schema).reading() as u:
        count = (await u.session.execute(select(func.count()).select_from(schema.effects))).scalar_one()
        again = (await u.session.execute(select(schema.effects.c.event_id).order_by("event_id"))).scalars()
    assert count == 2
    assert list(again) == ["a", "b"]


async def test_a_read_only_unit_of_work_emits_and_commits_nothing(db: Database, schema: Schema) -> None:
    event = FollowupDue(
        case_id=uuid4(), followup_id=uuid4(), reason=FollowupReason.POST_ARRIVAL, due_at=datetime.now(UTC)
    )
    async with unit(db, schema).reading() as u:
        with pytest.raises(RuntimeError, match="read-only"):
            await u.emit(event)
        with pytest.raises(RuntimeError, match="read-only"):
            await u.emit_many([event])
        with pytest.raises(RuntimeError, match="read-only"):
            await u.commit()
    async with unit(db, schema) as u:
        with pytest.raises(RuntimeError, match="already open"):
            u.reading()
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(schema.kit.outbox))).scalar_one() == 0


XACT_START = text("SELECT xact_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
"""When the transaction of the running statement began."""


async def second_read_alone(u: UnitOfWork) -> bool:
    """Whether a second read runs in a transaction of its own (autocommit), not the first's."""
    first = (await u.session.execute(XACT_START)).scalar_one()
    await asyncio.sleep(0.02)  # the second statement starts measurably later than the first
    return bool((await u.session.execute(XACT_START)).scalar_one() != first)


@pytest.mark.connected
async def test_on_postgresql_its_reads_run_outside_a_transaction_and_the_pool_is_left_as_it_was(
    postgres_url: str, schema: Schema
) -> None:
    db = await open_db(postgres_url, schema)
    try:
        async with unit(db, schema) as u:
            assert await second_read_alone(u) is False  # a unit of work is one transaction
        async with unit(db, schema).reading() as u:
            assert await second_read_alone(u) is True  # each read on its own: no BEGIN, no ROLLBACK
        for _ in range(3):  # the same pooled connection, back to transactions
            async with unit(db, schema) as u:
                assert await second_read_alone(u) is False
                await u.session.execute(insert(schema.effects), {"event_id": str(uuid4())})
                # not committed: leaving rolls it back, which autocommit would not
        async with db.session() as s:
            assert (await s.execute(select(func.count()).select_from(schema.effects))).scalar_one() == 0
    finally:
        await db.dispose()


async def test_on_a_sqlite_file_its_reads_take_a_connection_of_their_own_that_cannot_write(
    tmp_path: Path, schema: Schema
) -> None:
    """The service's one connection may be held by a consumer's batch or the relay: a record-scope
    check reads meanwhile, without waiting for it nor taking the write lock, and sees what was
    committed, not what that transaction has not committed yet."""
    db = await open_db(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}", schema)
    try:
        async with unit(db, schema) as u:
            await u.session.execute(insert(schema.effects), {"event_id": "committed"})
            await u.commit()
        async with unit(db, schema) as writing:  # holds the connection and the write lock
            await writing.session.execute(insert(schema.effects), {"event_id": "not yet"})
            async with asyncio.timeout(5), unit(db, schema).reading() as u:
                seen = (await u.session.execute(select(schema.effects.c.event_id))).scalars().all()
                assert seen == ["committed"]
                with pytest.raises(OperationalError, match="readonly database"):
                    await u.session.execute(insert(schema.effects), {"event_id": "from a read"})
            await writing.commit()
        ordered = select(schema.effects.c.event_id).order_by("event_id")
        for _ in range(2):  # SQLAlchemy's path, then the statement's plan (ADR 0025): the same rows
            async with unit(db, schema).reading() as u:
                result = await u.session.execute(ordered)
                assert list(result.scalars()) == ["committed", "not yet"]
        assert isinstance(result, DirectResult)
        await db.dispose()  # closes the read connection; the next read connects again
        async with unit(db, schema).reading() as u:
            assert list((await u.session.execute(ordered)).scalars()) == ["committed", "not yet"]
    finally:
        await db.dispose()
