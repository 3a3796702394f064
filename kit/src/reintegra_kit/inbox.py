"""Idempotent consumption: the record "event X processed by group G" commits with the handler's effects."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, SystemClock
from .db import KitTables, insert_many_or_ignore, insert_or_ignore


class Inbox:
    """Claims events for one consumer group inside the handler's transaction."""

    def __init__(self, tables: KitTables, consumer_group: str, clock: Clock | None = None) -> None:
        self._table = tables.inbox
        self._group = consumer_group
        self._clock = clock or SystemClock()

    async def claim(
        self, session: AsyncSession, event_id: str, event_type: str, topic: str, *, refused: str | None = None
    ) -> bool:
        """Record ``event_id`` as processed (or, with ``refused``, as refused for that reason); False if
        it already was (the caller then does nothing).

        The insert takes the row's key lock, so a concurrent duplicate waits for this transaction and
        then sees the row.
        """
        return await insert_or_ignore(
            session,
            self._table,
            {
                "consumer_group": self._group,
                "event_id": event_id,
                "event_type": event_type,
                "topic": topic,
                "processed_at": self._clock.now(),
                "outcome": "refused" if refused is not None else "processed",
                "detail": refused[:2000] if refused is not None else None,
            },
            ["consumer_group", "event_id"],
        )

    async def claim_many(self, session: AsyncSession, events: list[tuple[str, str, str]]) -> set[str]:
        """Record every ``(event_id, event_type, topic)`` as processed in one statement; return the ids
        that were not recorded before (the others are duplicates)."""
        now = self._clock.now()
        rows = {
            event_id: {
                "consumer_group": self._group,
                "event_id": event_id,
                "event_type": event_type,
                "topic": topic,
                "processed_at": now,
                "outcome": "processed",
                "detail": None,
            }
            for event_id, event_type, topic in events
        }
        claimed = await insert_many_or_ignore(
            session, self._table, list(rows.values()), ["consumer_group", "event_id"], "event_id"
        )
        return {str(event_id) for event_id in claimed}
