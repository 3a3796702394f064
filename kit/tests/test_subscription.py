"""A subscription on a real broker: records reach the consumer's handlers, and no batch takes a thread."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import fast_depends.utils
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts.events.followup import FollowupDue
from reintegra_kit.db import Database
from reintegra_kit.runtime.broker import KafkaConnection
from reintegra_kit.settings import ServiceSettings
from sqlalchemy import func, select

from .conftest import Schema
from .test_consumer import due_event, record_of
from .test_parking import consumer_of, create_topic

pytestmark = pytest.mark.connected


async def test_the_batches_of_a_subscription_are_handled_on_the_event_loop_without_a_worker_thread(
    db: Database,
    schema: Schema,
    kafka_bootstrap: str,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fast_depends runs a synchronous parameter resolver (FastStream's ``Context()``) in a worker
    # thread: a thread hop per batch, CPU and latency on the hot path. Count every such hop.
    hops: list[Any] = []
    in_threadpool = fast_depends.utils.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)

    topic = f"{topic_prefix}sub{uuid4().hex[:6]}"
    await create_topic(kafka_bootstrap, topic)
    kafka = KafkaConnection(
        ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, service_name="subscription-test"),
        TracerProvider(),
    )

    async def no_dead_letter(*_: Any) -> None:
        raise AssertionError("nothing here is parked")

    kafka.subscribe(
        consumer_of(db, schema, no_dead_letter),
        [topic],
        group=f"g{uuid4().hex[:6]}",
        handled=[FollowupDue],
        title="test",
        description="test",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            record = record_of(due_event())
            await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()

    await kafka.start()
    try:
        async with asyncio.timeout(30):
            while True:
                async with db.session() as session:
                    handled = (
                        await session.execute(select(func.count()).select_from(schema.effects))
                    ).scalar()
                if handled == 5:
                    break
                await asyncio.sleep(0.1)
    finally:
        await kafka.stop()
    assert hops == []
