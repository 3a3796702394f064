"""Parking a batch's bad records on a real broker: sent together, acknowledged before the batch returns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts.events.followup import FollowupDue
from reintegra_kit.consumer import ConsumerPolicy, EventConsumer, Outcome, RedeliverError
from reintegra_kit.db import Database
from reintegra_kit.inbox import Inbox
from reintegra_kit.outbox import Outbox
from reintegra_kit.runtime.broker import KafkaConnection
from reintegra_kit.settings import ServiceSettings
from reintegra_kit.testing.kafka import TopicReader, header
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert

from .conftest import Schema
from .test_consumer import FakeRecord, due_event, record_of

pytestmark = pytest.mark.connected


@pytest.fixture
async def kafka(kafka_bootstrap: str) -> AsyncIterator[KafkaConnection]:
    connection = KafkaConnection(
        ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, service_name="parking-test"),
        TracerProvider(),
    )
    await connection.start()
    yield connection
    await connection.stop()


async def create_topic(bootstrap: str, name: str, **config: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=config)])
    finally:
        await admin.close()


class SendCounter:
    """Wraps ``send_raw`` and records how many dead letters were sent but not yet acknowledged."""

    def __init__(self, kafka: KafkaConnection) -> None:
        self._kafka = kafka
        self.pending = 0
        self.most_pending = 0

    async def __call__(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> Any:
        ack = await self._kafka.send_raw(topic, key, value, headers)
        self.pending += 1
        self.most_pending = max(self.most_pending, self.pending)
        ack.add_done_callback(lambda _: setattr(self, "pending", self.pending - 1))
        return ack


def consumer_of(db: Database, schema: Schema, send: Any) -> EventConsumer[UnitOfWork]:
    outbox = Outbox(schema.kit, "/test")

    async def handler(event: FollowupDue, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=str(event.followup_id)))

    async def no_publish(*_: Any) -> None:
        raise AssertionError("the runtime parks through send_raw")

    return EventConsumer(
        group="g",
        uow_factory=lambda: UnitOfWork(db, outbox),
        inbox=Inbox(schema.kit, "g"),
        handlers={FollowupDue: [handler]},
        publish_raw=no_publish,
        send_raw=send,
        policy=ConsumerPolicy(attempts=3, backoff_s=0.0, infrastructure_pause_s=0.0),
    )


def garbage(topic: str, offset: int, size: int = 64) -> FakeRecord:
    return FakeRecord(value=b"\x00" * size, headers=[("n", str(offset).encode())], topic=topic, offset=offset)


async def test_a_batch_of_bad_records_is_parked_at_once_in_order_and_acknowledged_before_it_returns(
    db: Database, schema: Schema, kafka: KafkaConnection, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}park{uuid4().hex[:6]}"
    await create_topic(kafka_bootstrap, f"{topic}.dlq")
    batch: list[FakeRecord] = []
    for offset in range(300):
        if offset % 10 == 0:
            record = record_of(due_event())
            record.topic, record.offset = topic, offset
            batch.append(record)
        else:
            batch.append(garbage(topic, offset))
    send = SendCounter(kafka)
    outcomes = await consumer_of(db, schema, send).process_batch(batch)
    assert outcomes.count(Outcome.PARKED) == 270
    assert outcomes.count(Outcome.PROCESSED) == 30
    assert send.pending == 0  # returned only once every dead letter was acknowledged
    assert send.most_pending > 1  # not one acknowledged produce after the other
    async with TopicReader(kafka_bootstrap, f"{topic}.dlq") as reader:
        parked = await reader.read_to_end()
    assert [int(header(r, "reintegra_dlq_original_offset") or -1) for r in parked] == [
        o for o in range(300) if o % 10
    ]
    assert {header(r, "reintegra_dlq_attempts") for r in parked} == {"0"}


async def test_a_dead_letter_the_broker_refuses_makes_the_batch_come_again(
    db: Database, schema: Schema, kafka: KafkaConnection, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}refuse{uuid4().hex[:6]}"
    # the dead-letter topic takes records of at most 2 KB: the broker refuses the bigger one's produce
    await create_topic(kafka_bootstrap, f"{topic}.dlq", **{"max.message.bytes": "2048"})
    good = record_of(due_event())
    good.topic, good.offset = topic, 3
    batch = [garbage(topic, 0), garbage(topic, 1, size=20_000), garbage(topic, 2), good]
    consumer = consumer_of(db, schema, SendCounter(kafka))
    with pytest.raises(RedeliverError, match="dead letters not acknowledged"):
        await consumer.process_batch(batch)
    # nothing of the batch may be committed: when it comes again, the good record is a duplicate
    # (its effect committed once) and the refused dead letter is refused again
    with pytest.raises(RedeliverError):
        await consumer.process_batch(batch)
