"""Pytest fixtures for tests that need the real broker and database.

Loaded for the whole suite (``-p reintegra_kit.testing.pytest_plugin``). Each test session gets its
own topic prefix and its own PostgreSQL databases, dropped at the end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from collections.abc import Awaitable, Callable, Iterator
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from . import infra


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of a real Kafka broker."""
    return infra.kafka_bootstrap()


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
