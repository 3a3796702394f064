"""The consumer's policy: process once, skip duplicates, retry then park, redeliver on outages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts import encode
from reintegra_contracts.events.followup import FollowupDue, FollowupReason, FollowupScheduled
from reintegra_kit import consumer as consumer_module
from reintegra_kit.consumer import ConsumerPolicy, EventConsumer, Outcome, RedeliverError, current_record
from reintegra_kit.db import Database
from reintegra_kit.deadletters import ParkedRecord, replay
from reintegra_kit.domain import ConflictError, DomainError
from reintegra_kit.inbox import Inbox
from reintegra_kit.outbox import Outbox
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import func, insert, select
from sqlalchemy.exc import OperationalError

from .conftest import Schema, open_db

TOPIC = "reintegra.followup.events.v1"


@dataclass
class FakeRecord:
    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes | None = b"k"
    topic: str = TOPIC
    partition: int = 0
    offset: int = 7


@dataclass
class DeadLetters:
    sent: list[tuple[str, bytes | None, bytes, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> None:
        self.sent.append((topic, key, value, headers))


def due_event() -> FollowupDue:
    return FollowupDue(
        case_id=uuid4(),
        followup_id=uuid4(),
        reason=FollowupReason.POST_ARRIVAL,
        due_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def record_of(event: Any) -> FakeRecord:
    rec = encode(event, source="/test")
    return FakeRecord(value=rec.value, headers=rec.headers, key=rec.key)


async def no_sleep(_: float) -> None:
    return None


def make_consumer(
    db: Database,
    schema: Schema,
    handler: Any,
    dead: DeadLetters,
    attempts: int = 3,
    policy: ConsumerPolicy | None = None,
) -> EventConsumer[UnitOfWork]:
    outbox = Outbox(schema.kit, "/test")
    return EventConsumer(
        group="g",
        uow_factory=lambda: UnitOfWork(db, outbox),
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        publish_raw=dead,
        policy=policy or ConsumerPolicy(attempts=attempts, backoff_s=0.0, infrastructure_pause_s=0.0),
        sleep=no_sleep,
    )


async def count(db: Database, table: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


async def test_an_event_is_handled_once_and_a_redelivery_changes_nothing(
    db: Database, schema: Schema
) -> None:
    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead)
    record = record_of(due_event())

    assert await consumer.process(record) is Outcome.PROCESSED
    assert await consumer.process(record) is Outcome.DUPLICATE
    assert await count(db, schema.effects) == 1
    assert await count(db, schema.kit.inbox) == 1
    assert dead.sent == []


async def test_a_message_without_cloudevents_headers_is_parked_at_once(db: Database, schema: Schema) -> None:
    calls = 0

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead)
    outcome = await consumer.process(FakeRecord(value=b"not json", headers=[]))
    assert outcome is Outcome.PARKED
    assert calls == 0
    [(topic, key, value, headers)] = dead.sent
    assert topic == TOPIC + ".dlq"
    assert (key, value) == (b"k", b"not json")
    assert "ce_id" in headers["reintegra_dlq_reason"]
    assert headers["reintegra_dlq_error_type"] == "EnvelopeError"
    assert headers["reintegra_dlq_original_offset"] == "7"
    assert headers["reintegra_dlq_attempts"] == "0"


async def test_invalid_data_is_parked_with_the_field_that_is_wrong(db: Database, schema: Schema) -> None:
    dead = DeadLetters()

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        raise AssertionError("must not be called")

    consumer = make_consumer(db, schema, handler, dead)
    good = record_of(due_event())
    bad = FakeRecord(
        value=good.value.replace(b'"reason":"post_arrival"', b'"reason":"whenever"'),  # type: ignore[union-attr]
        headers=good.headers,
        key=good.key,
    )
    assert await consumer.process(bad) is Outcome.PARKED
    reason = dead.sent[0][3]["reintegra_dlq_reason"]
    assert "reason" in reason
    assert dead.sent[0][3]["reintegra_dlq_error_type"] == "EventValidationError"


async def test_an_unknown_event_type_is_parked_and_a_known_unhandled_one_is_skipped(
    db: Database, schema: Schema
) -> None:
    dead = DeadLetters()

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        return None

    consumer = make_consumer(db, schema, handler, dead)
    unhandled = record_of(
        FollowupScheduled(
            case_id=uuid4(),
            followup_id=uuid4(),
            reason=FollowupReason.PERIODIC,
            due_at=datetime(2026, 3, 1, tzinfo=UTC),
        )
    )
    assert await consumer.process(unhandled) is Outcome.SKIPPED
    unknown = FakeRecord(
        value=b"{}",
        headers=[(n, b"org.example.other.v9" if n == "ce_type" else v) for n, v in unhandled.headers],
    )
    assert await consumer.process(unknown) is Outcome.PARKED
    assert "unknown event type 'org.example.other.v9'" in dead.sent[0][3]["reintegra_dlq_reason"]


async def test_a_handler_that_keeps_failing_is_retried_then_parked_and_its_effects_rolled_back(
    db: Database, schema: Schema
) -> None:
    attempts = 0

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        await uow.session.execute(insert(schema.effects).values(event_id=f"partial-{attempts}"))
        raise ValueError("no service covers this municipality")

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead, attempts=3)
    assert await consumer.process(record_of(due_event())) is Outcome.PARKED
    assert attempts == 3
    headers = dead.sent[0][3]
    assert headers["reintegra_dlq_reason"] == "no service covers this municipality"
    assert headers["reintegra_dlq_error_type"] == "ValueError"
    assert headers["reintegra_dlq_attempts"] == "3"
    assert "ValueError" in headers["reintegra_dlq_stacktrace"]
    assert await count(db, schema.effects) == 0
    assert await count(db, schema.kit.inbox) == 0


async def test_a_handler_that_fails_once_succeeds_on_retry(db: Database, schema: Schema) -> None:
    attempts = 0

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("transient")
        await uow.session.execute(insert(schema.effects).values(event_id="done"))

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead)
    assert await consumer.process(record_of(due_event())) is Outcome.PROCESSED
    assert await count(db, schema.effects) == 1
    assert dead.sent == []


async def test_a_database_outage_asks_for_redelivery_instead_of_parking(db: Database, schema: Schema) -> None:
    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead)
    with pytest.raises(RedeliverError):
        await consumer.process(record_of(due_event()))
    assert dead.sent == []
    assert await count(db, schema.kit.inbox) == 0


async def test_a_record_whose_key_is_not_its_case_id_is_parked_at_once(db: Database, schema: Schema) -> None:
    calls = 0

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead)
    good = record_of(due_event())
    for key in (b"another-case", None):
        assert (
            await consumer.process(FakeRecord(value=good.value, headers=good.headers, key=key))
            is Outcome.PARKED
        )
    assert calls == 0
    assert all("is not the event's case id" in h["reintegra_dlq_reason"] for *_, h in dead.sent)
    assert await consumer.process(good) is Outcome.PROCESSED
    assert calls == 1


async def test_a_record_larger_than_max_event_bytes_is_parked_unread_with_its_size(
    db: Database, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    decoded: list[bytes] = []
    real_decode = consumer_module.decode_data

    def counting_decode(attributes: Any, value: bytes) -> Any:
        decoded.append(value)
        return real_decode(attributes, value)

    monkeypatch.setattr(consumer_module, "decode_data", counting_decode)
    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead, policy=ConsumerPolicy(max_event_bytes=4096))
    good = record_of(due_event())
    huge = FakeRecord(value=b'{"case_id": "' + b"x" * 5000 + b'"}', headers=good.headers, key=good.key)
    assert await consumer.process(huge) is Outcome.PARKED
    assert decoded == []  # refused by its size alone
    [(_, key, value, headers)] = dead.sent
    assert (key, value) == (huge.key, b"")  # not copied: the dead letter says where the record is
    assert headers["reintegra_dlq_value_omitted"] == "5015"
    assert (headers["reintegra_dlq_original_partition"], headers["reintegra_dlq_original_offset"]) == (
        "0",
        "7",
    )
    assert headers["reintegra_dlq_reason"].startswith("event of 5015 bytes is larger than the 4096 bytes")
    assert await consumer.process(good) is Outcome.PROCESSED  # an event of the right size still is
    assert calls == 1


async def test_a_business_refusal_is_recorded_and_answered_once_never_retried_nor_parked(
    db: Database, schema: Schema
) -> None:
    attempts = 0
    answers: list[str] = []

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        nonlocal attempts
        attempts += 1
        await uow.session.execute(insert(schema.effects).values(event_id="must-roll-back"))
        raise ConflictError("follow-up is 'closed'; it cannot fall due")

    async def answer(event: FollowupDue, error: DomainError, uow: UnitOfWork) -> None:
        answers.append(f"{error.code}: {error}")
        await uow.session.execute(insert(schema.effects).values(event_id="answered"))

    dead = DeadLetters()
    outbox = Outbox(schema.kit, "/test")
    consumer: EventConsumer[UnitOfWork] = EventConsumer(
        group="g",
        uow_factory=lambda: UnitOfWork(db, outbox),
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        refusal_handlers={FollowupDue: answer},
        publish_raw=dead,
        policy=ConsumerPolicy(attempts=3, backoff_s=0.0, infrastructure_pause_s=0.0),
        sleep=no_sleep,
    )
    record = record_of(due_event())
    assert await consumer.process(record) is Outcome.REFUSED
    assert await consumer.process(record) is Outcome.DUPLICATE  # answered once
    assert attempts == 1
    assert answers == ["conflict: follow-up is 'closed'; it cannot fall due"]
    assert dead.sent == []
    async with db.session() as s:
        effects = (await s.execute(select(schema.effects.c.event_id))).scalars().all()
        inbox = (await s.execute(select(schema.kit.inbox.c.outcome, schema.kit.inbox.c.detail))).all()
    assert effects == ["answered"]
    assert [tuple(r) for r in inbox] == [("refused", "follow-up is 'closed'; it cannot fall due")]


async def test_handlers_cannot_commit_the_consumers_transaction(db: Database, schema: Schema) -> None:
    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.commit()

    dead = DeadLetters()
    consumer = make_consumer(db, schema, handler, dead, attempts=1)
    assert await consumer.process(record_of(due_event())) is Outcome.PARKED
    assert dead.sent[0][3]["reintegra_dlq_error_type"] == "HandlerCommitError"


class CountingUow:
    """A unit-of-work factory that counts transactions."""

    def __init__(self, db: Database, schema: Schema) -> None:
        self.opened = 0
        self._db, self._outbox = db, Outbox(schema.kit, "/test")

    def __call__(self) -> UnitOfWork:
        self.opened += 1
        return UnitOfWork(self._db, self._outbox)


def batch_consumer(
    db: Database, schema: Schema, handler: Any, dead: DeadLetters, uows: CountingUow, **kw: Any
) -> EventConsumer[UnitOfWork]:
    return EventConsumer(
        group="g",
        uow_factory=uows,
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        publish_raw=dead,
        policy=ConsumerPolicy(attempts=2, backoff_s=0.0, infrastructure_pause_s=0.0),
        sleep=no_sleep,
        **kw,
    )


async def test_a_batch_is_handled_in_one_transaction_with_duplicates_skipped(
    db: Database, schema: Schema
) -> None:
    seen: list[str] = []

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        seen.append(str(event.followup_id))
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    uows, dead = CountingUow(db, schema), DeadLetters()
    events = [due_event() for _ in range(20)]
    records = [record_of(e) for e in events]
    outcomes = await batch_consumer(db, schema, handler, dead, uows).process_batch([*records, records[3]])
    assert outcomes == [Outcome.PROCESSED] * 20 + [Outcome.DUPLICATE]
    assert uows.opened == 1
    assert seen == [str(e.followup_id) for e in events]
    assert await count(db, schema.effects) == 20


async def test_one_bad_message_in_a_batch_is_retried_and_parked_alone_and_the_rest_keep_their_order(
    db: Database, schema: Schema
) -> None:
    events = [due_event() for _ in range(6)]
    poison = str(events[2].followup_id)
    seen: list[str] = []

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        if str(event.followup_id) == poison:
            raise ValueError("cannot handle this one")
        seen.append(str(event.followup_id))
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    uows, dead = CountingUow(db, schema), DeadLetters()
    outcomes = await batch_consumer(db, schema, handler, dead, uows).process_batch(
        [record_of(e) for e in events]
    )
    assert outcomes == [Outcome.PROCESSED] * 2 + [Outcome.PARKED] + [Outcome.PROCESSED] * 3
    assert [h["reintegra_dlq_reason"] for *_, h in dead.sent] == ["cannot handle this one"]
    good = [str(e.followup_id) for i, e in enumerate(events) if i != 2]
    assert seen[-5:] == good  # after the failed batch attempt, one by one and in order
    assert await count(db, schema.effects) == 5


async def test_a_refusal_in_a_batch_is_recorded_and_the_others_processed(
    db: Database, schema: Schema
) -> None:
    events = [due_event() for _ in range(4)]
    refused = str(events[1].followup_id)

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        if str(event.followup_id) == refused:
            raise ConflictError("not now")
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    uows, dead = CountingUow(db, schema), DeadLetters()
    outcomes = await batch_consumer(db, schema, handler, dead, uows).process_batch(
        [record_of(e) for e in events]
    )
    assert outcomes == [Outcome.PROCESSED, Outcome.REFUSED, Outcome.PROCESSED, Outcome.PROCESSED]
    assert dead.sent == []
    assert await count(db, schema.effects) == 3


async def test_an_outage_during_a_batch_asks_for_the_whole_batch_again_and_keeps_nothing(
    db: Database, schema: Schema
) -> None:
    events = [due_event() for _ in range(3)]

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))
        if event.followup_id == events[2].followup_id:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("db down"))

    uows, dead = CountingUow(db, schema), DeadLetters()
    with pytest.raises(RedeliverError):
        await batch_consumer(db, schema, handler, dead, uows).process_batch([record_of(e) for e in events])
    assert await count(db, schema.effects) == 0
    assert await count(db, schema.kit.inbox) == 0


async def test_each_event_of_a_batch_is_handled_in_its_own_trace(db: Database, schema: Schema) -> None:
    tracer = TracerProvider().get_tracer("test")
    records, expected = [], []
    for _ in range(3):
        with tracer.start_as_current_span("producer") as span:
            carrier: dict[str, str] = {}
            inject(carrier)
            expected.append(span.get_span_context().trace_id)
        rec = record_of(due_event())
        records.append(
            FakeRecord(
                value=rec.value,
                headers=[*rec.headers, ("traceparent", carrier["traceparent"].encode())],
                key=rec.key,
            )
        )
    seen: list[int] = []

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    await batch_consumer(db, schema, handler, DeadLetters(), CountingUow(db, schema)).process_batch(records)
    assert seen == expected


@dataclass
class QueuedDeadLetters:
    """A dead-letter sender that queues and acknowledges later, as the Kafka producer does."""

    sent: list[tuple[str, bytes | None, bytes, dict[str, str]]] = field(default_factory=list)
    acks: list[asyncio.Future[Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        self.sent.append((topic, key, value, headers))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        async with self.changed:
            self.changed.notify_all()
        return ack

    async def until_sent(self, n: int) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.sent) >= n), timeout=10)


async def never_published(*_: Any) -> None:
    raise AssertionError("dead letters go through send_raw, not one awaited publish each")


def parking_consumer(
    db: Database, schema: Schema, handler: Any, queued: QueuedDeadLetters, sleeps: list[float]
) -> EventConsumer[UnitOfWork]:
    outbox = Outbox(schema.kit, "/test")

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return EventConsumer(
        group="g",
        uow_factory=lambda: UnitOfWork(db, outbox),
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        publish_raw=never_published,
        send_raw=queued,
        policy=ConsumerPolicy(attempts=3, backoff_s=0.5, infrastructure_pause_s=0.0),
        sleep=sleep,
    )


def bad_records() -> list[FakeRecord]:
    """One of each kind that can never succeed: no headers, unknown type, wrong key, invalid data."""
    unknown = record_of(due_event())
    unknown.headers = [
        (k, b"org.reintegra.followup.teleported.v1" if k == "ce_type" else v) for k, v in unknown.headers
    ]
    wrong_key = record_of(due_event())
    wrong_key.key = b"not-the-case"
    invalid = record_of(due_event())
    invalid.value = b'{"case_id": 42}'
    return [FakeRecord(value=b"\x00garbage", headers=[]), unknown, wrong_key, invalid]


async def test_a_batch_parks_its_bad_records_together_and_returns_only_once_all_are_acknowledged(
    db: Database, schema: Schema
) -> None:
    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    queued, sleeps = QueuedDeadLetters(), []
    good = [record_of(due_event()) for _ in range(3)]
    bad = bad_records()
    batch = [bad[0], good[0], bad[1], bad[2], good[1], bad[3], good[2]]
    for offset, record in enumerate(batch):
        record.offset = offset
    task = asyncio.create_task(parking_consumer(db, schema, handler, queued, sleeps).process_batch(batch))
    await queued.until_sent(len(bad))
    await asyncio.sleep(0.05)
    # every dead letter was sent, in offset order, before any was acknowledged; the batch waits for them
    assert [int(h["reintegra_dlq_original_offset"]) for *_, h in queued.sent] == [0, 2, 3, 5]
    assert not task.done()
    for ack in queued.acks:
        ack.set_result(None)
    outcomes = await task
    parked, processed = Outcome.PARKED, Outcome.PROCESSED
    assert outcomes == [parked, processed, parked, parked, processed, parked, processed]
    assert [h["reintegra_dlq_attempts"] for *_, h in queued.sent] == ["0"] * 4  # never retried
    assert sleeps == []  # no back-off for what can never succeed
    assert await count(db, schema.effects) == 3


async def test_a_dead_letter_the_broker_does_not_acknowledge_asks_for_the_whole_batch_again(
    db: Database, schema: Schema
) -> None:
    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    queued, sleeps = QueuedDeadLetters(), []
    consumer = parking_consumer(db, schema, handler, queued, sleeps)
    good = record_of(due_event())
    task = asyncio.create_task(consumer.process_batch([*bad_records(), good]))
    await queued.until_sent(4)
    queued.acks[0].set_result(None)
    queued.acks[1].set_exception(ConnectionError("broker gone"))
    queued.acks[2].set_result(None)
    queued.acks[3].set_result(None)
    with pytest.raises(RedeliverError, match="dead letters not acknowledged"):
        await task  # no outcome: the caller commits no offset of this batch
    # the batch comes again; its good record was handled once, so it is now a duplicate
    again = asyncio.create_task(consumer.process_batch([*bad_records(), good]))
    await queued.until_sent(8)
    for ack in queued.acks[4:]:
        ack.set_result(None)
    assert (await again)[-1] == Outcome.DUPLICATE
    assert await count(db, schema.effects) == 1


async def test_a_dead_letter_without_its_value_is_not_replayed() -> None:
    parked = ParkedRecord(
        partition=0,
        offset=3,
        key=b"k",
        value=b"",
        headers=(
            ("reintegra_dlq_original_topic", TOPIC.encode()),
            ("reintegra_dlq_value_omitted", b"900013"),
        ),
    )
    with pytest.raises(ValueError, match="parked without their value") as refused:
        await replay("127.0.0.1:1", [parked])  # refused before any connection
    assert "0:3" in str(refused.value)


@pytest.mark.connected
async def test_on_postgresql_a_batchs_partitions_are_handled_at_once_each_in_its_own_transaction(
    postgres_url: str, schema: Schema
) -> None:
    db = await open_db(postgres_url, schema)
    started = {0: asyncio.Event(), 1: asyncio.Event()}
    order: list[tuple[int, int]] = []

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        record = current_record()
        assert record is not None
        order.append((record.partition, record.offset))
        started[record.partition].set()
        # each partition's first record waits for the other partition to have started: handled one
        # partition after the other, this times out (and the records are retried, then parked)
        await asyncio.wait_for(started[1 - record.partition].wait(), timeout=5)
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    dead = DeadLetters()
    consumer = make_consumer(
        db, schema, handler, dead, policy=ConsumerPolicy(attempts=1, parallel_partitions=2)
    )
    batch = []
    for partition in (0, 1):
        for offset in (10, 11, 12):
            good = record_of(due_event())
            batch.append(FakeRecord(good.value, good.headers, good.key, partition=partition, offset=offset))
    try:
        outcomes = await consumer.process_batch(batch)
        assert outcomes == [Outcome.PROCESSED] * 6
        assert dead.sent == []
        assert await count(db, schema.effects) == 6
        for partition in (0, 1):  # per-partition (per-case) order holds
            assert [o for p, o in order if p == partition] == [10, 11, 12]
    finally:
        await db.dispose()


@pytest.mark.connected
async def test_partitions_that_share_a_case_in_a_batch_are_handled_in_one_transaction(
    postgres_url: str, schema: Schema
) -> None:
    # a case's events on two topics, handled by two transactions at once, could each wait for the
    # other's lock on the case (a deadlock): their partitions make one part
    db = await open_db(postgres_url, schema)
    seen: dict[tuple[str, int], int] = {}
    kept: list[UnitOfWork] = []  # alive to the end: no two units of work share an id()

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        record = current_record()
        assert record is not None
        kept.append(uow)
        seen[(record.topic, record.partition)] = id(uow)

    consumer = make_consumer(
        db, schema, handler, DeadLetters(), policy=ConsumerPolicy(attempts=1, parallel_partitions=4)
    )
    case_a, case_b = due_event(), due_event()
    other_a = case_a.model_copy(update={"followup_id": uuid4()})  # case A again, another event
    batch = []
    for topic, partition, event in (("t1", 0, case_a), ("t2", 1, other_a), ("t1", 2, case_b)):
        rec = record_of(event)
        batch.append(FakeRecord(rec.value, rec.headers, rec.key, topic=topic, partition=partition, offset=1))
    try:
        assert await consumer.process_batch(batch) == [Outcome.PROCESSED] * 3
        assert seen[("t1", 0)] == seen[("t2", 1)]  # case A's partitions: one transaction
        assert seen[("t1", 2)] != seen[("t1", 0)]  # case B's: its own
    finally:
        await db.dispose()


class PreparingUow(UnitOfWork):
    """Records what the consumer asks it to prepare, and when (before or after a handler ran)."""

    calls: list[tuple[list[str], int]] = []
    events: list[tuple[list[str], int]] = []
    handled = 0

    async def prepare_cases(self, case_ids: Any) -> None:
        PreparingUow.calls.append(([str(c) for c in case_ids], PreparingUow.handled))

    async def prepare_events(self, events: Any) -> None:
        assert len(PreparingUow.calls) == len(PreparingUow.events) + 1  # after prepare_cases
        PreparingUow.events.append(([str(e.followup_id) for e in events], PreparingUow.handled))


async def test_a_batch_prepares_the_cases_of_its_new_events_before_any_handler_runs(
    db: Database, schema: Schema
) -> None:
    """The consumer tells the unit of work which cases its batch's new events are about, once, after
    the claims and before the handlers (a service locks them and reads their erasures then: ADR
    0031); duplicates are not new."""
    PreparingUow.calls, PreparingUow.events, PreparingUow.handled = [], [], 0
    outbox = Outbox(schema.kit, "/test")

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        PreparingUow.handled += 1

    consumer: EventConsumer[UnitOfWork] = EventConsumer(
        group="g",
        uow_factory=lambda: PreparingUow(db, outbox),
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        publish_raw=DeadLetters(),
        policy=ConsumerPolicy(attempts=1, backoff_s=0.0, infrastructure_pause_s=0.0),
        sleep=no_sleep,
    )
    done = record_of(due_event())
    assert await consumer.process(done) is Outcome.PROCESSED  # alone: no batch to prepare
    assert PreparingUow.calls == []
    assert PreparingUow.events == []
    PreparingUow.handled = 0
    events = [due_event() for _ in range(3)]
    outcomes = await consumer.process_batch([*(record_of(e) for e in events), done])
    assert outcomes == [Outcome.PROCESSED] * 3 + [Outcome.DUPLICATE]
    assert PreparingUow.calls == [([str(e.case_id) for e in events], 0)]
    assert PreparingUow.events == [([str(e.followup_id) for e in events], 0)]  # the events themselves
