"""Durable timers, on SQLite and PostgreSQL: scheduled in the writer's transaction, fired once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from reintegra_kit.clock import ManualClock
from reintegra_kit.db import Database
from reintegra_kit.outbox import Outbox
from reintegra_kit.timers import Timer, TimerRunner
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert, select

from .conftest import Schema

KIND = "test.due"


class Kit:
    def __init__(self, db: Database, schema: Schema, clock: ManualClock) -> None:
        self.db, self.schema, self.clock = db, schema, clock
        self.outbox = Outbox(schema.kit, "/test", clock)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.outbox)

    def runner(self, handler: Any, **kw: Any) -> TimerRunner[UnitOfWork]:
        return TimerRunner(self.uow, self.schema.kit.timers, {KIND: handler}, clock=self.clock, **kw)

    async def schedule(self, key: str, after: timedelta, **kw: Any) -> bool:
        async with self.uow() as uow:
            new = await uow.timers.schedule(KIND, key, self.clock.now() + after, **kw)
            await uow.commit()
        return new

    async def status(self, key: str) -> str | None:
        async with self.uow() as uow:
            found = await uow.timers.get(KIND, key)
        return found[0] if found else None

    async def effects(self) -> list[str]:
        async with self.db.session() as s:
            return list((await s.execute(select(self.schema.effects.c.event_id))).scalars())


def recording(schema: Schema, fired: list[Timer]) -> Any:
    async def handler(timer: Timer, uow: UnitOfWork) -> None:
        fired.append(timer)
        await uow.session.execute(insert(schema.effects).values(event_id=timer.key))

    return handler


async def test_a_timer_fires_once_when_its_time_comes_with_its_payload(db: Database, schema: Schema) -> None:
    kit, fired = Kit(db, schema, ManualClock()), []
    assert await kit.schedule("a", timedelta(days=90), payload={"agency": "hn-senaf"}, case_id="case-1")
    runner = kit.runner(recording(schema, fired))
    assert await runner.fire_due() == 0
    kit.clock.advance(timedelta(days=89, hours=23))
    assert await runner.fire_due() == 0
    kit.clock.advance(timedelta(hours=1))
    assert await runner.fire_due() == 1
    assert await runner.fire_due() == 0
    assert [(t.key, t.payload, t.case_id) for t in fired] == [("a", {"agency": "hn-senaf"}, "case-1")]
    assert await kit.status("a") == "fired"
    assert await kit.effects() == ["a"]


async def test_scheduling_the_same_key_twice_keeps_the_first(db: Database, schema: Schema) -> None:
    kit, fired = Kit(db, schema, ManualClock()), []
    assert await kit.schedule("a", timedelta(hours=1))
    assert not await kit.schedule("a", timedelta(hours=5))
    kit.clock.advance(timedelta(hours=1))
    assert await kit.runner(recording(schema, fired)).fire_due() == 1


async def test_a_cancelled_timer_never_fires_and_a_rescheduled_one_fires_later(
    db: Database, schema: Schema
) -> None:
    kit, fired = Kit(db, schema, ManualClock()), []
    await kit.schedule("cancelled", timedelta(hours=1))
    await kit.schedule("moved", timedelta(hours=1))
    async with kit.uow() as uow:
        assert await uow.timers.cancel(KIND, "cancelled")
        assert await uow.timers.reschedule(KIND, "moved", kit.clock.now() + timedelta(hours=3))
        assert not await uow.timers.cancel(KIND, "absent")
        await uow.commit()
    runner = kit.runner(recording(schema, fired))
    kit.clock.advance(timedelta(hours=2))
    assert await runner.fire_due() == 0
    kit.clock.advance(timedelta(hours=1))
    assert await runner.fire_due() == 1
    assert [t.key for t in fired] == ["moved"]
    assert await kit.status("cancelled") == "cancelled"


async def test_a_failing_handler_is_retried_with_back_off_then_marked_failed_without_blocking_others(
    db: Database, schema: Schema
) -> None:
    kit, fired = Kit(db, schema, ManualClock()), []
    ok = recording(schema, fired)

    async def handler(timer: Timer, uow: UnitOfWork) -> None:
        if timer.key == "poison":
            await uow.session.execute(insert(schema.effects).values(event_id="partial"))
            raise ValueError("cannot handle")
        await ok(timer, uow)

    await kit.schedule("poison", timedelta(0))
    await kit.schedule("good", timedelta(0))
    runner = kit.runner(handler, max_attempts=3, backoff=timedelta(minutes=1))
    assert await runner.fire_due() == 2
    assert [t.key for t in fired] == ["good"]
    assert await kit.effects() == ["good"]  # the failed handler's effects were rolled back alone
    assert await kit.status("poison") == "scheduled"  # again, after its back-off
    assert await runner.fire_due() == 0
    kit.clock.advance(timedelta(minutes=1))
    assert await runner.fire_due() == 1
    kit.clock.advance(timedelta(minutes=2))
    assert await runner.fire_due() == 1
    assert await kit.status("poison") == "failed"
    kit.clock.advance(timedelta(days=1))
    assert await runner.fire_due() == 0


async def test_two_runners_racing_fire_each_timer_exactly_once(db: Database, schema: Schema) -> None:
    kit, fired = Kit(db, schema, ManualClock()), []
    for i in range(60):
        await kit.schedule(f"t{i}", timedelta(0))
    handler = recording(schema, fired)

    async def slow(timer: Timer, uow: UnitOfWork) -> None:
        await asyncio.sleep(0.001)
        await handler(timer, uow)

    runners = [kit.runner(slow, batch_size=7) for _ in range(3)]

    async def drain(runner: TimerRunner[UnitOfWork]) -> None:
        while await runner.fire_due():
            pass

    await asyncio.gather(*(drain(r) for r in runners))
    assert sorted(t.key for t in fired) == sorted(f"t{i}" for i in range(60))
    assert len(await kit.effects()) == 60


async def test_the_firing_continues_the_trace_that_scheduled_the_timer(db: Database, schema: Schema) -> None:
    kit = Kit(db, schema, ManualClock())
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        await kit.schedule("traced", timedelta(0))
        scheduled_in = span.get_span_context().trace_id
    seen: list[int] = []

    async def handler(timer: Timer, uow: UnitOfWork) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    assert await kit.runner(handler).fire_due() == 1
    assert seen == [scheduled_in]
