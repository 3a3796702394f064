"""Idempotent consumption: the record "event X processed by group G" commits with the handler's effects."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, SystemClock
from .db import KitTables


class Inbox:
    """Claims events for one consumer group inside the handler's transaction."""

    def __init__(self, tables: KitTables, consumer_group: str, clock: Clock | None = None) -> None:
        self._table = tables.inbox
        self._group = consumer_group
        self._clock = clock or SystemClock()

    async def claim(self, session: AsyncSession, event_id: str, event_type: str, topic: str) -> bool:
        """Record ``event_id`` as processed; False if it already was (the caller then does nothing).

        The insert takes the row's key lock, so a concurrent duplicate waits for this transaction and
        then sees the row.
        """
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(self._table)
            .values(
                consumer_group=self._group,
                event_id=event_id,
                event_type=event_type,
                topic=topic,
                processed_at=self._clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
        )
        result = await session.execute(stmt)
        return bool(getattr(result, "rowcount", 0) == 1)
