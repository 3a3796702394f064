"""Running a service's handlers over its real unit of work, in tests (docs/adr/0012-handler-contract.md).

:class:`HandlerHarness` migrates a real database (SQLite or PostgreSQL) with the service's own Alembic
migrations and runs handlers exactly as the runtime does — commands through the bus, events through
the real consumer (inbox, refusals, dead letters), timers through the real timer runner — without
Kafka: what the service would publish is read back from its outbox.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from reintegra_contracts import Event, decode, encode
from sqlalchemy import Table, select

from ..clock import Clock, ManualClock
from ..consumer import ConsumerPolicy, EventConsumer, Outcome
from ..db import Database, KitTables
from ..handlers import Dependencies, Handler, MessageBus
from ..inbox import Inbox
from ..migrations import upgrade_to_head
from ..outbox import Outbox
from ..registry import ServiceSpec
from ..timers import TimerRunner
from ..uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


@dataclass
class Record:
    """A Kafka record as the consumer sees it (aiokafka's ConsumerRecord has the same attributes)."""

    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0


def record_of(event: Event, *, source: str = "/test", key: bytes | None = None, event_id: str | None = None) -> Record:
    """The record a producer of ``event`` would write (CloudEvents binary mode, key = case id)."""
    rec = encode(event, source=source)
    headers = list(rec.headers)
    if event_id is not None:
        headers = [(n, event_id.encode() if n == "ce_id" else v) for n, v in headers]
    return Record(value=rec.value, headers=headers, key=rec.key if key is None else key, topic=rec.topic)


@dataclass
class DeadLetters:
    """What the consumer parked (instead of a broker)."""

    parked: list[tuple[str, bytes | None, bytes, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        self.parked.append((topic, key, value, headers))

    @property
    def reasons(self) -> list[str]:
        return [headers["reintegra_dlq_reason"] for *_, headers in self.parked]


class HandlerHarness(Generic[U]):
    """A service's handlers over its migrated database, as the runtime runs them (no Kafka)."""

    def __init__(
        self,
        database_url: str,
        *,
        spec: ServiceSpec,
        tables: KitTables,
        uow_class: Callable[[Database, Outbox, Callable[[], None]], U],
        clock: Clock | None = None,
        **dependencies: Any,
    ) -> None:
        self.url = database_url
        self.spec = spec
        self.tables = tables
        self.clock = clock or ManualClock()
        self._uow_class = uow_class
        self.dependencies = Dependencies(clock=self.clock, **dependencies)
        self.dead_letters = DeadLetters()
        self._db: Database | None = None
        self._outbox: Outbox | None = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(upgrade_to_head, self.spec.migrations, self.url)
        self._db = Database(self.url)
        self._outbox = Outbox(self.tables, f"/reintegra/{self.spec.name}", self.clock, declared=self.spec.emitted_types)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._db is not None:
            await self._db.dispose()

    @property
    def db(self) -> Database:
        assert self._db is not None, "use 'async with HandlerHarness(...)'"
        return self._db

    def uow(self) -> U:
        assert self._outbox is not None, "use 'async with HandlerHarness(...)'"
        return self._uow_class(self.db, self._outbox, lambda: None)

    @property
    def bus(self) -> MessageBus[U]:
        return MessageBus(self.uow, self.dependencies)

    async def handle(self, handler: Handler, message: Any) -> Any:
        """Run a command handler as ``runtime.bus`` does (own unit of work, committed after it)."""
        return await self.bus.run(self.dependencies.bind(handler), message)

    def consumer(
        self,
        handlers: Mapping[type[Event], Sequence[Handler]],
        *,
        refusals: Mapping[type[Event], Handler] | None = None,
        group: str = "test-group",
    ) -> EventConsumer[U]:
        """The real consumer with these handlers (retries without waiting; dead letters kept here)."""

        async def no_sleep(_: float) -> None:
            return None

        return EventConsumer(
            group=group,
            uow_factory=self.uow,
            inbox=Inbox(self.tables, group, self.clock),
            handlers={cls: [self.dependencies.bind(h) for h in hs] for cls, hs in handlers.items()},
            refusal_handlers={cls: self.dependencies.bind(h, leading=3) for cls, h in (refusals or {}).items()},
            publish_raw=self.dead_letters,
            policy=ConsumerPolicy(attempts=2, backoff_s=0.0, infrastructure_pause_s=0.0),
            sleep=no_sleep,
        )

    async def deliver(
        self,
        handlers: Mapping[type[Event], Sequence[Handler]],
        event: Event,
        *,
        event_id: str | None = None,
        refusals: Mapping[type[Event], Handler] | None = None,
    ) -> Outcome:
        """Deliver ``event`` through the real consumer, as if it came from Kafka."""
        return await self.consumer(handlers, refusals=refusals).process(record_of(event, event_id=event_id))

    async def fire_timers(self, handlers: Mapping[str, Handler]) -> int:
        """Fire the due timers of these kinds, as the runtime's timer runner does."""
        runner: TimerRunner[U] = TimerRunner(
            self.uow, self.tables.timers, {k: self.dependencies.bind(h) for k, h in handlers.items()}, clock=self.clock
        )
        return await runner.fire_due()

    async def emitted(self) -> list[Event]:
        """Every event staged in the outbox so far, in order, decoded as a consumer would."""
        t = self.tables.outbox
        async with self.db.session() as session:
            rows = (await session.execute(select(t).order_by(t.c.id))).all()
        return [decode([(k, v.encode()) for k, v in json.loads(r.headers).items()], r.payload.encode()).event for r in rows]

    async def rows(self, table: Table) -> list[Any]:
        async with self.db.session() as session:
            return list((await session.execute(select(table))).all())
