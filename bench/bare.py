"""The baseline: a bare aiokafka produce → consume loop on the same broker, in the same run.

1 KB records, ``acks=all``, an idempotent producer, a consumer group with manual commits after each
fetched batch — the least any Kafka application does per message. Platform figures are printed as a
share of this loop's messages per second, so that a busy machine slows both alike.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass(frozen=True)
class BareResult:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


async def bare_loop(
    bootstrap: str, messages: int = 50_000, size: int = 1024, partitions: int = 3
) -> BareResult:
    topic = f"bench-bare-{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # joined the group
            await consumer.getmany(timeout_ms=100)
        payload = os.urandom(size)
        started = time.perf_counter()

        async def produce() -> None:
            pending = []
            for i in range(messages):
                pending.append(await producer.send(topic, payload, key=str(i % 1000).encode()))
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)

        async def consume() -> None:
            seen = 0
            while seen < messages:
                batches = await consumer.getmany(timeout_ms=200, max_records=1000)
                got = sum(len(records) for records in batches.values())
                if got:
                    await consumer.commit()
                    seen += got

        await asyncio.wait_for(asyncio.gather(produce(), consume()), timeout=300)
        return BareResult(messages, time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        except Exception:  # noqa: S110 - a left-over bench topic is harmless
            pass
        finally:
            await admin.close()
