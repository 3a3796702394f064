"""PostgreSQL connections are pinged when they sat idle in the pool, not at every checkout
(``reintegra_kit.db._ping_when_idle``): what a hot, an idle and a lost connection do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from reintegra_kit import db as kit_db
from reintegra_kit.db import Database
from reintegra_kit.errors import is_infrastructure_error
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.connected


@pytest.fixture
async def db(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    monkeypatch.setattr(kit_db, "PING_AFTER_IDLE_S", 0.3)  # the tests wait past it
    database = Database(postgres_url)
    yield database
    await database.dispose()


def count_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    dialect = db.engine.sync_engine.dialect
    pings: list[Any] = []
    real = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def backend_pid(db: Database) -> int:
    async with db.session() as s, s.begin():
        return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(url: str, pid: int) -> None:
    other = Database(url)
    try:
        async with other.session() as s, s.begin():
            await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_in_use_moments_ago_is_not_pinged_and_an_idle_one_is(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(db, monkeypatch)
    pids = {await backend_pid(db) for _ in range(20)}
    assert pings == []  # one connection, back in the pool within milliseconds each time
    assert len(pids) == 1
    await asyncio.sleep(0.5)
    assert await backend_pid(db) in pids  # the same connection, pinged once first
    assert len(pings) == 1


async def test_a_connection_lost_while_idle_is_replaced_before_use(
    db: Database, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(db, monkeypatch)
    lost = await backend_pid(db)
    await terminate(postgres_url, lost)
    await asyncio.sleep(0.5)
    assert await backend_pid(db) != lost  # no error: the ping found it gone, the pool reconnected
    assert len(pings) == 1


async def test_a_connection_lost_while_in_use_fails_once_as_an_outage_then_the_pool_is_fresh(
    db: Database, postgres_url: str
) -> None:
    lost = await backend_pid(db)
    await terminate(postgres_url, lost)
    # within the idle window the connection is trusted: its next statement finds it gone, and the
    # error is an outage (a consumer redelivers; HTTP answers 503 with Retry-After)
    with pytest.raises(DBAPIError) as raised:
        await backend_pid(db)
    assert is_infrastructure_error(raised.value)
    assert await backend_pid(db) != lost


async def test_the_pool_is_fixed_no_connection_beyond_it_none_closed_after_a_peak(postgres_url: str) -> None:
    """A peak of work waits for the pool's connections instead of opening more, and leaves them open:
    a connection opened for a peak and closed after it would cost a connect, authentication and every
    statement prepared again on the next peak (ADR 0029)."""
    database = Database(postgres_url, pool_size=3)
    try:

        async def hold() -> int:
            async with database.session() as s, s.begin():
                pid = int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                await asyncio.sleep(0.05)
                return pid

        first_peak = set(await asyncio.gather(*(hold() for _ in range(12))))
        second_peak = set(await asyncio.gather(*(hold() for _ in range(12))))
        assert len(first_peak) == 3  # twelve units of work at once shared three connections
        assert second_peak == first_peak  # the same three: none was closed after the first peak
        assert database.engine.sync_engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        await database.dispose()
