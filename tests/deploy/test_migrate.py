"""``python -m reintegra_kit.migrate <service>`` (the chart's pre-install/pre-upgrade Job) migrates and exits."""

from __future__ import annotations

import asyncio
import base64
import importlib
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from reintegra_kit.migrations import alembic_config
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES = ("reception", "assessment", "referral", "followup")
RECEPTION_KEYS = {
    "REINTEGRA_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
    "REINTEGRA_BLIND_INDEX_SECRET": base64.b64encode(os.urandom(32)).decode(),
}
"""Reception's secrets: its settings (which the command reads) require them."""


def run_migrate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REINTEGRA_")}
    return subprocess.run(
        [sys.executable, "-m", "reintegra_kit.migrate", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def head_of(service: str) -> str:
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    head = ScriptDirectory.from_config(alembic_config(bootstrap.MIGRATIONS, "sqlite://")).get_current_head()
    assert head
    return head


async def revision_and_tables(url: str) -> tuple[str, set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    return str(revision), tables


def test_migrates_each_service_s_sqlite_database_to_head_and_exits(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REINTEGRA_")}
    data = tmp_path / "data"  # does not exist yet: created as the service would
    running = {
        service: subprocess.Popen(
            [sys.executable, "-m", "reintegra_kit.migrate", service],
            env={**clean, "REINTEGRA_DATA_DIR": str(data), **RECEPTION_KEYS},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for service in SERVICES
    }
    for service, proc in running.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"{service} database at head" in out
        revision, tables = asyncio.run(revision_and_tables(f"sqlite+aiosqlite:///{data / service}.db"))
        assert revision == head_of(service)
        assert {"outbox", "inbox"} <= tables


def test_a_second_run_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'referral.db'}"
    assert run_migrate("referral", REINTEGRA_DATABASE_URL=url).returncode == 0
    again = run_migrate("referral", REINTEGRA_DATABASE_URL=url)
    assert again.returncode == 0, again.stderr
    assert asyncio.run(revision_and_tables(url))[0] == head_of("referral")


@pytest.mark.connected
def test_migrates_a_postgresql_database_and_hides_the_password(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = asyncio.run(make_database("migrate_cmd"))
    result = run_migrate("followup", REINTEGRA_DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    revision, tables = asyncio.run(revision_and_tables(url))
    assert revision == head_of("followup")
    assert {"outbox", "inbox"} <= tables
    password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert f":{password}@" not in result.stdout + result.stderr
    assert ":***@" in result.stdout


def test_an_unknown_service_exits_2() -> None:
    result = run_migrate("payroll")
    assert result.returncode == 2
    assert "no service 'payroll' is installed" in result.stderr


def test_bad_settings_exit_2_and_name_the_variable() -> None:
    result = run_migrate("reception", REINTEGRA_DATABASE_URL="mysql://db/x")
    assert result.returncode == 2
    assert "REINTEGRA_DATABASE_URL" in result.stderr


def test_an_unreachable_database_fails_with_status_1() -> None:
    result = run_migrate(
        "reception", REINTEGRA_DATABASE_URL="postgresql+asyncpg://nobody:secret@127.0.0.1:1/none"
    )
    assert result.returncode == 1
    assert "migrating reception failed" in result.stderr
    assert "secret" not in result.stderr
