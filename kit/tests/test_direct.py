"""Statements run on the driver (sqlite3, asyncpg) from a plan compiled once (``reintegra_kit.direct``,
ADR 0025): the same rows, types, row counts and errors as SQLAlchemy's own path, which a statement
takes the first time and whenever the plan cannot promise that. Each test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from reintegra_kit.db import (
    _CASE_LOCK,
    Database,
    insert_ignoring,
    insert_many_or_ignore,
    insert_or_ignore,
    lock_case,
    plain_insert,
    select_by,
    update_by,
)
from reintegra_kit.direct import DirectResult, Plans
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
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as sqlite_dialect
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError
from sqlalchemy.orm import Session

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
serials = Table(  # a key the database generates
    "direct_serials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(20), nullable=False),
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
UPDATE_BY_ID = update_by(things, "thing_id")
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
    # a transaction's first statement, once planned, checks the connection out and runs from its plan
    for _ in range(2):
        async with db.session() as s, s.begin():
            opening = await s.execute(BY_ID, {"thing_id": ids[1]})
            assert isinstance(opening, DirectResult)
            assert opening.one().name == "thing 1"


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


async def test_a_listener_on_the_transaction_s_own_connection_sees_its_statements(db: Database) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    async with db.session() as s, s.begin():
        for _ in range(2):  # planned: it runs from its plan from here on
            await s.execute(COUNT_ACTIVE, {"active": False})
        connection = (await s.connection()).sync_connection
        assert connection is not None
        event.listen(connection, "before_cursor_execute", record)  # this connection's, not the engine's
        for _ in range(3):
            await s.execute(COUNT_ACTIVE, {"active": False})
    assert len(seen) == 3


async def test_many_parameter_sets_run_on_the_driver_as_sqlalchemy_runs_them(db: Database) -> None:
    """``executemany`` (a list of dicts naming the same columns) of DML returning nothing: the rows,
    the types read back, the conflicts ignored, and the errors are those of SQLAlchemy's path."""
    add = plain_insert(things)
    ignoring = insert_ignoring(db.engine.dialect.name, things, ("thing_id",))
    results: list[Any] = []
    async with db.session() as s, s.begin():
        for start in (0, 10, 20):  # the first run is SQLAlchemy's (ADR 0025), the next ones the plan's
            results.append(await s.execute(add, [thing(n) for n in range(start, start + 3)]))
        for n in (30, 31):  # a list of one: the same statement, run once
            results.append(await s.execute(add, [thing(n)]))
        assert [isinstance(r, DirectResult) for r in results] == [False, True, True, True, True]
        assert planned(db) == 1  # one plan for those names, whatever the number of sets
        got = (await s.execute(select(things).order_by(things.c.seq))).all()
        assert [r.name for r in got] == [f"thing {n}" for n in (0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31)]
        by_name = {r.name: r for r in got}
        sample = thing(21)
        assert by_name["thing 21"].tags == sample["tags"]
        assert by_name["thing 21"].colour is Colour.BLUE
        assert by_name["thing 21"].blob == sample["blob"]
        # as SQLAlchemy reads it back (SQLite keeps no time zone)
        assert by_name["thing 21"].at.replace(tzinfo=None) == sample["at"].replace(tzinfo=None)
        assert type(by_name["thing 21"].at) is type(by_name["thing 0"].at)
        # a conflict ignored, row by row: only the new rows land
        known = [
            {**thing(40), "thing_id": got[0].thing_id},
            thing(41),
            {**thing(42), "thing_id": got[1].thing_id},
        ]
        fresh = [thing(43), thing(44)]
        for rows in ([thing(50)], known, fresh):
            await s.execute(ignoring, rows)
        names = set((await s.execute(select(things.c.name))).scalars().all())
        assert {"thing 41", "thing 43", "thing 44", "thing 50"} <= names
        assert not {"thing 40", "thing 42"} & names
        # an UPDATE for many keys
        bump = update_by(things, "thing_id")
        for rows in ([{"key_thing_id": r.thing_id, "version": 5} for r in got[:2]],) * 2:
            await s.execute(bump, rows)
        versions = (await s.execute(select(things.c.version).order_by(things.c.seq))).scalars().all()
        assert versions[:3] == [5, 5, 1]
        # a duplicate among many raises SQLAlchemy's IntegrityError, and its savepoint undoes the set
        async with s.begin_nested() as savepoint:
            with pytest.raises(IntegrityError):
                await s.execute(add, [thing(60), thing(61, name="thing 1")])
            await savepoint.rollback()
        assert "thing 60" not in set((await s.execute(select(things.c.name))).scalars().all())


async def test_many_parameter_sets_the_plan_cannot_promise_take_sqlalchemy_s_path(db: Database) -> None:
    add = plain_insert(things)
    async with db.session() as s, s.begin():
        for start in (0, 10):
            await s.execute(add, [thing(n) for n in range(start, start + 2)])
        # sets naming different columns: SQLAlchemy's path, which refuses them as it always did
        partial = thing(20)
        del partial["score"]
        with pytest.raises(StatementError, match="A value is required for bind parameter 'score'"):
            await s.execute(add, [thing(21), partial])
        # Python-side defaults are computed per row by SQLAlchemy
        for _ in range(2):
            result = await s.execute(insert(counted), [{}, {}])
            assert not isinstance(result, DirectResult)
        assert (await s.execute(select(counted.c.made_by))).scalars().all() == ["python-default"] * 4
        # RETURNING rows of many sets: on PostgreSQL SQLAlchemy's (insertmanyvalues); on SQLite, whose
        # executemany returns no rows, the plan's statement once per set, the rows together
        returning = insert(things).returning(things.c.name)
        sqlite = db.engine.dialect.name == "sqlite"
        for start in (30, 40):
            result = await s.execute(returning, [thing(start), thing(start + 1)])
            assert isinstance(result, DirectResult) is (sqlite and start == 40)
            assert sorted(result.scalars().all()) == [f"thing {start}", f"thing {start + 1}"]
        # … and of one set: that one INSERT, from its plan, with the same rows back
        for n in (50, 51):
            result = await s.execute(returning, [thing(n)])
            assert isinstance(result, DirectResult)
            assert result.scalars().all() == [f"thing {n}"]
        # insert-or-ignore of one row returns what it inserted, nothing for a row already there
        claimed = [await insert_many_or_ignore(s, things, [thing(n)], ["thing_id"], "name") for n in (60, 61)]
        assert claimed == [{"thing 60"}, {"thing 61"}]
        existing = (
            await s.execute(select(things.c.thing_id).where(things.c.name == "thing 60"))
        ).scalar_one()
        again = {**thing(62), "thing_id": existing}
        assert await insert_many_or_ignore(s, things, [again], ["thing_id"], "name") == set()


async def test_inserts_of_a_generated_key_and_the_case_lock_run_from_plans(db: Database) -> None:
    """On PostgreSQL SQLAlchemy fetches a generated key with an implicit ``RETURNING`` — unless the
    INSERT is inline (the kit's built-once inserts: nothing reads ``inserted_primary_key``) or runs for
    many rows; the case lock is a SELECT built once, not textual SQL."""
    add = plain_insert(serials)
    results = []
    async with db.session() as s, s.begin():
        for n in range(3):
            results.append(await s.execute(add, {"label": f"one {n}"}))
        for n in range(3):
            results.append(await s.execute(add, [{"label": f"many {n}a"}, {"label": f"many {n}b"}]))
        for _ in range(3):
            await lock_case(s, uuid4())
        rows = (await s.execute(select(serials).order_by(serials.c.id))).all()
    assert [isinstance(r, DirectResult) for r in results] == [False, True, True, True, True, True]
    assert [r.label for r in rows] == ["one 0", "one 1", "one 2"] + [
        f"many {n}{x}" for n in range(3) for x in "ab"
    ]
    assert len({r.id for r in rows}) == 9
    plans = db.sessions.class_._plans  # type: ignore[attr-defined]
    assert (id(_CASE_LOCK) in plans._plans) is (db.engine.dialect.name == "postgresql")


@pytest.mark.parametrize("dialect", [sqlite_dialect(), asyncpg_dialect()], ids=["sqlite", "postgresql"])
def test_a_plan_binds_the_values_sqlalchemy_s_construct_params_would(dialect: Any) -> None:
    """The plan picks each position's value itself (the given one, else the statement's own) and
    leaves to SQLAlchemy what it does more (a callable value, an IN list) or refuses (a missing one)."""
    row = thing(1)
    literal_where = select(things.c.name).where(things.c.active == True, things.c.version > 3)  # noqa: E712
    with_default = select(things.c.name).where(things.c.version == bindparam("v", value=7))
    cases: list[tuple[Any, dict[str, Any]]] = [
        (plain_insert(things), row),  # every column, through its type's processor (UUID, enum, JSON…)
        (BY_ID, {"thing_id": row["thing_id"]}),
        (COUNT_ACTIVE, {"active": False}),  # a literal of the statement beside a given value
        (literal_where, {"unrelated": 1}),  # only the statement's own values
        (with_default, {"unrelated": 1}),  # a bind's default
        (with_default, {"v": 9}),  # ... given
        (UPDATE_BY_ID, {"key_thing_id": row["thing_id"], "version": 2, "tags": [1, "two"]}),
    ]
    plans = Plans(dialect)
    for statement, params in cases:
        plan = plans.plan(statement, params) or plans.plan(statement, params)  # from its second time on
        assert plan is not None
        assert plan._positions is not None  # the plan's own path
        fast = plan._bind(params)
        plan._positions = None  # SQLAlchemy's construct_params
        assert plan._bind(params) == fast
    given = with_default.params(v=5)  # values given to params(): construct_params merges them
    plan = plans.plan(given, {"x": 1}) or plans.plan(given, {"x": 1})
    assert plan is not None
    assert plan._positions is None
    assert plan._bind({"x": 1})[1] == (5,)
    by_ids = plans.plan(BY_IDS, {"ids": [uuid4()]}) or plans.plan(BY_IDS, {"ids": [uuid4()]})
    assert by_ids is not None
    assert by_ids._positions is None  # an IN list is rendered per execution: construct_params
    required = plans.plan(BY_ID, {"other": 1}) or plans.plan(BY_ID, {"other": 1})
    assert required is not None
    with pytest.raises(InvalidRequestError, match="A value is required for bind parameter 'thing_id'"):
        required._bind({"other": 1})


async def test_planned_statements_take_the_connection_their_transaction_holds(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once its transaction holds a connection, a planned statement runs on it without asking the
    session for it again (``Session.connection``: a bind lookup and state checks per statement); in a
    savepoint too, whose rows a rollback to it takes away."""
    rows = [thing(n) for n in range(3)]
    async with db.session() as s, s.begin():
        for row in rows:
            await s.execute(plain_insert(things), row)
            await s.execute(BY_ID, {"thing_id": row["thing_id"]})  # planned from here on
    asked: list[int] = []
    real = Session.connection

    def connection(self: Session, *args: Any, **kw: Any) -> Any:
        asked.append(1)
        return real(self, *args, **kw)

    monkeypatch.setattr(Session, "connection", connection)
    async with db.session() as s, s.begin():
        first = await s.execute(BY_ID, {"thing_id": rows[0]["thing_id"]})  # checks the connection out
        opened = len(asked)
        for _ in range(5):
            for row in rows:
                assert (await s.execute(BY_ID, {"thing_id": row["thing_id"]})).one().name == row["name"]
        assert len(asked) == opened  # no more asking
        held = s.sync_session.connection()
        async with s.begin_nested() as savepoint:
            await s.execute(UPDATE_BY_ID, {"key_thing_id": rows[0]["thing_id"], "version": 5})
            assert (await s.execute(BY_ID, {"thing_id": rows[0]["thing_id"]})).one().version == 5
            await savepoint.rollback()
        assert (await s.execute(BY_ID, {"thing_id": rows[0]["thing_id"]})).one().version == 1
        assert s.sync_session.connection() is held
    assert isinstance(first, DirectResult)
    assert 1 <= opened <= 2


class _Stamp(datetime):
    """A datetime subclass: the plan leaves it to SQLAlchemy's processor."""


def test_a_sqlite_timestamp_is_the_text_sqlalchemy_writes() -> None:
    """On SQLite a plan writes a ``DateTime`` from a positional format instead of SQLAlchemy's dict
    format: the same text for every datetime (naive or aware, whatever its zone, microseconds or none,
    the first and last years), and SQLAlchemy's own processor for anything else."""
    dialect = sqlite_dialect()
    statement = plain_insert(things)
    plans = Plans(dialect)
    plan = plans.plan(statement, thing(0)) or plans.plan(statement, thing(0))
    assert plan is not None
    sqlalchemy_s = statement.compile(dialect=dialect, column_keys=sorted(thing(0)))._bind_processors["at"]
    assert plan._processors["at"] is not sqlalchemy_s  # the plan's own
    zones = [None, UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30))]
    values: list[Any] = [
        datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        for year, month, day, hour, minute, second, micro in [
            (2026, 11, 28, 11, 30, 1, 123456),
            (2026, 1, 2, 3, 4, 5, 0),
            (1, 1, 1, 0, 0, 0, 0),
            (9999, 12, 31, 23, 59, 59, 999999),
            (999, 9, 9, 9, 9, 9, 9),
        ]
        for zone in zones
    ]
    values += [
        datetime.now(UTC),
        datetime.now(UTC).replace(tzinfo=None),
        date(2026, 11, 28),
        _Stamp(2026, 11, 28, 1, 2, 3, 4),
    ]
    for value in values:
        assert plan._processors["at"](value) == sqlalchemy_s(value), value
        assert plan._bind(thing(1, at=value))[1][plan.positiontup.index("at")] == sqlalchemy_s(value)
    with pytest.raises(TypeError, match="only accepts Python datetime and date"):
        plan._processors["at"]("2026-11-28")  # refused as SQLAlchemy refuses it
    assert plan._processors["at"](None) is None
    # PostgreSQL's timestamps are asyncpg's to encode: SQLAlchemy's processors, untouched
    pg = Plans(asyncpg_dialect())
    pg_plan = pg.plan(statement, thing(0)) or pg.plan(statement, thing(0))
    assert pg_plan is not None
    assert [p.__qualname__ for p in pg_plan._processors.values()] == [
        p.__qualname__ for p in pg_plan._compiled._bind_processors.values()
    ]


async def test_a_planned_timestamp_reads_back_as_sqlalchemy_s(db: Database) -> None:
    """The text a plan wrote sorts and reads back as SQLAlchemy's: the first insert takes SQLAlchemy's
    path, the others the plan's; the rows come back in time order, each the datetime written."""
    written = [T0 + timedelta(days=n, microseconds=n * 7) for n in range(4)]
    async with db.session() as s, s.begin():
        for n, at in enumerate(written):
            await s.execute(plain_insert(things), thing(n, at=at))
    async with db.session() as s:
        rows = (await s.execute(select(things.c.at).order_by(things.c.at))).all()
    assert [r.at.replace(tzinfo=UTC) for r in rows] == written


async def test_many_sets_of_an_insert_returning_what_it_inserted_land_all_or_none(db: Database) -> None:
    """An inbox's claims of a batch (``insert_many_or_ignore``): the rows inserted, not those already
    there nor a repeat within the sets, run from the plan on SQLite as SQLAlchemy's one multi-row
    statement would, and a set that fails leaves none of the others."""
    sqlite = db.engine.dialect.name == "sqlite"
    async with db.session() as s, s.begin():
        first = [thing(n) for n in range(3)]
        assert await insert_many_or_ignore(s, things, first, ["thing_id"], "name") == {
            "thing 0",
            "thing 1",
            "thing 2",
        }
        for start in (10, 20):  # planned from the second run of the statement (ADR 0025)
            known = {**thing(start), "thing_id": first[0]["thing_id"]}
            fresh = thing(start + 1)
            repeated = {**thing(start + 2), "thing_id": fresh["thing_id"]}
            claimed = await insert_many_or_ignore(
                s, things, [known, fresh, repeated, thing(start + 3)], ["thing_id"], "name"
            )
            assert claimed == {f"thing {start + 1}", f"thing {start + 3}"}
        ignoring = insert_ignoring(db.engine.dialect.name, things, ("thing_id",)).returning(things.c.name)
        for start in (30, 32):
            result = await s.execute(ignoring, [thing(start), thing(start + 1)])
            assert isinstance(result, DirectResult) is (sqlite and start == 32)
            assert sorted(result.scalars()) == [f"thing {start}", f"thing {start + 1}"]
        # a set that breaks another constraint (the unique name): none of the sets land
        async with s.begin_nested() as savepoint:
            with pytest.raises(IntegrityError):
                await s.execute(ignoring, [thing(40), thing(41, name="thing 1"), thing(42)])
            if not sqlite:  # PostgreSQL's transaction is aborted until the savepoint rolls back
                await savepoint.rollback()
        names = set((await s.execute(select(things.c.name))).scalars())
        assert not {"thing 40", "thing 42"} & names
        assert {"thing 30", "thing 33", "thing 21", "thing 23"} <= names
        # and the transaction goes on
        result = await s.execute(ignoring, [thing(50), thing(51)])
        assert sorted(result.scalars()) == ["thing 50", "thing 51"]
