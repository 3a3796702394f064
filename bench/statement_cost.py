"""What one statement costs the services, against the bare driver in the same run. Run by hand (not a test)::

    uv run python bench/statement_cost.py                 # SQLite (a file, WAL, as the services use it)
    REINTEGRA_TEST_PG_URL=postgresql+asyncpg://user:pw@host:port uv run python bench/statement_cost.py --postgres

The services' hot path runs ~80 statements per case (docs/performance.md). This times, in one
transaction, a primary-key ``SELECT`` and an ``INSERT`` of a row like the services' (a UUID, text,
a timestamp) four ways, in alternating rounds so that the load of a shared machine weighs on each alike:

* ``session`` — a statement built once (``reintegra_kit.db.select_by``) executed on the kit's
  session, as the repositories run it (``AsyncSession.execute``; once the statement has run and the
  transaction holds its connection, the kit's session runs it on the driver from a plan compiled
  once: ADR 0025);
* ``connection`` — ``AsyncConnection.execute`` of the same statement (no ORM session layer);
* ``sync in one greenlet`` — the same statements through a synchronous session inside ONE
  ``run_sync`` (no greenlet switch per statement);
* ``driver`` — the DB-API connection underneath (sqlite3; asyncpg's prepared statement) with the
  SQL text: the baseline.

It also times whole transactions — ``BEGIN``, a ``SELECT`` by key, ``COMMIT`` — as a request or a
consumer batch has one, through the kit's session (taking its connection from the pool, closing) and
on the driver: what a transaction costs beyond its statements. It prints microseconds per statement
and per transaction (median of the rounds) and the ratio to the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reintegra_kit.db import Database, plain_insert, select_by
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid

METADATA = MetaData()
ROWS = Table(
    "statement_cost",
    METADATA,
    Column("id", Uuid, primary_key=True),
    Column("label", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--postgres", action="store_true", help="on REINTEGRA_TEST_PG_URL's server, not SQLite")
    p.add_argument("--statements", type=int, default=2000, help="statements per way and round (2000)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    args = p.parse_args(argv)
    if args.statements < 1 or args.rounds < 1:
        p.error("--statements and --rounds must be at least 1")
    if args.postgres and not os.environ.get("REINTEGRA_TEST_PG_URL"):
        p.error("--postgres needs REINTEGRA_TEST_PG_URL (postgresql+asyncpg://user:pw@host:port)")
    return args


async def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    if args.postgres:
        url = os.environ["REINTEGRA_TEST_PG_URL"].rstrip("/") + "/postgres"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='reintegra-stmt-')) / 'cost.db'}"
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(METADATA.drop_all)
            await conn.run_sync(METADATA.create_all)
        ids = [uuid.uuid4() for _ in range(200)]
        now = datetime.now(UTC)
        async with db.session() as s, s.begin():
            await s.execute(plain_insert(ROWS), [{"id": i, "label": "seed", "at": now} for i in ids])
        times: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.rounds):
            for way, timed in (await _ways(db, ids, args.statements)).items():
                for kind, seconds in timed.items():
                    times.setdefault(way, {}).setdefault(kind, []).append(seconds)
        return {
            way: {kind: statistics.median(v) / args.statements * 1e6 for kind, v in kinds.items()}
            for way, kinds in times.items()
        }
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(METADATA.drop_all)
        await db.dispose()


async def _ways(db: Database, ids: list[uuid.UUID], n: int) -> dict[str, dict[str, float]]:
    select_one = select_by(ROWS, "id")
    insert_one = plain_insert(ROWS)
    now = datetime.now(UTC)
    out: dict[str, dict[str, float]] = {}

    async def timed(fn: Callable[[], Awaitable[None]]) -> float:
        started = time.perf_counter()
        await fn()
        return time.perf_counter() - started

    async with db.session() as s:
        await s.begin()
        conn = await s.connection()

        async def session_select() -> None:
            for i in range(n):
                (await s.execute(select_one, {"id": ids[i % len(ids)]})).first()

        async def session_insert() -> None:
            for _ in range(n):
                await s.execute(insert_one, {"id": uuid.uuid4(), "label": "x", "at": now})

        async def conn_select() -> None:
            for i in range(n):
                (await conn.execute(select_one, {"id": ids[i % len(ids)]})).first()

        async def conn_insert() -> None:
            for _ in range(n):
                await conn.execute(insert_one, {"id": uuid.uuid4(), "label": "x", "at": now})

        def sync_select(sync_session: Any) -> None:
            for i in range(n):
                sync_session.execute(select_one, {"id": ids[i % len(ids)]}).first()

        def sync_insert(sync_session: Any) -> None:
            for _ in range(n):
                sync_session.execute(insert_one, {"id": uuid.uuid4(), "label": "x", "at": now})

        async def greenlet_select() -> None:
            await s.run_sync(sync_select)

        async def greenlet_insert() -> None:
            await s.run_sync(sync_insert)

        raw = (await conn.get_raw_connection()).driver_connection
        driver_select, driver_insert = _driver(db.dialect, raw, ids, n, now)
        out["session"] = {"select": await timed(session_select), "insert": await timed(session_insert)}
        out["connection"] = {"select": await timed(conn_select), "insert": await timed(conn_insert)}
        out["sync in one greenlet"] = {
            "select": await timed(greenlet_select),
            "insert": await timed(greenlet_insert),
        }
        out["driver"] = {"select": await timed(driver_select), "insert": await timed(driver_insert)}
        await s.rollback()
    # a whole transaction as a request or a consumer batch has one: begin, a SELECT by key, commit
    # (and, for the session, taking the connection from the pool and closing)
    out["session"]["transaction"] = await timed(_session_transactions(db, select_one, ids, n))
    async with db.engine.connect() as held:
        raw = (await held.get_raw_connection()).driver_connection
        out["driver"]["transaction"] = await timed(_driver_transactions(db.dialect, raw, ids, n))
    return out


def _session_transactions(
    db: Database, select_one: Any, ids: list[uuid.UUID], n: int
) -> Callable[[], Awaitable[None]]:
    async def transactions() -> None:
        for i in range(n):
            async with db.session() as s, s.begin():
                (await s.execute(select_one, {"id": ids[i % len(ids)]})).first()

    return transactions


def _driver_transactions(
    dialect: str, raw: Any, ids: list[uuid.UUID], n: int
) -> Callable[[], Awaitable[None]]:
    if dialect == "sqlite":
        sqlite = raw._conn

        async def sqlite_transactions() -> None:
            for i in range(n):
                sqlite.execute("BEGIN IMMEDIATE")
                sqlite.execute(
                    "SELECT id, label, at FROM statement_cost WHERE id = ?", (ids[i % len(ids)].hex,)
                ).fetchone()
                sqlite.commit()

        return sqlite_transactions

    async def pg_transactions() -> None:
        prepared = await raw.prepare("SELECT id, label, at FROM statement_cost WHERE id = $1")
        for i in range(n):
            async with raw.transaction():
                await prepared.fetchrow(ids[i % len(ids)])

    return pg_transactions


def _driver(
    dialect: str, raw: Any, ids: list[uuid.UUID], n: int, now: datetime
) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    if dialect == "sqlite":
        sqlite = raw._conn  # the sqlite3 connection under aiosqlite (the kit runs it inline)
        stamp = now.isoformat(sep=" ")

        async def select() -> None:
            for i in range(n):
                sqlite.execute(
                    "SELECT id, label, at FROM statement_cost WHERE id = ?", (ids[i % len(ids)].hex,)
                ).fetchone()

        async def insert() -> None:
            for _ in range(n):
                sqlite.execute(
                    "INSERT INTO statement_cost (id, label, at) VALUES (?, ?, ?)",
                    (uuid.uuid4().hex, "x", stamp),
                )

        return select, insert

    async def pg_select() -> None:
        prepared = await raw.prepare("SELECT id, label, at FROM statement_cost WHERE id = $1")
        for i in range(n):
            await prepared.fetchrow(ids[i % len(ids)])

    async def pg_insert() -> None:
        prepared = await raw.prepare("INSERT INTO statement_cost (id, label, at) VALUES ($1, $2, $3)")
        for _ in range(n):
            await prepared.fetch(uuid.uuid4(), "x", now)

    return pg_select, pg_insert


def render(results: dict[str, dict[str, float]], dialect: str) -> str:
    base = results["driver"]
    lines = [
        f"## One statement's cost ({dialect}; µs per statement or transaction, median of the rounds)",
        "",
        "| way | SELECT by key | x driver | INSERT | x driver | transaction | x driver |",
        "|---|---|---|---|---|---|---|",
    ]
    for way, kinds in results.items():
        cells = [way]
        for kind in ("select", "insert", "transaction"):
            if kind in kinds:
                cells += [f"{kinds[kind]:.1f}", f"{kinds[kind] / base[kind]:.1f}"]
            else:
                cells += ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "transaction: BEGIN, a SELECT by key and COMMIT, through the kit's session (taking its "
        "connection from the pool, closing) or on the driver.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    results = asyncio.run(run(args))
    print(render(results, "PostgreSQL" if args.postgres else "SQLite"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
