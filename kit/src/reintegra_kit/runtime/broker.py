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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from reintegra_contracts import Event

from ..asyncapi import documented_body
from ..consumer import EventConsumer, RedeliverError
from ..kafka_auth import broker_security, without_security
from ..logging import get_logger
from ..outbox import OutboxMessage
from ..settings import ServiceSettings

log = get_logger(__name__)


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
            middlewares=(KafkaTelemetryMiddleware(tracer_provider=tracer_provider),),
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

        In a producer span (``<topic> publish``) of the current trace — the writer's, which the relay
        attached — whose context the record carries (``traceparent``), as FastStream's would.
        """
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": message.event_id,
            },
        ):
            carrier: dict[str, str] = {}
            inject(carrier)
            headers = [(name, value.encode()) for name, value in message.headers.items()]
            headers.extend((name, value.encode()) for name, value in carrier.items())
            if self._producer is None:
                raise ConnectionError("Kafka producer not started yet")
            return await self._producer.send(topic, message.value, key=message.key, headers=headers)

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> Any:
        """Send one record and wait for the broker's acknowledgement (parking a dead letter)."""
        return await self.broker.publish(value, topic=topic, key=key, headers=headers)

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

        async def on_batch(body: Any, message: KafkaMessage) -> None:
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

    async def stop(self) -> None:
        await self._stop_producer()
        with contextlib.suppress(Exception):
            await self.broker.stop()
