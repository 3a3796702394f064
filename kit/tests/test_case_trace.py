"""One returnee, one trace: a later command on a case continues the case's trace, linked to its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from reintegra_contracts.events.followup import FollowupDue, FollowupReason
from reintegra_kit import case_trace as case_trace_module
from reintegra_kit.db import Database
from reintegra_kit.domain import AggregateRoot
from reintegra_kit.handlers import Dependencies, MessageBus
from reintegra_kit.outbox import Outbox
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import event, select

from .conftest import Schema


@dataclass(eq=False)
class Thing(AggregateRoot):
    case_id: UUID

    def happen(self) -> None:
        self.record(
            FollowupDue(
                case_id=self.case_id,
                followup_id=uuid4(),
                reason=FollowupReason.POST_ARRIVAL,
                due_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )


@dataclass(frozen=True)
class Touch:
    case_id: UUID


async def touch(cmd: Touch, uow: UnitOfWork) -> None:
    thing = Thing(cmd.case_id)
    thing.happen()
    await Repository(uow).publish_events(thing)


async def traceparents(db: Database, schema: Schema) -> list[str]:
    async with db.session() as s:
        return list(
            (
                await s.execute(select(schema.kit.outbox.c.traceparent).order_by(schema.kit.outbox.c.id))
            ).scalars()
        )


async def test_a_later_command_on_a_case_continues_the_case_trace_with_a_link_to_its_own(
    db: Database, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    monkeypatch.setattr(case_trace_module, "tracer", lambda: tracer)
    outbox = Outbox(schema.kit, "/test")
    bus: MessageBus[UnitOfWork] = MessageBus(lambda: UnitOfWork(db, outbox), Dependencies())
    bus.register({Touch: touch})
    case_id = uuid4()

    with tracer.start_as_current_span("POST /v1/arrivals") as first:
        await bus.handle(Touch(case_id))
        case_trace = format(first.get_span_context().trace_id, "032x")
    with tracer.start_as_current_span("POST /v1/assessments/{id}/completion") as second:
        await bus.handle(Touch(case_id))
        request_trace = second.get_span_context().trace_id
    with tracer.start_as_current_span("another case") as third:
        await bus.handle(Touch(uuid4()))
        other_trace = format(third.get_span_context().trace_id, "032x")

    first_row, second_row, third_row = await traceparents(db, schema)
    assert first_row.split("-")[1] == case_trace
    assert second_row.split("-")[1] == case_trace  # the case worker's command joined the case's trace
    assert third_row.split("-")[1] == other_trace  # a new case starts its own
    async with db.session() as s:
        stored = dict(
            (
                await s.execute(
                    select(schema.kit.case_traces.c.case_id, schema.kit.case_traces.c.traceparent)
                )
            ).all()
        )
    assert stored[str(case_id)].split("-")[1] == case_trace
    # the span that carried the command into the case's trace is linked to the request's own
    joined = [s for s in exporter.get_finished_spans() if s.name == "Touch (case)"]
    assert len(joined) == 1
    assert format(joined[0].context.trace_id, "032x") == case_trace
    assert [link.context.trace_id for link in joined[0].links] == [request_trace]


async def test_a_case_whose_trace_was_seen_committed_costs_no_statement_and_a_rollback_teaches_nothing(
    db: Database, schema: Schema
) -> None:
    tracer = TracerProvider().get_tracer("test")
    outbox = Outbox(schema.kit, "/test")
    bus: MessageBus[UnitOfWork] = MessageBus(lambda: UnitOfWork(db, outbox), Dependencies())
    bus.register({Touch: touch})
    about_traces: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "case_traces" in statement:
            about_traces.append(statement)

    case_id, other = uuid4(), uuid4()
    uow = UnitOfWork(db, outbox)
    with tracer.start_as_current_span("rolled back"):
        async with uow:
            with uow.trace_scope("event", follow=False):
                await uow.track_case(case_id)
            # left without committing
    assert str(case_id) not in db.known_case_traces
    with tracer.start_as_current_span("POST /v1/arrivals"):
        await bus.handle(Touch(case_id))
    assert str(case_id) in db.known_case_traces

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        with tracer.start_as_current_span("a later command"):
            await bus.handle(Touch(case_id))  # the case's trace is known: no read
        with tracer.start_as_current_span("a later event"):
            async with uow:
                with uow.trace_scope("event", follow=False):
                    await uow.track_case(case_id)  # known: no insert
                await uow.commit()
        assert about_traces == []
        # what a savepoint saw is not learned, even when the transaction commits
        with tracer.start_as_current_span("inside a savepoint"):
            async with uow:
                async with uow.savepoint():
                    with uow.trace_scope("event", follow=False):
                        await uow.track_case(other)
                await uow.commit()
        assert len(about_traces) == 1  # its insert
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert str(other) not in db.known_case_traces
    rows = await traceparents(db, schema)
    assert len({row.split("-")[1] for row in rows}) == 1  # both commands in the case's one trace


def test_the_case_spans_tracer_is_made_once_per_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = TracerProvider(), TracerProvider()
    made: list[TracerProvider] = []
    for provider in (first, second):
        monkeypatch.setattr(provider, "get_tracer", lambda *a, p=provider, **k: made.append(p) or object())
    current = [first]
    monkeypatch.setattr(case_trace_module.trace, "get_tracer_provider", lambda: current[0])
    monkeypatch.setattr(case_trace_module, "_tracer", None)
    a, b = case_trace_module.tracer(), case_trace_module.tracer()
    current[0] = second  # a provider set later (OpenTelemetry's proxy gives way to the SDK's)
    c = case_trace_module.tracer()
    assert a is b
    assert c is not a
    assert made == [first, second]
