"""The durable timer on the embedded database, with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from reintegra_contracts.events.followup import FollowupReason
from reintegra_followup.bootstrap import MIGRATIONS
from reintegra_followup.handlers import fire_due_followups
from reintegra_followup.orm import kit_tables
from reintegra_followup.repository import Followup, FollowupUnitOfWork
from reintegra_kit.clock import ManualClock
from reintegra_kit.db import Database
from reintegra_kit.migrations import upgrade_to_head_async
from reintegra_kit.outbox import Outbox


async def test_a_followup_fires_once_when_its_time_comes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'followup.db'}"
    await upgrade_to_head_async(MIGRATIONS, url)
    db = Database(url)
    clock = ManualClock()
    outbox = Outbox(kit_tables, "/reintegra/followup", clock)

    def uow() -> FollowupUnitOfWork:
        return FollowupUnitOfWork(db, outbox)

    async with uow() as u:
        await u.followups.add(
            Followup(
                uuid4(),
                uuid4(),
                FollowupReason.POST_ARRIVAL.value,
                None,
                clock.now() + timedelta(days=90),
                "scheduled",
                clock.now(),
            )
        )
        await u.commit()

    assert await fire_due_followups(uow(), clock, 10) == 0
    clock.advance(timedelta(days=89, hours=23))
    assert await fire_due_followups(uow(), clock, 10) == 0
    clock.advance(timedelta(hours=1))
    assert await fire_due_followups(uow(), clock, 10) == 1
    assert await fire_due_followups(uow(), clock, 10) == 0
    async with db.session() as s:
        assert await outbox.pending_count(s) == 1
    await db.dispose()
