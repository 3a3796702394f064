"""Reading and writing topics of a real broker in tests.

"Nothing more arrived" is checked without fixed waits: wait until the consumer group that would have
written more has committed past everything produced to it (:func:`wait_until_caught_up`), until what
it wrote is published (the service's outbox is empty), then read the output topics to the end offsets
they have at that moment (:meth:`TopicReader.read_to_end`). A late duplicate cannot slip past.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes,
    *,
    key: bytes | None = None,
    headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Send one record with ``acks=all``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=list(headers))
    finally:
        await producer.stop()


class TopicReader:
    """Reads a topic from the beginning, without a consumer group, and keeps what it saw."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._bootstrap = bootstrap
        self._topics = topics
        self.records: list[ConsumerRecord[Any, Any]] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            client_id=f"test-reader-{uuid4().hex[:6]}",
            metadata_max_age_ms=1000,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self, timeout_s: float = 0.5) -> None:
        """Fetch whatever arrived within ``timeout_s``."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000))
        for records in batches.values():
            self.records.extend(records)

    async def wait_for(
        self,
        predicate: Callable[[list[ConsumerRecord[Any, Any]]], bool],
        *,
        timeout_s: float = 30.0,
        what: str = "records",
    ) -> list[ConsumerRecord[Any, Any]]:
        """Poll until ``predicate(records)`` holds; fail with what was seen after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate(self.records):
            if time.monotonic() > deadline:
                seen = [(r.topic, header(r, "ce_type")) for r in self.records]
                raise AssertionError(f"timed out waiting for {what}; saw {len(seen)}: {seen[-20:]}")
            await self.poll()
        return self.records

    async def read_to_end(self, timeout_s: float = 30.0) -> list[ConsumerRecord[Any, Any]]:
        """Read until every partition of the topics is read up to its end offset *as of now*: what was
        written before this call is all in :attr:`records` when it returns."""
        assert self._consumer is not None
        partitions = await _partitions(self._bootstrap, self._topics)
        end = await self._consumer.end_offsets(partitions) if partitions else {}
        wanted = {tp: offset for tp, offset in end.items() if offset > 0}
        deadline = time.monotonic() + timeout_s
        while True:
            assigned = self._consumer.assignment()
            behind = [
                tp
                for tp, offset in wanted.items()
                if tp not in assigned or await self._consumer.position(tp) < offset
            ]
            if not behind:
                return self.records
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {behind} to their end offsets {wanted}")
            await self.poll(0.2)

    async def settle(self, seconds: float) -> None:
        """Keep reading for ``seconds``. Not a proof that nothing more arrives (a late record slips past
        a fixed wait): for that, see the module's docstring."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self.poll(min(0.5, max(0.05, end - time.monotonic())))
        await asyncio.sleep(0)


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    """The text of header ``name`` of ``record``, if present."""
    for key, value in record.headers or ():
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        if not wanted:
            return []
        return [
            TopicPartition(d["topic"], int(p["partition"]))
            for d in await admin.describe_topics(wanted)
            for p in d["partitions"]
        ]
    finally:
        await admin.close()


async def consumer_lag(bootstrap: str, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """Per partition of ``topics``, how many records the consumer group ``group`` has not committed."""
    partitions = await _partitions(bootstrap, topics)
    if not partitions:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        end = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    lag: dict[TopicPartition, int] = {}
    for tp in partitions:
        done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
        lag[tp] = max(0, end[tp] - done)
    return lag


async def wait_until_caught_up(
    bootstrap: str, group: str, topics: Sequence[str], *, timeout_s: float = 45.0
) -> None:
    """Wait until ``group`` has committed every record produced to ``topics`` so far (lag 0)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lag = await consumer_lag(bootstrap, group, topics)
        if not any(lag.values()):
            return
        if time.monotonic() > deadline:
            behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n}
            raise AssertionError(f"consumer group {group} still behind after {timeout_s}s: {behind}")
        await asyncio.sleep(0.2)
