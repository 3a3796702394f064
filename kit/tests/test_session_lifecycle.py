"""The kit's sessions begin, end and close transactions without a greenlet whenever nothing can await
(``reintegra_kit.db._Lifecycle``), and take SQLAlchemy's path when something can. On SQLite (a file
database) that is all of a transaction but taking a connection another transaction holds or that must
connect anew; on PostgreSQL, beginning and closing (taking a connection, COMMIT and ROLLBACK await)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.ext.asyncio.engine as async_engine
import sqlalchemy.ext.asyncio.session as async_session
from reintegra_kit.db import Database, select_by
from sqlalchemy import Column, Integer, MetaData, String, Table, text


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with database.session() as s, s.begin():
        await s.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def greenlets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of what ran in SQLAlchemy's greenlets (``greenlet_spawn``) from here on."""
    spawned: list[str] = []
    real = async_session.greenlet_spawn

    def counted(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        spawned.append(getattr(fn, "__qualname__", repr(fn)))
        return real(fn, *args, **kw)

    monkeypatch.setattr(async_session, "greenlet_spawn", counted)
    monkeypatch.setattr(async_engine, "greenlet_spawn", counted)
    return spawned


async def bodies(db: Database) -> list[str]:
    async with db.session() as s:
        return [row[0] for row in await s.execute(text("SELECT body FROM notes ORDER BY id"))]


async def refused_write(db: Database) -> None:
    async with db.session() as s, s.begin():
        await s.execute(text("INSERT INTO notes (body) VALUES ('rolled back')"))
        raise RuntimeError("refused")


async def test_transactions_on_the_free_connection_run_without_a_greenlet(
    db: Database, greenlets: list[str]
) -> None:
    for i in range(5):  # as the relay and the HTTP handlers write: async with session.begin()
        async with db.session() as s, s.begin():
            await s.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"context {i}"})
    s = db.session()  # as a unit of work writes: begin, statements, commit, close
    await s.begin()
    await s.execute(text("INSERT INTO notes (body) VALUES ('unit of work')"))
    await s.commit()
    await s.close()
    with pytest.raises(RuntimeError, match="refused"):  # an error inside: rolled back
        await refused_write(db)
    s = db.session()
    await s.begin()
    await s.execute(text("INSERT INTO notes (body) VALUES ('rolled back too')"))
    await s.rollback()
    await s.close()

    assert greenlets == []
    assert await bodies(db) == [*(f"context {i}" for i in range(5)), "unit of work"]


async def test_a_transaction_waits_for_the_connection_another_one_holds(
    db: Database, greenlets: list[str]
) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.session() as s, s.begin():
            await s.execute(text("INSERT INTO notes (body) VALUES ('first')"))
            holding.set()
            await release.wait()

    async def second() -> None:
        await holding.wait()
        async with db.session() as s, s.begin():  # the pool's one connection is taken: it waits
            await s.execute(text("INSERT INTO notes (body) VALUES ('second')"))

    task = asyncio.create_task(second())
    holder = asyncio.create_task(first())
    await holding.wait()
    await asyncio.sleep(0.05)
    assert not task.done()  # waiting for the connection, in SQLAlchemy's greenlet
    release.set()
    await asyncio.gather(holder, task)

    assert await bodies(db) == ["first", "second"]
    assert any("connection" in name or "execute" in name for name in greenlets)


async def test_an_invalidated_connection_is_connected_anew_on_sqlalchemy_s_path(
    db: Database, greenlets: list[str]
) -> None:
    async with db.session() as s:
        connection = await s.connection()
        await connection.invalidate()  # e.g. after "disk I/O error": its next use connects anew
    greenlets.clear()

    async with db.session() as s, s.begin():
        await s.execute(text("INSERT INTO notes (body) VALUES ('after')"))
    assert greenlets  # connecting awaits aiosqlite: SQLAlchemy's greenlet
    greenlets.clear()

    async with db.session() as s, s.begin():  # connected again: no greenlet from here on
        await s.execute(text("INSERT INTO notes (body) VALUES ('again')"))
    assert greenlets == []
    assert await bodies(db) == ["after", "again"]


PG_METADATA = MetaData()
PG_NOTES = Table(
    "lifecycle_notes",
    PG_METADATA,
    Column("id", Integer, primary_key=True),
    Column("body", String(40), nullable=False),
)


@pytest.mark.connected
async def test_on_postgresql_only_taking_the_connection_and_its_commit_or_rollback_await(
    postgres_url: str, greenlets: list[str]
) -> None:
    db = Database(postgres_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(PG_METADATA.drop_all)
            await conn.run_sync(PG_METADATA.create_all)
            await conn.execute(PG_NOTES.insert(), [{"id": 1, "body": "one"}])
        read = select_by(PG_NOTES, "id")
        for _ in range(2):  # a statement run twice runs from its plan (no greenlet of its own)
            async with db.session() as s, s.begin():
                assert (await s.execute(read, {"id": 1})).one().body == "one"
        greenlets.clear()

        async with db.session() as s, s.begin():  # as the relay reads: async with session.begin()
            assert (await s.execute(read, {"id": 1})).one().body == "one"
        assert greenlets == ["Session.connection", "TransactionalContext.__exit__"]  # and COMMIT
        greenlets.clear()

        s = db.session()  # as a unit of work: begin, statements, commit, close
        await s.begin()
        assert (await s.execute(read, {"id": 1})).one().body == "one"
        await s.commit()
        await s.close()
        assert greenlets == ["Session.connection", "Session.commit"]
        greenlets.clear()

        s = db.session()  # a unit of work that ran nothing: no I/O at all
        await s.begin()
        await s.rollback()
        await s.close()
        assert greenlets == []
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(PG_METADATA.drop_all)
        await db.dispose()
