"""On PostgreSQL, the statements whose input is a batch (the inbox's claims, the relay's marks, the
kit's insert-or-ignore of many rows) keep one text whatever the batch's size, so that a connection
prepares each once (docs/adr/0029-keep-prepared-statements.md). Multi-row ``VALUES`` and ``IN (…)``
lists were a new statement for every size: parsed, planned and prepared again, and crowding the
connection's cache of prepared statements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from reintegra_contracts.events.followup import FollowupDue, FollowupReason
from reintegra_kit.db import Database, insert_many_or_ignore
from reintegra_kit.inbox import Inbox
from reintegra_kit.outbox import Outbox, OutboxMessage, OutboxRelay
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from .conftest import Schema

pytestmark = pytest.mark.connected


@pytest.fixture
async def pg(postgres_url: str, schema: Schema) -> AsyncIterator[Database]:
    database = Database(postgres_url, pool_size=1)  # one connection: every statement prepared on it
    async with database.engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    yield database
    await database.dispose()


async def prepared(db: Database, prefix: str) -> int:
    """How many statements starting with ``prefix`` the pool's one connection has prepared."""
    async with db.session() as s, s.begin():
        query = text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :prefix")
        return int((await s.execute(query, {"prefix": prefix + "%"})).scalar_one())


async def test_inbox_claims_of_any_size_are_one_prepared_statement(pg: Database, schema: Schema) -> None:
    inbox = Inbox(schema.kit, "g")
    for n, size in enumerate((1, 3, 7, 40, 2)):
        batch = [(f"e{n}-{i}", "t", "topic") for i in range(size)]
        async with pg.session() as s, s.begin():
            assert await inbox.claim_many(s, batch) == {e for e, _, _ in batch}
    async with pg.session() as s, s.begin():
        # duplicates, of a claim before and within the batch: claimed once
        again = [("e0-0", "t", "topic"), ("new", "t", "topic"), ("new", "t", "topic")]
        assert await inbox.claim_many(s, again) == {"new"}
        rows = (await s.execute(select(func.count()).select_from(schema.kit.inbox))).scalar_one()
        kept = (await s.execute(select(schema.kit.inbox).where(schema.kit.inbox.c.event_id == "e3-39"))).one()
    assert rows == 1 + 3 + 7 + 40 + 2 + 1
    assert (kept.consumer_group, kept.event_type, kept.topic, kept.outcome, kept.detail) == (
        "g",
        "t",
        "topic",
        "processed",
        None,
    )
    assert kept.processed_at.tzinfo is not None
    assert await prepared(pg, "INSERT INTO inbox") == 1


async def test_a_value_too_long_for_its_column_is_refused_not_cut(pg: Database, schema: Schema) -> None:
    """The arrays are cast to unbounded types: a cast to ``VARCHAR(n)`` would cut a longer value
    silently; the insert into the column refuses it."""
    too_long = "x" * 300
    with pytest.raises(DBAPIError, match="too long"):
        async with pg.session() as s, s.begin():
            await insert_many_or_ignore(
                s,
                schema.effects,
                [{"event_id": "fits"}, {"event_id": too_long}],
                ["event_id"],
                "event_id",
            )
    async with pg.session() as s:
        assert (await s.execute(select(func.count()).select_from(schema.effects))).scalar_one() == 0


class Acked:
    """A broker that acknowledges everything."""

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []

    async def __call__(self, message: OutboxMessage) -> Any:
        self.sent.append(message)

        async def ack() -> None:
            return None

        return ack()


async def test_the_relay_marks_batches_of_any_size_with_one_prepared_statement(
    pg: Database, schema: Schema
) -> None:
    broker = Acked()
    relay = OutboxRelay(pg, schema.kit, broker)
    for size in (2, 5, 11, 1):
        async with UnitOfWork(pg, Outbox(schema.kit, "/test")) as u:
            await u.emit_many(
                [
                    FollowupDue(
                        case_id=uuid4(),
                        followup_id=uuid4(),
                        reason=FollowupReason.POST_ARRIVAL,
                        due_at=datetime.now(UTC),
                    )
                    for _ in range(size)
                ]
            )
            await u.commit()
        assert await relay.publish_pending() == size
    assert await relay.publish_pending() == 0  # every row was marked published
    assert len(broker.sent) == 19
    assert await prepared(pg, "UPDATE outbox SET published_at") == 1
