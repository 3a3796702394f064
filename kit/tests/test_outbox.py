"""The outbox: events commit with state; the relay publishes in order, inside the writer's trace."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts.events.followup import FollowupDue, FollowupReason
from reintegra_kit.db import Database
from reintegra_kit.outbox import Outbox, OutboxMessage, OutboxRelay
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import select

from .conftest import Schema


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


async def test_events_are_staged_only_when_the_transaction_commits(
    sqlite_db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    async with UnitOfWork(sqlite_db, outbox) as uow:
        await uow.emit(due_event())
        # leaving without commit rolls back
    async with UnitOfWork(sqlite_db, outbox) as uow:
        await uow.emit(due_event())
        await uow.commit()
    async with sqlite_db.session() as s:
        assert await outbox.pending_count(s) == 1


async def test_the_relay_publishes_in_order_with_cloudevents_headers_and_marks_rows(
    sqlite_db: Database, schema: Schema
) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    events = [due_event() for _ in range(3)]
    async with UnitOfWork(sqlite_db, outbox) as uow:
        for e in events:
            await uow.emit(e)
        await uow.commit()
    recorder = Recorder()
    relay = OutboxRelay(sqlite_db, schema.kit, recorder)
    assert await relay.publish_pending() == 3
    assert await relay.publish_pending() == 0
    assert [m.key.decode() for m in recorder.sent] == [str(e.case_id) for e in events]
    first = recorder.sent[0]
    assert first.topic == "reintegra.followup.events.v1"
    assert first.headers["ce_type"] == "org.reintegra.followup.followup_due.v1"
    assert first.headers["ce_source"] == "/reintegra/test"
    assert first.headers["ce_subject"] == str(events[0].case_id)
    assert first.headers["content-type"] == "application/json"
    async with sqlite_db.session() as s:
        assert await outbox.pending_count(s) == 0


async def test_a_failed_publish_stays_pending_with_its_error(sqlite_db: Database, schema: Schema) -> None:
    outbox = Outbox(schema.kit, "/reintegra/test")
    async with UnitOfWork(sqlite_db, outbox) as uow:
        await uow.emit(due_event())
        await uow.emit(due_event())
        await uow.commit()
    relay = OutboxRelay(sqlite_db, schema.kit, Recorder(fail_on={2}))
    assert await relay.publish_pending() == 1
    async with sqlite_db.session() as s:
        row = (await s.execute(select(schema.kit.outbox).where(schema.kit.outbox.c.id == 2))).one()
    assert row.published_at is None
    assert "broker unreachable" in row.last_error
    assert row.attempts == 1
    retry = Recorder()
    assert await OutboxRelay(sqlite_db, schema.kit, retry).publish_pending() == 1
    assert [m.id for m in retry.sent] == [2]


async def test_the_relay_publishes_inside_the_trace_of_the_request_that_wrote_the_row(
    sqlite_db: Database, schema: Schema
) -> None:
    tracer = TracerProvider().get_tracer("test")
    outbox = Outbox(schema.kit, "/reintegra/test")
    with tracer.start_as_current_span("POST /v1/arrivals") as span:
        request_trace = span.get_span_context().trace_id
        async with UnitOfWork(sqlite_db, outbox) as uow:
            await uow.emit(due_event())
            await uow.commit()
    recorder = Recorder()
    await OutboxRelay(sqlite_db, schema.kit, recorder).publish_pending()
    assert recorder.trace_ids == [request_trace]
    assert recorder.sent[0].traceparent is not None
    assert f"{request_trace:032x}" in recorder.sent[0].traceparent
