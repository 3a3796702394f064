"""Each service's Alembic migrations build exactly the schema its models declare, on both databases."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from reintegra_kit.migrations import alembic_config, upgrade_to_head_async
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import SERVICES


async def schema_differences(url: str, metadata: Any) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_models_on_sqlite(service: str, tmp_path: Path) -> None:
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    orm = importlib.import_module(f"reintegra_{service}.orm")
    url = f"sqlite+aiosqlite:///{tmp_path / service}.db"
    await upgrade_to_head_async(bootstrap.MIGRATIONS, url)
    assert await schema_differences(url, orm.metadata) == []


@pytest.mark.connected
@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_models_on_postgresql_and_downgrade_cleanly(
    service: str, make_database: Callable[[str], Awaitable[str]]
) -> None:
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    orm = importlib.import_module(f"reintegra_{service}.orm")
    url = await make_database(f"mig_{service}")
    await upgrade_to_head_async(bootstrap.MIGRATIONS, url)
    assert await schema_differences(url, orm.metadata) == []

    await asyncio.to_thread(command.downgrade, alembic_config(bootstrap.MIGRATIONS, url), "base")
    remaining = await schema_differences(url, orm.metadata)
    added = {d[1].name for d in remaining if d[0] == "add_table"}
    assert added == set(orm.metadata.tables)  # every table is gone again
    assert {d[0] for d in remaining} <= {"add_table", "add_index"}
