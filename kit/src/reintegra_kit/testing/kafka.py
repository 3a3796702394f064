"""Reading and writing topics of a real broker in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord


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

    async def settle(self, seconds: float) -> None:
        """Keep reading for ``seconds`` (to see that nothing more arrives)."""
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
