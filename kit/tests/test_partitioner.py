"""The relay's records land on the partition any Kafka client would choose for their key (a case's
events stay in order on one partition), with the key's hash remembered."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from opentelemetry.sdk.trace import TracerProvider
from reintegra_kit.outbox import OutboxMessage
from reintegra_kit.runtime import broker
from reintegra_kit.runtime.broker import KafkaConnection, partition_for
from reintegra_kit.settings import ServiceSettings

KEYS = [str(uuid4()).encode() for _ in range(200)] + [b"", b"a", "ñandú".encode()]


@pytest.mark.parametrize("count", [1, 3, 12, 13])
def test_every_key_gets_the_default_partitioners_partition(count: int) -> None:
    partitions = list(range(count))
    default = DefaultPartitioner()
    for _ in range(2):  # computed, then remembered
        for key in KEYS:
            assert partition_for(key, partitions, partitions) == default(key, partitions, partitions)


def test_the_hash_is_remembered_per_key_and_a_record_without_a_key_goes_to_any_partition() -> None:
    broker._key_hash.cache_clear()
    key = str(uuid4()).encode()
    for count in (3, 12):
        partition_for(key, list(range(count)), list(range(count)))
    info = broker._key_hash.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    seen = {partition_for(None, [0, 1, 2], [1]) for _ in range(20)}
    assert seen == {1}  # only the available one, as aiokafka's default picks


@pytest.mark.connected
async def test_the_relay_sends_each_record_to_its_keys_partition(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}partitions{uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 12, 1)])
    finally:
        await admin.close()
    kafka = KafkaConnection(
        ServiceSettings(kafka_bootstrap_servers=kafka_bootstrap, service_name="partition-test"),
        TracerProvider(),
    )
    keys = KEYS[:40]
    await kafka.start()
    try:
        acks = [
            await kafka.publish_outbox(
                OutboxMessage(
                    id=i,
                    event_id=str(uuid4()),
                    event_type="test",
                    topic=topic,
                    key=key,
                    value=b"{}",
                    headers={"ce_id": str(i)},
                    traceparent=None,
                ),
                topic,
            )
            for i, key in enumerate(keys)
        ]
        await asyncio.gather(*acks)
    finally:
        await kafka.stop(10)

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    landed: dict[bytes, int] = {}
    try:
        async with asyncio.timeout(30):
            while len(landed) < len(keys):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        assert record.key is not None
                        landed[record.key] = record.partition
    finally:
        await consumer.stop()
    default = DefaultPartitioner()
    partitions = list(range(12))
    assert landed == {key: default(key, partitions, partitions) for key in keys}
    assert len(set(landed.values())) > 1  # the keys did spread over the partitions
