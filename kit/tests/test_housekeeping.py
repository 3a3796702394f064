"""Housekeeping prunes what is done and old, never what is still needed — on both databases."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reintegra_kit.db import Database
from reintegra_kit.housekeeping import prune
from reintegra_kit.migrations import upgrade_to_head
from sqlalchemy import func, insert, select

from .conftest import Schema

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=2)


async def fill(db: Database, schema: Schema) -> None:
    k = schema.kit
    async with db.session() as s, s.begin():
        for i, (created, published) in enumerate([(OLD, OLD), (OLD, None), (RECENT, RECENT)]):
            await s.execute(
                insert(k.outbox).values(
                    event_id=f"e{i}",
                    event_type="t",
                    topic="x",
                    message_key="k",
                    payload="{}",
                    headers="{}",
                    created_at=created,
                    published_at=published,
                )
            )
        for i, at in enumerate([OLD, RECENT]):
            await s.execute(
                insert(k.inbox).values(
                    consumer_group="g", event_id=f"i{i}", event_type="t", topic="x", processed_at=at
                )
            )
        for i, (status, at) in enumerate(
            [("fired", OLD), ("scheduled", OLD), ("cancelled", RECENT), ("failed", OLD)]
        ):
            await s.execute(
                insert(k.timers).values(
                    kind="k",
                    timer_key=f"t{i}",
                    due_at=at,
                    payload="{}",
                    status=status,
                    created_at=at,
                    fired_at=at if status in ("fired", "failed") else None,
                )
            )


async def remaining(db: Database, schema: Schema) -> tuple[int, ...]:
    counts = []
    async with db.session() as s:
        for table in (schema.kit.outbox, schema.kit.inbox, schema.kit.timers):
            counts.append(int((await s.execute(select(func.count()).select_from(table))).scalar_one()))
    return tuple(counts)


async def test_prune_deletes_only_what_is_done_and_older_than_the_retention(
    db: Database, schema: Schema
) -> None:
    await fill(db, schema)
    cutoff = NOW - timedelta(days=30)
    counted = await prune(db, schema.kit, older_than=cutoff, dry_run=True)
    assert (counted.outbox, counted.inbox, counted.timers) == (1, 1, 2)
    assert await remaining(db, schema) == (3, 2, 4)  # a dry run deletes nothing
    done = await prune(db, schema.kit, older_than=cutoff, batch=1)
    assert (done.outbox, done.inbox, done.timers) == (1, 1, 2)
    # kept: the unpublished and the recent outbox rows, the recent inbox row, the scheduled and recent timers
    assert await remaining(db, schema) == (2, 1, 2)


def test_the_command_prunes_a_service_database_and_refuses_a_bad_retention(tmp_path: Path) -> None:
    from reintegra_followup.bootstrap import MIGRATIONS  # any service will do

    url = f"sqlite+aiosqlite:///{tmp_path / 'followup.db'}"
    upgrade_to_head(MIGRATIONS, url)
    env = {"REINTEGRA_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "reintegra_kit.housekeeping", "prune", "followup"]
    ok = subprocess.run(
        [*run, "--retention", "P7D"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "deleted 0 outbox rows, 0 inbox rows, 0 timers" in ok.stderr
    bad = subprocess.run(
        [*run, "--retention", "a week"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2
    assert "not an ISO 8601 duration" in bad.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "reintegra_kit.housekeeping", "prune", "nosuch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2
