"""Transactional outbox and its relay.

A service writes its state change and the events it implies in one transaction
(:meth:`Outbox.add`); the :class:`OutboxRelay` publishes committed rows to Kafka with an idempotent
producer (``acks=all``) and marks them published. The row keeps the writer's W3C trace context, so
the published message continues the original request's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from reintegra_contracts import Event, encode
from sqlalchemy import BigInteger, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import jsontext
from .clock import Clock, SystemClock, as_utc
from .db import Database, KitTables, among
from .logging import get_logger
from .telemetry import context_from_traceparent, current_traceparent

log = get_logger(__name__)

# the relay's lock on PostgreSQL, a SELECT built once (planned: ADR 0025)
_TRY_RELAY_LOCK = select(func.pg_try_advisory_xact_lock(bindparam("id", type_=BigInteger)))


@dataclass(frozen=True)
class OutboxMessage:
    """A committed outbox row, ready to publish."""

    id: int
    event_id: str
    event_type: str
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]
    traceparent: str | None


class UndeclaredEventError(RuntimeError):
    """A handler emitted an event its service does not declare (a bug, caught before it is published)."""


Publish = Callable[[OutboxMessage], Awaitable[Any]]
"""Sends one message and returns an awaitable that completes when the broker acknowledged it."""


class Outbox:
    """Writes events to the outbox table inside the caller's transaction."""

    def __init__(
        self,
        tables: KitTables,
        source: str,
        clock: Clock | None = None,
        *,
        declared: frozenset[str] | None = None,
    ) -> None:
        self.tables = tables
        self.clock = clock or SystemClock()
        self._table = tables.outbox
        self._source = source
        self._clock = self.clock
        self._declared = declared
        self._insert = insert(self._table)

    def declare(self, event_types: frozenset[str]) -> None:
        """Only these event types may be staged (what the service's registry entry says it emits)."""
        self._declared = event_types

    def stage(self, event: Event) -> dict[str, Any]:
        """The outbox row of ``event`` (checked and encoded now, in the handler's trace), to write with
        :meth:`write` in the same transaction."""
        if self._declared is not None and event.event_type not in self._declared:
            raise UndeclaredEventError(
                f"{event.event_type} is not among the events this service declares it emits "
                "(its service.toml); declare it there so the AsyncAPI document and docs/events.md say so"
            )
        now = self._clock.now()
        record = encode(event, source=self._source, time=now)
        headers = {name: value.decode() for name, value in record.headers}
        return {
            "event_id": headers["ce_id"],
            "event_type": event.event_type,
            "topic": record.topic,
            "message_key": record.key.decode(),
            "payload": record.value.decode(),
            "headers": jsontext.dumps(headers),
            "traceparent": current_traceparent(),
            "created_at": now,
        }

    async def write(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        """Insert staged rows, in order, with one statement (executemany)."""
        if rows:
            await session.execute(self._insert, rows)

    async def add(self, session: AsyncSession, event: Event) -> str:
        """Stage ``event`` for publication; it is published only if the transaction commits."""
        row = self.stage(event)
        await self.write(session, [row])
        return str(row["event_id"])

    async def add_many(self, session: AsyncSession, events: list[Event]) -> list[str]:
        """Stage ``events`` in this order with one statement (a manifest's arrivals); return their ids."""
        rows = [self.stage(e) for e in events]
        await self.write(session, rows)
        return [str(r["event_id"]) for r in rows]

    async def backlog(self, session: AsyncSession) -> tuple[int, datetime | None]:
        """How many rows wait to be published, and when the oldest of them was written."""
        t = self._table
        row = (
            await session.execute(
                select(func.count(), func.min(t.c.created_at))
                .select_from(t)
                .where(t.c.published_at.is_(None))
            )
        ).one()
        return int(row[0]), as_utc(row[1]) if row[1] is not None else None

    async def pending_count(self, session: AsyncSession) -> int:
        """How many rows wait to be published (the outbox backlog)."""
        result = await session.execute(
            select(func.count()).select_from(self._table).where(self._table.c.published_at.is_(None))
        )
        return int(result.scalar_one())


class OutboxRelay:
    """Publishes committed outbox rows, in order per case, and marks them published.

    Order: within a batch the rows of one case (one Kafka key) go out in waves — the first pending row
    of every case, then the second, … — and a wave waits for the broker's acknowledgement of the one
    before, so an event is never published before an earlier event of the same case; when a send
    fails, the rest of that case waits for the next batch (docs/adr/0002-transactional-outbox.md).

    Several replicas may run it: on PostgreSQL one replica at a time relays (a transaction-level
    advisory lock; a lock-free ``SKIP LOCKED`` split would let two replicas publish one case out of
    order); on SQLite, a lock file beside the database (no database lock is held while sending).
    Delivery is at least once (a crash between publish and mark re-sends); consumers deduplicate by
    CloudEvents id in their inbox.
    """

    ADVISORY_LOCK_ID = 0x5E1A7  # any constant: one relay lock per database (a database is one service's)

    def __init__(
        self,
        db: Database,
        tables: KitTables,
        publish: Publish,
        *,
        batch_size: int = 100,
        interval_s: float = 0.2,
        clock: Clock | None = None,
    ) -> None:
        self._db = db
        self._table = tables.outbox
        self._publish = publish
        self._batch_size = batch_size
        self._interval = interval_s
        self._clock = clock or SystemClock()
        self._wake = asyncio.Event()
        t = self._table
        self._pending = select(t).where(t.c.published_at.is_(None)).order_by(t.c.id).limit(batch_size)
        # built once: planned (ADR 0025); on PostgreSQL the ids go as one array (``= ANY($3)``), so
        # that the statement's text does not change with the batch's size and each connection
        # prepares it once (ADR 0029)
        self._published = (
            update(t)
            .where(among(t.c.id, "ids", db.dialect))
            .values(published_at=bindparam("now"), attempts=t.c.attempts + 1)
        )

    def wake(self) -> None:
        """Ask the relay to look at the outbox now (called after a commit that added rows)."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; return how many were published."""
        if self._db.dialect == "postgresql":
            return await self._publish_pending_postgresql()
        return await self._publish_pending_sqlite()

    async def _publish_pending_postgresql(self) -> int:
        # One transaction holding the advisory lock across read, send and mark: PostgreSQL locks rows,
        # not the database, so writers go on meanwhile.
        async with self._db.session() as session, session.begin():
            got = await session.execute(_TRY_RELAY_LOCK, {"id": self.ADVISORY_LOCK_ID})
            if not got.scalar_one():
                return 0  # another replica is relaying this outbox
            rows = (await session.execute(self._pending)).all()
            if not rows:
                return 0
            sent, failed = await self._send_in_waves([_to_message(row) for row in rows])
            await self._mark(session, sent, failed)
            return len(sent)

    async def _publish_pending_sqlite(self) -> int:
        # SQLite has one writer at a time: a transaction held across the broker's acknowledgement
        # would stop every handler of the service meanwhile. So: read in one short transaction, send
        # with no lock held, mark in another; replicas sharing the file take turns with a lock file
        # beside the database (one machine, as SQLite requires).
        # Under load, the rows committed while a batch was sent are read in the transaction that
        # marks it: one transaction per batch, not two.
        with self._db.relay_lock() as ours:
            if not ours:
                return 0  # another process is relaying this outbox
            async with self._db.session() as session, session.begin():
                rows = (await session.execute(self._pending)).all()
            published = 0
            while rows:
                sent, failed = await self._send_in_waves([_to_message(row) for row in rows])
                published += len(sent)
                more = not failed and (len(rows) == self._batch_size or self._wake.is_set())
                async with self._db.session() as session, session.begin():
                    await self._mark(session, sent, failed)
                    if more:
                        self._wake.clear()  # what woke it is read now
                        rows = (await session.execute(self._pending)).all()
                    else:
                        rows = []
            return published

    async def _mark(
        self, session: AsyncSession, sent: list[int], failed: list[tuple[OutboxMessage, BaseException]]
    ) -> None:
        t = self._table
        if sent:  # one statement for the whole batch
            await session.execute(self._published, {"ids": sent, "now": self._clock.now()})
        for message, error in failed:
            log.warning("outbox.publish_failed", event_id=message.event_id, error=repr(error))
            await session.execute(
                update(t)
                .where(t.c.id == message.id)
                .values(attempts=t.c.attempts + 1, last_error=repr(error)[:2000])
            )

    async def _send_in_waves(
        self, messages: list[OutboxMessage]
    ) -> tuple[list[int], list[tuple[OutboxMessage, BaseException]]]:
        queues: dict[bytes, list[OutboxMessage]] = {}
        for message in messages:  # already in id order
            queues.setdefault(message.key, []).append(message)
        sent: list[int] = []
        failed: list[tuple[OutboxMessage, BaseException]] = []
        while queues:
            wave = [queue.pop(0) for queue in queues.values()]
            results = await asyncio.gather(*(self._send_and_wait(m) for m in wave), return_exceptions=True)
            for message, result in zip(wave, results, strict=True):
                if isinstance(result, BaseException):
                    failed.append((message, result))
                    queues[message.key].clear()  # the rest of this case waits for the next batch
                else:
                    sent.append(message.id)
            queues = {key: queue for key, queue in queues.items() if queue}
        return sent, failed

    async def _send_and_wait(self, message: OutboxMessage) -> Any:
        return await (await self._send(message))

    async def _send(self, message: OutboxMessage) -> Awaitable[Any]:
        # Publish inside the writer's trace so the producer span (and the traceparent header the
        # telemetry middleware injects) continue the request that wrote the row.
        token = otel_context.attach(context_from_traceparent(message.traceparent))
        try:
            ack: Awaitable[Any] = await self._publish(message)
            return ack
        finally:
            otel_context.detach(token)

    async def run(self) -> None:
        """Publish until cancelled; back off after a failure (broker or database down)."""
        delay = self._interval
        while True:
            # Cleared before looking, so a commit during this pass wakes the next one at once (cleared
            # after an empty pass, such a wake-up would wait for the poll interval).
            self._wake.clear()
            try:
                published = await self.publish_pending()
                delay = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep relaying after an outage, backing off whatever wakes us
                log.warning("outbox.relay_error", error=repr(exc))
                delay = min(delay * 2, 5.0)
                await asyncio.sleep(delay)
                continue
            # A pass that published less than a batch left nothing pending that a wake-up would not
            # announce: a row committed since it looked has woken it (wake() after the commit). So it
            # looks again at once only after a full batch or a wake-up, not to find nothing (one
            # transaction less per burst; rows of another process are found at the poll interval, and
            # a failed send is retried there).
            if published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)


def _to_message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        topic=row.topic,
        key=row.message_key.encode(),
        value=row.payload.encode(),
        headers=jsontext.loads(row.headers),
        traceparent=row.traceparent,
    )
