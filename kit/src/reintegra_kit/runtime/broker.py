"""The broker part of the runtime: the FastStream Kafka broker, its subscribers and the publish paths.

Subscribers receive raw bytes (the kit's :class:`~reintegra_kit.consumer.EventConsumer` decodes and
validates, so that bad records are parked instead of looping) and commit offsets only after the work
(``NACK_ON_ERROR`` with manual commits, docs/adr/0003-inbox-and-offsets.md). The outbox relay publishes
with ``broker.publish``; documentation-only publishers describe what each topic carries in the AsyncAPI
document.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts import Event

from ..asyncapi import documented_body
from ..consumer import EventConsumer, RedeliverError
from ..kafka_auth import broker_security, without_security
from ..logging import get_logger
from ..outbox import OutboxMessage
from ..settings import ServiceSettings
from ..telemetry import CLOUDEVENTS_TRACE_HEADERS, TRACE_HEADERS, context_from_headers, trace_headers
from .lifecycle import bounded

log = get_logger(__name__)


@functools.lru_cache(maxsize=8192)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """The relay producer's partitioner: aiokafka's default, the Java client's (murmur2 of the key,
    so a case's records land where any Kafka client would put them), with the hash remembered for the
    last 8,192 keys. aiokafka computes murmur2 in Python, ~1 % of a service's CPU under load, and a
    case's events are sent within moments of each other (a referral's two needs, their partner
    copies, follow-up's three contacts). A record without a key goes to a random partition, as before."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


class KafkaConnection:
    """One service's connection to Kafka: the FastStream broker, started in the background."""

    def __init__(self, settings: ServiceSettings, tracer_provider: TracerProvider) -> None:
        self._settings = settings
        options = without_security(
            settings.kafka_client_options(client_id=f"reintegra-{settings.service_name}")
        )
        bootstrap = options.pop("bootstrap_servers")
        self.broker = KafkaBroker(
            bootstrap,
            acks="all",
            enable_idempotence=True,
            # No FastStream telemetry middleware: its per-batch "<topic> create/process" spans use the
            # older naming and belong to no case; the kit makes the messaging spans itself (``send
            # <topic>`` in _send, ``process <topic>`` per record in the EventConsumer).
            logger=None,
            security=broker_security(settings),
            # A consumer subscribed by pattern (per-agency topics) sees a topic created while it runs at
            # its next metadata refresh: every 10 s rather than aiokafka's 5 minutes.
            metadata_max_age_ms=10_000,
            **options,
        )
        # The outbox relay sends with a plain producer: FastStream's publish path (middlewares,
        # per-message telemetry and logging) costs about five times the send itself.
        self._producer: AIOKafkaProducer | None = None  # made in start(): it needs the running loop
        self._tracer = tracer_provider.get_tracer("reintegra.relay")
        self.started = asyncio.Event()

    # -- publishing --------------------------------------------------------------------------

    async def publish_outbox(self, message: OutboxMessage, topic: str) -> Any:
        """Send one outbox row; returns the future of the broker's acknowledgement.

        In a producer span ``send <topic>`` of the current trace — the writer's, which the relay attached
        — whose context the record carries (``traceparent``, and ``ce_traceparent`` for CloudEvents SDKs).
        """
        headers = [(name, value.encode()) for name, value in message.headers.items()]
        return await self._send(topic, message.key, message.value, headers, message_id=message.event_id)

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> Any:
        """Send one record and wait for the broker's acknowledgement."""
        return await (await self.send_raw(topic, key, value, headers))

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        """Queue one record (a dead letter) and return the future of the broker's acknowledgement,
        without waiting for it: the consumer parks a whole batch's dead letters, then awaits them.

        Its ``send <topic>`` span continues the current trace, or else the one the headers carry.
        """
        kept = [
            (name, text.encode())
            for name, text in headers.items()
            if name not in TRACE_HEADERS + CLOUDEVENTS_TRACE_HEADERS
        ]
        if self._producer is None:  # parking while the broker starts: wait for the producer
            await asyncio.wait_for(self.started.wait(), timeout=30)
        parent = None
        if not trace.get_current_span().get_span_context().is_valid:
            parent = context_from_headers(list(headers.items()))
        return await self._send(
            topic, key, value, kept, message_id=headers.get("ce_id"), parent=parent, keep=headers
        )

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
        *,
        message_id: str | None,
        parent: otel_context.Context | None = None,
        keep: dict[str, str] | None = None,
    ) -> asyncio.Future[Any]:
        """Send with the plain producer in a ``send <topic>`` PRODUCER span (OpenTelemetry messaging
        conventions) that ends when the broker acknowledges, with the record's partition and offset.

        The record carries the span's context as ``traceparent``/``tracestate`` and as the CloudEvents
        distributed-tracing extension ``ce_traceparent``/``ce_tracestate``.
        """
        if self._producer is None:
            raise ConnectionError("Kafka producer not started yet")
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.client.id": f"reintegra-{self._settings.service_name}-relay",
        }
        if message_id:
            attributes["messaging.message.id"] = message_id
        if key is not None:
            attributes["messaging.kafka.message.key"] = key.decode("utf-8", errors="replace")
        span = self._tracer.start_span(
            f"send {topic}", context=parent, kind=trace.SpanKind.PRODUCER, attributes=attributes
        )
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=False):
                context = trace_headers()
            if not context and keep:  # no trace to continue: keep the one the record had, if any
                context = [
                    (name, keep[name].encode())
                    for name in TRACE_HEADERS + CLOUDEVENTS_TRACE_HEADERS
                    if name in keep
                ]
            future: asyncio.Future[Any] = await self._producer.send(
                topic, value, key=key, headers=[*headers, *context]
            )
        except BaseException as exc:
            _failed(span, exc)
            raise
        future.add_done_callback(functools.partial(_acknowledged, span))
        return future

    def document_publisher(self, topic: str, *, title: str, description: str, schema: Any) -> None:
        """Describe a topic this service writes, for the AsyncAPI document only."""
        self.broker.publisher(topic, title=title, description=description, schema=schema)

    # -- consuming ---------------------------------------------------------------------------

    def subscribe(
        self,
        consumer: EventConsumer[Any],
        topics: Sequence[str],
        *,
        group: str,
        pattern: str | None = None,
        handled: Sequence[type[Event]],
        title: str,
        description: str,
    ) -> None:
        """Feed the records of ``topics`` (consumer group ``group``) to ``consumer``."""

        async def keep_raw(msg: Any) -> Any:
            return msg.body  # decoding is the consumer's job, so that bad data is parked, not looped

        context = self.broker.context

        async def on_batch(body: Any) -> None:
            # The message is read from FastStream's context, not taken as a ``Context()`` parameter:
            # fast_depends resolves such a parameter with a synchronous function, which it runs in a
            # worker thread, a thread hop for every batch (docs/performance.md).
            message: KafkaMessage = context.get_local("message")
            records = message.raw_message
            batch = records if isinstance(records, tuple) else (records,)
            try:
                await consumer.process_batch(batch)
            except RedeliverError:
                raise  # NACK: every partition of the batch is rewound; it comes again after the pause

        # ``body`` stays the raw bytes at run time; its annotation only documents (AsyncAPI) the events
        # handled here, so that the generated document shows their schemas.
        on_batch.__annotations__["body"] = list[documented_body(list(handled))]  # type: ignore[misc]
        self.broker.subscriber(
            *topics,
            pattern=pattern,
            group_id=group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self._settings.consumer_batch_size,
            batch_timeout_ms=self._settings.consumer_batch_timeout_ms,
            decoder=keep_raw,
            title=title,
            description=description,
        )(on_batch)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, before: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Start the broker (after ``before``, e.g. creating topics), retrying until Kafka answers.

        The service stays alive (and not ready) meanwhile.
        """
        delay = 0.5
        while True:
            try:
                if before is not None:
                    await before()
                await self.broker.start()
                self._producer = AIOKafkaProducer(
                    **self._settings.kafka_client_options(
                        client_id=f"reintegra-{self._settings.service_name}-relay"
                    ),
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=self._settings.relay_linger_ms,
                    partitioner=partition_for,
                )
                await self._producer.start()
                self.started.set()
                log.info("runtime.broker_started")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka not there yet: stay alive, not ready, and retry
                log.warning("runtime.broker_unavailable", error=repr(exc), retry_in_s=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await self._stop_producer()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def check(self) -> None:
        """Raise unless the broker is started and answers (readiness)."""
        if not self.started.is_set():
            raise ConnectionError("Kafka consumer not started yet")
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {self._settings.kafka_bootstrap_servers} does not answer")

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def stop(self, timeout_s: float | None = None) -> None:
        """Stop the consumers (FastStream broker) and the producer, within ``timeout_s`` in all.

        With the broker gone, aiokafka's stops wait for requests that never come back (the producer
        flushes what it queued, a consumer leaves its group): each gets its share of the time, then
        is abandoned — what it did not send is in the outbox still, what it did not commit comes again.
        """
        half = None if timeout_s is None else timeout_s / 2
        await bounded("kafka consumers", self.broker.stop(), half)
        await bounded("kafka producer", self._stop_producer(), half)


def _failed(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)[:200]))
    span.end()


def _acknowledged(span: trace.Span, future: asyncio.Future[Any]) -> None:
    """End a producer span when the broker answered: with the partition and offset, or the error."""
    if future.cancelled():
        _failed(span, asyncio.CancelledError())
        return
    exc = future.exception()
    if exc is not None:
        _failed(span, exc)
        return
    metadata = future.result()
    span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
    span.set_attribute("messaging.kafka.offset", metadata.offset)
    span.end()
