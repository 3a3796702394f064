"""Pytest fixtures for tests that need the real broker and database.

Loaded for the whole suite (``-p reintegra_kit.testing.pytest_plugin``). Each test session gets its
own topic prefix and its own PostgreSQL databases, dropped at the end.

It also gives each test a time limit by folder (ini option ``timeouts``, lines ``<folder> = <seconds>``;
the longest matching folder wins, a test's own ``@pytest.mark.timeout`` overrides it): a regression
that makes a test wait forever (a consumer that never parks, a reader that never sees its record) must
fail in seconds, not stall CI until pytest-timeout's global limit. pytest-timeout fails the test by a
signal, which code under test can swallow (a loop catching ``BaseException``, a task left running on
the shared event loop); so a backstop ends the whole session, with every thread's stack on stderr,
when a test overruns its limit twice over.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
from collections.abc import Awaitable, Callable, Generator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from . import infra
from .auth import TestIssuer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "timeouts",
        type="linelist",
        help="per-test time limit by folder: lines '<folder relative to the rootdir> = <seconds>'",
        default=[],
    )


def folder_timeouts(lines: list[str]) -> list[tuple[tuple[str, ...], float]]:
    """Parse the ``timeouts`` lines into (folder parts, seconds), longest folder first."""
    parsed: list[tuple[tuple[str, ...], float]] = []
    for line in lines:
        folder, sep, seconds = line.partition("=")
        if not sep or not folder.strip():
            raise pytest.UsageError(f"timeouts: {line!r} is not '<folder> = <seconds>'")
        try:
            limit = float(seconds)
        except ValueError:
            raise pytest.UsageError(f"timeouts: {seconds.strip()!r} in {line!r} is not a number") from None
        parsed.append((Path(folder.strip()).parts, limit))
    return sorted(parsed, key=lambda item: len(item[0]), reverse=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    limits = folder_timeouts(config.getini("timeouts"))
    if not limits:
        return
    root = Path(str(config.rootpath))
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        try:
            parts = Path(str(item.path)).relative_to(root).parts
        except ValueError:
            continue
        for folder, limit in limits:
            if parts[: len(folder)] == folder:
                item.add_marker(pytest.mark.timeout(limit))
                break


def backstop_s(limit: float) -> float:
    """When the session is ended if a test with time limit ``limit`` is still running."""
    return 2 * limit + 5


_real_stderr: int = 2


def pytest_configure(config: pytest.Config) -> None:
    # The stacks must reach the real stderr, not the capture of the test that hangs.
    global _real_stderr
    _real_stderr = os.dup(2)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker is not None and marker.args else 0.0
    if limit > 0:
        faulthandler.dump_traceback_later(backstop_s(limit), exit=True, file=_real_stderr)
    try:
        yield
    finally:
        if limit > 0:
            faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def kafka_bootstrap(session_tag: str) -> Iterator[str]:
    """Bootstrap address of a real Kafka broker; the topics this session made are deleted at its end
    (a broker that serves many sessions would otherwise run out of file handles, one per partition)."""
    bootstrap = infra.kafka_bootstrap()
    yield bootstrap
    asyncio.run(_delete_topics(bootstrap, f"test-{session_tag}."))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        for i in range(0, len(mine), 200):
            await admin.delete_topics(mine[i : i + 200])
    except Exception as exc:
        print(f"reintegra: could not delete this session's topics ({exc!r})")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """URL of a real PostgreSQL server, without a database name."""
    return infra.postgres_server_url()


@pytest.fixture(scope="session")
def session_tag() -> str:
    """A tag unique to this test session (topic prefixes, database names)."""
    return uuid4().hex[:8]


@pytest.fixture(scope="session")
def topic_prefix(session_tag: str) -> str:
    return f"test-{session_tag}."


@pytest.fixture(scope="session")
def make_database(postgres_server: str, session_tag: str) -> Iterator[Callable[[str], Awaitable[str]]]:
    """``await make_database(name)`` creates a fresh PostgreSQL database and returns its URL."""
    created: list[str] = []

    async def create(name: str) -> str:
        db = f"reintegra_{session_tag}_{name}_{len(created)}"
        engine = create_async_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{db}"'))
        finally:
            await engine.dispose()
        created.append(db)
        return f"{postgres_server}/{db}"

    yield create

    async def drop_all() -> None:
        engine = create_async_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                for db in created:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    asyncio.run(drop_all())


@pytest.fixture
async def postgres_url(make_database: Callable[[str], Awaitable[str]]) -> str:
    """A fresh PostgreSQL database for one test (dropped with the session's others)."""
    return await make_database("t")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.connected)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind the kit supports, one per test: the same test runs on both
    (the adapter-contract pattern: one suite, every adapter)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    make: Callable[[str], Awaitable[str]] = request.getfixturevalue("make_database")
    return await make("h")


@pytest.fixture(scope="session")
def auth() -> Iterator[TestIssuer]:
    """A real token issuer for the session (JWKS on loopback): ``auth.headers(role, centre=…)``,
    ``auth.env()`` for service processes, ``auth.settings()`` for services built in-process."""
    issuer = TestIssuer()
    yield issuer
    issuer.stop()
