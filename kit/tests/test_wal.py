"""SQLite's WAL is checkpointed by the kit's thread, never inside a commit on the event loop (ADR 0034)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

from reintegra_kit.db import Database
from reintegra_kit.wal import RESTART_WAIT_MS, WalCheckpointer
from sqlalchemy import text

ROWS = 400
PAYLOAD = os.urandom(2000)


def size(path: Path | str) -> int:
    return os.stat(path).st_size


async def write_rows(db: Database, rows: int = ROWS) -> None:
    for start in range(0, rows, 50):
        async with db.session() as session, session.begin():
            for n in range(start, start + 50):
                await session.execute(
                    text("INSERT INTO t (id, payload) VALUES (:id, :p)"), {"id": n, "p": PAYLOAD}
                )


async def grown_to(path: Path, length: int) -> None:
    async with asyncio.timeout(10):
        while size(path) < length:  # noqa: ASYNC110  # a file's length: no event to wait for
            await asyncio.sleep(0.01)


async def test_commits_leave_the_checkpoints_to_the_thread_which_copies_the_log_back(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    checkpointer = db.checkpointer
    assert checkpointer is not None
    checkpointer.interval_s = 3600.0  # no checkpoint until asked below
    try:
        async with db.session() as session, session.begin():
            await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)"))
            autocheckpoint = (await session.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        assert autocheckpoint == 0  # a commit never checkpoints on the event loop
        before = size(path)
        await write_rows(db)
        # ~800 KB of log, well past SQLite's automatic threshold (1,000 pages): still all in the WAL
        assert size(path) == before
        assert size(f"{path}-wal") > ROWS * len(PAYLOAD)

        assert checkpointer.running
        checkpointer.stop()
        checkpointer.interval_s = 0.01
        checkpointer.start()
        await grown_to(path, ROWS * len(PAYLOAD))  # the thread copied the log into the file
        await asyncio.to_thread(checkpointer.stop)
        assert checkpointer.checkpoints >= 1
        async with db.session() as session:
            count = (await session.execute(text("SELECT count(*) FROM t"))).scalar()
        assert count == ROWS
    finally:
        await db.dispose()


def test_a_log_past_its_bound_is_restarted_and_a_shorter_one_only_copied(tmp_path: Path) -> None:
    path = tmp_path / "bound.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
    checkpointer = WalCheckpointer(path, restart_at_bytes=1_000_000)
    run: list[str] = []
    connection = sqlite3.connect(path, isolation_level=None)
    connection.set_trace_callback(run.append)
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    try:
        for n in range(10):  # ~100 KB of log
            writer.execute("INSERT INTO t (id, payload) VALUES (?, ?)", (n, PAYLOAD))
        checkpointer._checkpoint(connection, page_size)
        assert run[-1] == "PRAGMA wal_checkpoint(PASSIVE)"
        assert checkpointer.restarts == 0
        for n in range(10, 400):  # past 1 MB
            writer.execute("INSERT INTO t (id, payload) VALUES (?, ?)", (n, PAYLOAD))
        checkpointer._checkpoint(connection, page_size)
        assert run[-2:] == ["PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA wal_checkpoint(RESTART)"]
        assert checkpointer.restarts == 1
        writer.execute("INSERT INTO t (id, payload) VALUES (400, x'00')")
        # the writer started the log again from its first frame
        frames = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        assert frames <= 3
    finally:
        connection.close()
        writer.close()


async def test_dispose_stops_the_thread_and_the_next_connection_starts_it(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'again.db'}")
    checkpointer = db.checkpointer
    assert checkpointer is not None
    assert not checkpointer.running  # started by the first connection, not by the object
    try:
        await db.ping()
        assert checkpointer.running
        await db.dispose()
        assert not checkpointer.running
        await db.ping()
        assert checkpointer.running
    finally:
        await db.dispose()
    assert not checkpointer.running


def test_only_a_database_file_has_a_checkpointer() -> None:
    assert Database("sqlite+aiosqlite:///:memory:").checkpointer is None
    assert Database("postgresql+asyncpg://u:p@127.0.0.1:1/none").checkpointer is None


def test_a_restart_that_a_reader_holds_up_gives_up_soon_and_the_next_interval_tries_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "held.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
    reader = sqlite3.connect(path, isolation_level=None)  # another process's long query, say
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # holds its snapshot until it ends
    checkpointer = WalCheckpointer(path, restart_at_bytes=100_000)
    connection = sqlite3.connect(path, timeout=RESTART_WAIT_MS / 1000, isolation_level=None)
    try:
        for n in range(100):
            writer.execute("INSERT INTO t (id, payload) VALUES (?, ?)", (n, PAYLOAD))
        started = time.monotonic()
        checkpointer._checkpoint(connection, 4096)
        # gave up after its short wait (the service's writers wait while a restart waits)
        assert time.monotonic() - started < 2.0
        assert checkpointer.restarts == 0
        writer.execute("INSERT INTO t (id, payload) VALUES (100, x'00')")  # writers go on
        reader.execute("COMMIT")
        checkpointer._checkpoint(connection, 4096)  # the next interval
        assert checkpointer.restarts == 1
    finally:
        connection.close()
        reader.close()
        writer.close()
