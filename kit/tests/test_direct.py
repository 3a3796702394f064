"""Statements run on the driver (sqlite3, asyncpg) from a plan compiled once (``reintegra_kit.direct``,
ADR 0025): the same rows, types, row counts and errors as SQLAlchemy's own path, which a statement
takes the first time and whenever the plan cannot promise that. Each test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from reintegra_kit.db import Database, insert_or_ignore, plain_insert, select_by, update_by
from reintegra_kit.direct import DirectResult
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    event,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError

T0 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


metadata = MetaData()
things = Table(
    "direct_things",
    metadata,
    Column("thing_id", Uuid, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("colour", Enum(Colour, native_enum=False, values_callable=lambda e: [m.value for m in e])),
    Column("tags", JSON, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("score", Float, nullable=True),
    Column("seq", BigInteger, nullable=True),
)
counted = Table(
    "direct_counted",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("made_by", String(20), nullable=False, default=lambda: "python-default"),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield database
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await database.dispose()


def thing(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "thing_id": uuid4(),
        "name": f"thing {n}",
        "at": T0 + timedelta(minutes=n),
        "colour": Colour.BLUE if n % 2 else Colour.RED,
        "tags": {"n": n, "list": [1, "two"]} if n % 3 else None,
        "active": bool(n % 2),
        "version": 1,
        "blob": bytes([n, 0, 255]) if n % 2 else None,
        "score": n / 3 if n % 2 else None,
        "seq": 2**40 + n,
        **overrides,
    }


BY_ID = select_by(things, "thing_id")
BY_IDS = select(things).where(things.c.thing_id.in_(bindparam("ids", expanding=True))).order_by(things.c.name)
COUNT_ACTIVE = select(func.count(), literal("x").label("marker")).where(
    things.c.active == bindparam("active")
)


def planned(db: Database) -> int:
    plans = getattr(db.sessions.class_, "_plans", None)
    return len(plans) if plans is not None else 0


async def test_a_statement_run_again_gives_what_sqlalchemy_gave_the_first_time(db: Database) -> None:
    rows = [thing(n) for n in range(6)]
    async with db.session() as s, s.begin():
        for row in rows:
            await s.execute(plain_insert(things), row)
        first = [(await s.execute(BY_ID, {"thing_id": r["thing_id"]})).one() for r in rows]
        again = [(await s.execute(BY_ID, {"thing_id": r["thing_id"]})).one() for r in rows]
        # the same values of the same types, and the same access by name
        assert [tuple(r) for r in again] == [tuple(r) for r in first]
        assert [[type(v) for v in r] for r in again] == [[type(v) for v in r] for r in first]
        assert again[1].tags == {"n": 1, "list": [1, "two"]}
        assert again[0].tags is None
        assert again[1].colour is Colour.BLUE
        assert isinstance(again[1].thing_id, UUID)
        assert again[2]._mapping["name"] == "thing 2"
        assert again[1].blob == bytes([1, 0, 255])
        assert again[1].score == pytest.approx(1 / 3)
        assert again[0].at == first[0].at
        # an IN list of any length, rendered as SQLAlchemy renders it
        ids = [r["thing_id"] for r in rows]
        for size in (1, 4, 6, 2):
            got = (await s.execute(BY_IDS, {"ids": ids[:size]})).all()
            assert [r.name for r in got] == sorted(f"thing {n}" for n in range(size))
        assert (await s.execute(BY_IDS, {"ids": []})).all() == []
        # labels, literals and aggregates
        counts = [(await s.execute(COUNT_ACTIVE, {"active": True})).one() for _ in range(2)]
        assert [(c.count_1, c.marker) for c in counts] == [(3, "x"), (3, "x")]
        last = await s.execute(BY_ID, {"thing_id": ids[0]})
    assert isinstance(last, DirectResult)
    assert planned(db) >= 3


async def test_row_counts_errors_and_savepoints_are_sqlalchemy_s(db: Database) -> None:
    row = thing(1)
    async with db.session() as s, s.begin():
        await s.execute(plain_insert(things), row)
        await s.execute(plain_insert(things), thing(2))
        set_version = update_by(things, "thing_id").where(things.c.version == bindparam("loaded"))
        for loaded, expected in ((1, 1), (1, 0), (2, 1), (2, 0)):  # a stale version changes nothing
            result = await s.execute(
                set_version, {"key_thing_id": row["thing_id"], "loaded": loaded, "version": loaded + 1}
            )
            assert getattr(result, "rowcount", None) == expected
        # a duplicate raises SQLAlchemy's IntegrityError and the savepoint's work is undone
        for _ in range(2):
            async with s.begin_nested() as savepoint:
                await s.execute(plain_insert(things), thing(3))
                with pytest.raises(IntegrityError):
                    await s.execute(plain_insert(things), thing(3, name="thing 1"))
                await savepoint.rollback()
        assert (await s.execute(select(func.count()).select_from(things))).scalar_one() == 2
        # insert-or-ignore reports whether the row was new
        fresh = thing(4)
        assert await insert_or_ignore(s, things, fresh, ["thing_id"])
        assert not await insert_or_ignore(s, things, fresh, ["thing_id"])
        assert not await insert_or_ignore(s, things, fresh, ["thing_id"])
        [version] = (
            await s.execute(
                select_by(things, "thing_id", columns=("version",)), {"thing_id": row["thing_id"]}
            )
        ).one()
        assert version == 3


async def test_python_side_defaults_and_listeners_take_sqlalchemy_s_path(db: Database) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    add = insert(counted)
    async with db.session() as s, s.begin():
        for _ in range(3):  # SQLAlchemy computes the column's Python default for each row
            await s.execute(add, {})
        assert (await s.execute(select(counted.c.made_by))).scalars().all() == ["python-default"] * 3
        before = planned(db)
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:  # a listener sees every statement, planned or not (tests count statements this way)
            for _ in range(3):
                await s.execute(COUNT_ACTIVE, {"active": False})
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        assert len(seen) == 3
        assert planned(db) <= before + 1
