"""The outbox: events commit with state; the relay publishes in order, inside the writer's trace."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts.events.followup import FollowupDue, FollowupReason
from reintegra_kit.db import Database
from reintegra_kit.outbox import Outbox, OutboxMessage, OutboxRelay, UndeclaredEventError
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import select

from .conftest import Schema, open_db


def due_event() -> FollowupDue:
    return FollowupDue(
        case_id=uuid4(), followup_id=uuid4(), reason=FollowupReason.POST_ARRIVAL, due_at=datetime.now(UTC)
    )


class Recorder:
    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.sent: list[OutboxMessage] = []
        self.trace_ids: list[int] = []
        self.fail_on = fail_on or set()

    async def __call__(self, message: OutboxMessage) -> Any:
        self.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        if message.id in self.fail_on:

            async def failed() -> None:
                raise ConnectionError("broker unreachable")

            return failed()
        self.sent.append(message)

        async def ack() -> None:
            return None

        return ack()


async def test_events_are_staged_only_when_the_transaction_commits(db: Database, schema: Schema) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    async with UnitOfWork(db, outbox) as uow:
        await uow.emit(due_event())
        # leaving without commit rolls back
    async with UnitOfWork(db, outbox) as uow:
        await uow.emit(due_event())
        await uow.commit()
    async with db.session() as s:
        assert await outbox.pending_count(s) == 1


async def test_the_relay_publishes_in_order_with_cloudevents_headers_and_marks_rows(
    db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    events = [due_event() for _ in range(3)]
    async with UnitOfWork(db, outbox) as uow:
        for e in events:
            await uow.emit(e)
        await uow.commit()
    recorder = Recorder()
    relay = OutboxRelay(db, schema.kit, recorder)
    assert await relay.publish_pending() == 3
    assert await relay.publish_pending() == 0
    assert [m.key.decode() for m in recorder.sent] == [str(e.case_id) for e in events]
    first = recorder.sent[0]
    assert first.topic == "reintegra.followup.events.v1"
    assert first.headers["ce_type"] == "org.reintegra.followup.followup_due.v1"
    assert first.headers["ce_source"] == "/reintegra/test"
    assert first.headers["ce_subject"] == str(events[0].case_id)
    assert first.headers["content-type"] == "application/json"
    async with db.session() as s:
        assert await outbox.pending_count(s) == 0


async def test_a_failed_publish_stays_pending_with_its_error(db: Database, schema: Schema) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    async with UnitOfWork(db, outbox) as uow:
        await uow.emit(due_event())
        await uow.emit(due_event())
        await uow.commit()
    relay = OutboxRelay(db, schema.kit, Recorder(fail_on={2}))
    assert await relay.publish_pending() == 1
    async with db.session() as s:
        row = (await s.execute(select(schema.kit.outbox).where(schema.kit.outbox.c.id == 2))).one()
    assert row.published_at is None
    assert "broker unreachable" in row.last_error
    assert row.attempts == 1
    retry = Recorder()
    assert await OutboxRelay(db, schema.kit, retry).publish_pending() == 1
    assert [m.id for m in retry.sent] == [2]


async def test_the_relay_publishes_inside_the_trace_of_the_request_that_wrote_the_row(
    db: Database, schema: Schema
) -> None:
    tracer = TracerProvider().get_tracer("test")
    outbox = Outbox(schema.kit, "/reintegra/test")
    with tracer.start_as_current_span("POST /v1/arrivals") as span:
        request_trace = span.get_span_context().trace_id
        async with UnitOfWork(db, outbox) as uow:
            await uow.emit(due_event())
            await uow.commit()
    recorder = Recorder()
    await OutboxRelay(db, schema.kit, recorder).publish_pending()
    assert recorder.trace_ids == [request_trace]
    assert recorder.sent[0].traceparent is not None
    assert f"{request_trace:032x}" in recorder.sent[0].traceparent


async def test_a_failed_send_holds_back_the_later_events_of_its_case_but_not_other_cases(
    db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    case_a = uuid4()
    a_events = [due_event().model_copy(update={"case_id": case_a}) for _ in range(3)]
    b_event = due_event()
    async with UnitOfWork(db, outbox) as uow:
        for e in [a_events[0], b_event, a_events[1], a_events[2]]:  # rows 1..4
            await uow.emit(e)
        await uow.commit()
    failing = Recorder(fail_on={1})  # the first event of case A cannot be sent
    assert await OutboxRelay(db, schema.kit, failing).publish_pending() == 1
    # case B went out; nothing of case A did, so A's second event cannot overtake its first
    assert [m.key.decode() for m in failing.sent] == [str(b_event.case_id)]
    retry = Recorder()
    assert await OutboxRelay(db, schema.kit, retry).publish_pending() == 3
    assert [m.id for m in retry.sent] == [1, 3, 4]


async def test_each_event_of_a_case_is_sent_only_after_the_previous_one_was_acknowledged(
    db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    case_a = uuid4()
    async with UnitOfWork(db, outbox) as uow:
        for _ in range(3):
            await uow.emit(due_event().model_copy(update={"case_id": case_a}))
        await uow.emit(due_event())
        await uow.commit()
    log: list[str] = []

    async def publish(message: OutboxMessage) -> Any:
        log.append(f"send {message.id}")

        async def ack() -> None:
            await asyncio.sleep(0.01)
            log.append(f"ack {message.id}")

        return ack()

    assert await OutboxRelay(db, schema.kit, publish).publish_pending() == 4
    for earlier, later in ((1, 2), (2, 3)):
        assert log.index(f"ack {earlier}") < log.index(f"send {later}")
    assert log.index("send 4") < log.index("ack 1")  # other cases are not held up


async def test_the_outbox_refuses_an_event_the_service_does_not_declare(db: Database, schema: Schema) -> None:
    outbox = Outbox(
        schema.kit, "/reintegra/test", declared=frozenset({"org.reintegra.followup.followup_scheduled.v1"})
    )
    async with UnitOfWork(db, outbox) as uow:
        with pytest.raises(UndeclaredEventError, match="followup_due"):
            await uow.emit(due_event())


async def test_the_relay_holds_no_database_lock_while_it_waits_for_the_broker(
    db: Database, schema: Schema
) -> None:
    # SQLite has one writer at a time: a relay holding its transaction across the broker's
    # acknowledgement would stop every handler meanwhile. Here a handler commits during the send.
    outbox = Outbox(schema.kit, "/reintegra/test")
    async with UnitOfWork(db, outbox) as uow:
        await uow.emit(due_event())
        await uow.commit()
    written_meanwhile: list[str] = []

    async def publish(message: OutboxMessage) -> Any:
        async def ack() -> None:
            async with UnitOfWork(db, outbox) as other:
                await other.emit(due_event())
                await asyncio.wait_for(other.commit(), timeout=5)
            written_meanwhile.append(message.event_id)

        return ack()

    assert await OutboxRelay(db, schema.kit, publish).publish_pending() == 1
    assert len(written_meanwhile) == 1
    async with db.session() as s:
        assert await outbox.pending_count(s) == 1  # the event committed during the send


async def test_two_relays_on_one_sqlite_file_take_turns(tmp_path: Any, schema: Schema) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    try:
        async with first.engine.begin() as conn:
            await conn.run_sync(schema.metadata.create_all)
        outbox = Outbox(schema.kit, "/reintegra/test")
        async with UnitOfWork(first, outbox) as uow:
            await uow.emit(due_event())
            await uow.commit()
        other = Recorder()

        async def publish(message: OutboxMessage) -> Any:
            # while this process sends, the other finds the relay taken and publishes nothing
            assert await OutboxRelay(second, schema.kit, other).publish_pending() == 0
            return await Recorder()(message)

        assert await OutboxRelay(first, schema.kit, publish).publish_pending() == 1
        assert other.sent == []
        assert await OutboxRelay(second, schema.kit, other).publish_pending() == 0  # nothing left
    finally:
        await first.dispose()
        await second.dispose()


async def test_events_emitted_in_a_rolled_back_savepoint_are_not_published(
    db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    kept, dropped = due_event(), due_event()

    async def failing_part(uow: UnitOfWork) -> None:
        async with uow.savepoint():
            await uow.emit(dropped)
            raise RuntimeError("the timer handler failed")

    async with UnitOfWork(db, outbox) as uow:
        await uow.emit(kept)
        with pytest.raises(RuntimeError):
            await failing_part(uow)
        await uow.commit()
    recorder = Recorder()
    assert await OutboxRelay(db, schema.kit, recorder).publish_pending() == 1
    assert [m.key.decode() for m in recorder.sent] == [str(kept.case_id)]


async def commit_one(db: Database, outbox: Outbox, relay: OutboxRelay) -> None:
    """Commit one event, waking ``relay`` as the services' units of work do."""
    async with UnitOfWork(db, outbox, relay.wake) as uow:
        await uow.emit(due_event())
        await uow.commit()


async def until_sent(recorder: Recorder, count: int) -> None:
    for _ in range(200):
        if len(recorder.sent) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(recorder.sent)} sent, not {count}")


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Task[None]]:
    """``relay.run()`` in a task for the block, cancelled after it."""
    task = asyncio.create_task(relay.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_commit_wakes_the_relay_at_once_even_during_a_pass(db: Database, schema: Schema) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    first_pass_running = asyncio.Event()
    recorder = Recorder()

    async def publish(message: OutboxMessage) -> Any:
        first_pass_running.set()
        return await recorder(message)

    relay = OutboxRelay(db, schema.kit, publish, interval_s=60.0)  # only a wake-up can make it look again
    await commit_one(db, outbox, relay)
    async with running(relay):
        await asyncio.wait_for(first_pass_running.wait(), timeout=10)
        await commit_one(db, outbox, relay)  # commits while (or right after) it sends
        await until_sent(recorder, 2)
        assert len(recorder.sent) == 2


async def test_after_a_pass_of_less_than_a_batch_the_relay_looks_again_only_when_woken(
    db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    recorder = Recorder()
    relay = OutboxRelay(db, schema.kit, recorder, interval_s=60.0, batch_size=10)
    passes: list[int] = []
    real_pass = relay.publish_pending

    async def counted() -> int:
        published = await real_pass()
        passes.append(published)
        return published

    relay.publish_pending = counted  # type: ignore[method-assign]
    await commit_one(db, outbox, relay)
    async with running(relay):
        await until_sent(recorder, 1)
        await asyncio.sleep(0.3)
        assert passes == [1]  # not a second pass to find nothing: no commit woke it since
        await commit_one(db, outbox, relay)
        await until_sent(recorder, 2)
        await asyncio.sleep(0.3)
        assert passes == [1, 1]


async def test_on_sqlite_rows_committed_while_a_batch_is_sent_are_read_as_it_is_marked(
    tmp_path: Any, schema: Schema
) -> None:
    # (PostgreSQL relays a batch in one transaction already: read, send and mark under its lock)
    db = await open_db(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", schema)
    outbox = Outbox(schema.kit, "/reintegra/test")
    recorder = Recorder()
    relay = OutboxRelay(db, schema.kit, recorder, interval_s=60.0, batch_size=10)

    async def publish(message: OutboxMessage) -> Any:
        if not recorder.sent:  # the first batch: another row commits while it is sent
            await asyncio.create_task(commit_one(db, outbox, relay))
        return await recorder(message)

    relay._publish = publish
    relay_task: asyncio.Task[None] | None = None
    relay_transactions = 0
    sessions = db.session

    def counted() -> Any:
        nonlocal relay_transactions
        if relay_task is not None and asyncio.current_task() is relay_task:
            relay_transactions += 1
        return sessions()

    db.session = counted  # type: ignore[method-assign]
    await commit_one(db, outbox, relay)
    try:
        async with running(relay) as relay_task:
            await until_sent(recorder, 2)
            await asyncio.sleep(0.2)
            assert len(recorder.sent) == 2
            # read; mark the first and read the second; mark the second (nothing woke it since)
            assert relay_transactions == 3
        async with db.session() as s:
            outbox_rows = schema.kit.outbox
            pending = (await s.execute(select(outbox_rows).where(outbox_rows.c.published_at.is_(None)))).all()
        assert pending == []
    finally:
        await db.dispose()
