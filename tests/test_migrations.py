"""Each service's Alembic migrations build exactly the schema its models declare, on both databases."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from reintegra_kit.migrating import MigrationError
from reintegra_kit.migrating import upgrade_to_head_async as migrate_in_child
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


CHILD = """
import asyncio, sys
from pathlib import Path
from reintegra_kit.migrating import upgrade_to_head_async
import reintegra_reception.bootstrap as bootstrap
asyncio.run(upgrade_to_head_async(bootstrap.MIGRATIONS, sys.argv[1]))
print("alembic imported:", any(name.split(".")[0] == "alembic" for name in sys.modules))
"""


async def test_a_service_migrates_in_a_child_process_and_never_imports_alembic(tmp_path: Path) -> None:
    """What a service's start-up runs (ADR 0027): the schema is built, and Alembic stays out of the
    service's process and its memory."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'reception.db'}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "alembic imported: False"
    orm = importlib.import_module("reintegra_reception.orm")
    assert await schema_differences(url, orm.metadata) == []


@pytest.mark.connected
async def test_the_child_process_migrates_postgresql_too(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    bootstrap = importlib.import_module("reintegra_referral.bootstrap")
    orm = importlib.import_module("reintegra_referral.orm")
    url = await make_database("mig_child")
    for _ in range(2):  # the second run finds the database at head
        await migrate_in_child(bootstrap.MIGRATIONS, url)
    assert await schema_differences(url, orm.metadata) == []


async def test_a_failed_migration_says_where_and_why_without_the_password(tmp_path: Path) -> None:
    bootstrap = importlib.import_module("reintegra_followup.bootstrap")
    with pytest.raises(MigrationError) as missing:
        await migrate_in_child(tmp_path / "no-such-folder", f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    assert "no-such-folder" in str(missing.value)
    assert "exit status 1" in str(missing.value)
    unreachable = "postgresql+asyncpg://reintegra:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(MigrationError) as refused:
        await migrate_in_child(bootstrap.MIGRATIONS, unreachable)
    message = str(refused.value)
    assert "127.0.0.1:1/nowhere" in message
    assert "s3cret-pw" not in message
    assert "Connect" in message or "connect" in message  # the child's own error, last lines
