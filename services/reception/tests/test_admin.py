"""The operators' commands, run as ``python -m reintegra_reception …`` against a real database (SQLite
and PostgreSQL): audit verify (intact, then a changed row named), key rotation, subject access export,
the access report, erasure and the retention job."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from reintegra_kit.clock import ManualClock
from reintegra_reception import admin
from reintegra_reception.crypto import KeyRing, ReceptionKeys
from reintegra_reception.domain.commands import PersonalDataPurpose, ReadPersonalData
from reintegra_reception.privacy import read_personal_data
from sqlalchemy import text
from typer.testing import CliRunner

from .test_privacy_handlers import ADULT, CASE_WORKER, NOW, OTHER, arrive, harness

pytestmark = pytest.mark.timeout(300)


def env_of(database_url: str, keys: ReceptionKeys, previous: tuple[bytes, ...] = ()) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REINTEGRA_")}
    return {
        **clean,
        "REINTEGRA_DATABASE_URL": database_url,
        "REINTEGRA_KEY_ENCRYPTION_KEY": base64.b64encode(keys.ring.current).decode(),
        "REINTEGRA_BLIND_INDEX_SECRET": base64.b64encode(keys.blind_index.secret).decode(),
        "REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS": ",".join(base64.b64encode(k).decode() for k in previous),
        "COLUMNS": "200",
    }


async def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m reintegra_reception ARGS`` in this process (the command's own code, its own
    event loop in a worker thread, the environment set for it), as the process would."""

    def invoke() -> subprocess.CompletedProcess[str]:
        result = CliRunner().invoke(admin.app, list(args), env=env, catch_exceptions=False)
        return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)

    return await asyncio.to_thread(invoke)


async def test_the_commands_are_reached_through_python_dash_m(database_url: str) -> None:
    keys = ReceptionKeys.generate()
    async with await harness(database_url, keys, ManualClock(NOW)):
        pass  # migrated
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "reintegra_reception", "audit", "verify"],
        env=env_of(database_url, keys),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "audit log intact: 0 rows" in done.stdout


async def test_audit_verify_says_intact_then_names_the_changed_row(database_url: str) -> None:
    keys = ReceptionKeys.generate()
    async with await harness(database_url, keys, ManualClock(NOW)) as service:
        case_id = await arrive(service)
        for purpose in (PersonalDataPurpose.CASE_MANAGEMENT, PersonalDataPurpose.FAMILY_TRACING):
            (
                await service.handle(read_personal_data, ReadPersonalData(case_id, purpose, CASE_WORKER))
            ).unwrap()
        env = env_of(database_url, keys)
        intact = await command(env, "audit", "verify")
        assert intact.returncode == 0, intact.stderr
        assert "audit log intact: 2 rows; head 2:" in intact.stdout
        head = intact.stdout.split("head ")[1].split()[0]
        async with service.uow() as uow:
            postgres = database_url.startswith("postgresql")
            await uow.session.execute(
                text(
                    "ALTER TABLE audit_log DISABLE TRIGGER USER"
                    if postgres
                    else "DROP TRIGGER audit_log_no_update"
                )
            )
            await uow.session.execute(text("UPDATE audit_log SET actor_subject = 'nobody' WHERE seq = 1"))
            await uow.commit()
    broken = await command(env, "audit", "verify", "--anchor", head)
    assert broken.returncode == 1
    assert "broken: row 1: its content does not match its hash (changed)" in broken.stdout
    bad_anchor = await command(env, "audit", "verify", "--anchor", "two:abc")
    assert bad_anchor.returncode == 2


async def test_keys_rotate_rewraps_every_data_key_then_the_old_key_is_not_needed(database_url: str) -> None:
    old = ReceptionKeys.generate()
    async with await harness(database_url, old, ManualClock(NOW)) as service:
        case_id = await arrive(service)
        await arrive(service, OTHER)
    new = ReceptionKeys(KeyRing(ReceptionKeys.generate().ring.current), old.blind_index)
    without_old = await command(env_of(database_url, new), "keys", "rotate")
    assert without_old.returncode != 0
    assert "REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS" in without_old.stderr
    rotated = await command(env_of(database_url, new, previous=(old.ring.current,)), "keys", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert f"re-wrapped 2 data keys under {new.ring.current_id}" in rotated.stdout
    assert "remove REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS" in rotated.stdout
    status = await command(env_of(database_url, new), "keys", "status")
    assert f"{new.ring.current_id}" in status.stdout
    assert old.ring.current_id not in status.stdout
    async with await harness(database_url, new, ManualClock(NOW)) as service:
        view = await service.handle(
            read_personal_data, ReadPersonalData(case_id, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER)
        )
    assert view.unwrap().person == ADULT


async def test_export_access_report_erase_and_retention(database_url: str, tmp_path: Path) -> None:
    keys = ReceptionKeys.generate()
    long_ago = NOW - timedelta(days=365 * 12)
    async with await harness(database_url, keys, ManualClock(long_ago)) as service:
        await arrive(service, OTHER, arrived_at=long_ago - timedelta(hours=1))  # José, twelve years ago
    async with await harness(database_url, keys, ManualClock(NOW)) as service:
        case_id = await arrive(service)
    env = env_of(database_url, keys)
    exported = tmp_path / "marta.json"
    done = await command(env, "export", str(case_id), "--requested-by", "dpo-ana", "--out", str(exported))
    assert done.returncode == 0, done.stderr
    assert oct(exported.stat().st_mode & 0o777) == "0o600"
    data = json.loads(exported.read_text())
    assert data["records"][0]["personal_data"]["family_names"] == ADULT.family_names
    assert "Cáceres" not in exported.read_text()
    report = await command(env, "access-report", str(case_id), "--requested-by", "dpo-ana")
    assert report.returncode == 0
    assert "subject_access_export" in report.stdout
    assert "dpo" not in report.stdout  # roles are shown, not staff names
    no_name = await command(env, "erase", str(case_id), "--requested-by", " ")
    assert no_name.returncode == 2
    erased = await command(env, "erase", str(case_id), "--requested-by", "dpo-ana")
    assert erased.returncode == 0, erased.stderr
    assert "returnee_erased published for 1 case(s)" in erased.stdout
    again = await command(env, "erase", str(case_id), "--requested-by", "dpo-ana")
    assert again.returncode == 1
    assert "was erased on" in again.stderr
    after = json.loads((await command(env, "export", str(case_id), "--requested-by", "dpo-ana")).stdout)
    assert after["records"][0]["personal_data"] is None
    assert after["records"][0]["erased_at"] is not None
    dry = await command(env, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would erase 1" in dry.stdout  # José: his only case is twelve years old
    run = await command(env, "retention", "run")
    assert "erased 1" in run.stdout
    assert "erased 0" in (await command(env, "retention", "run")).stdout
