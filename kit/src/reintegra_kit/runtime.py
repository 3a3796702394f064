"""The composition root every service shares: database, broker, outbox relay, consumer, HTTP, health.

A service builds one :class:`ServiceRuntime`, registers its handlers and routes, and calls
:meth:`ServiceRuntime.serve`. Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import uvicorn
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from reintegra_contracts import Event
from reintegra_contracts.topics import dead_letter_topic

from .asyncapi import documented_body, event_union, produced_events
from .clock import Clock, SystemClock
from .consumer import ConsumerPolicy, EventConsumer, Handler, RedeliverError
from .db import Database, KitTables
from .health import health_router
from .inbox import Inbox
from .kafka_auth import broker_security, client_options
from .logging import configure_logging, get_logger
from .migrations import upgrade_to_head_async
from .outbox import Outbox, OutboxMessage, OutboxRelay
from .settings import ServiceSettings
from .telemetry import configure_tracing
from .uow import UnitOfWork

log = get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork)
BackgroundTask = Callable[[], Awaitable[None]]


class ServiceRuntime(Generic[U]):
    """Wires the kit's pieces for one service process."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        tables: KitTables,
        migrations: Path,
        produces: Sequence[str],
        uow_class: Callable[[Database, Outbox, Callable[[], None]], U],
        clock: Clock | None = None,
        span_processors: Sequence[SpanProcessor] = (),
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.migrations = migrations
        configure_logging(settings.service_name, settings.log_level)
        self.tracer_provider: TracerProvider = configure_tracing(
            settings.service_name, settings.otlp_endpoint, list(span_processors)
        )
        self.db = Database(settings.effective_database_url)
        self.tables = tables
        self.outbox = Outbox(tables, settings.event_source, self.clock)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            client_id=f"reintegra-{settings.service_name}",
            acks="all",
            enable_idempotence=True,
            middlewares=(KafkaTelemetryMiddleware(tracer_provider=self.tracer_provider),),
            logger=None,
            security=broker_security(settings),
        )
        self.relay = OutboxRelay(
            self.db,
            tables,
            self._publish_outbox_message,
            batch_size=settings.relay_batch_size,
            interval_s=settings.relay_interval_s,
            clock=self.clock,
        )
        self._uow_class = uow_class
        self._topics: set[str] = {self.topic(t) for t in produces}
        for logical in produces:
            # Documentation only (AsyncAPI): the relay publishes with ``broker.publish``, not through
            # these; their payload is the union of the catalogue's events this service produces there.
            events = produced_events(settings.service_name, logical)
            self.broker.publisher(
                self.topic(logical),
                title=f"{settings.service_name}:publish:{logical}",
                description=f"Events the {settings.service_name} service publishes (transactional outbox), "
                "in CloudEvents binary mode: " + (", ".join(e.event_type for e in events) or "none"),
                schema=event_union(events),
            )
        self._background: list[tuple[str, BackgroundTask]] = []
        self._on_startup: list[BackgroundTask] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._broker_started = asyncio.Event()
        self.consumer: EventConsumer[U] | None = None

    # -- composition -------------------------------------------------------------------------

    def topic(self, logical: str) -> str:
        """The physical name of a topic of the catalogue (``topic_prefix`` + name)."""
        return self.settings.topic_prefix + logical

    def uow(self) -> U:
        """A new unit of work on this service's database and outbox."""
        return self._uow_class(self.db, self.outbox, self.relay.wake)

    def consume(self, topics: Sequence[str], handlers: Mapping[type[Event], Sequence[Handler[U]]]) -> None:
        """Subscribe this service's consumer group to ``topics`` and dispatch to ``handlers``."""
        s = self.settings
        consumer: EventConsumer[U] = EventConsumer(
            group=s.effective_consumer_group,
            uow_factory=self.uow,
            inbox=Inbox(self.tables, s.effective_consumer_group, self.clock),
            handlers=handlers,
            publish_raw=self._publish_raw,
            policy=ConsumerPolicy(
                attempts=s.handler_attempts,
                backoff_s=s.retry_backoff_s,
                infrastructure_pause_s=s.infrastructure_retry_s,
            ),
        )
        self.consumer = consumer
        physical = [self.topic(t) for t in topics]
        self._topics.update(physical)
        self._topics.update(dead_letter_topic(t) for t in physical)

        async def keep_raw(msg: Any) -> Any:
            return msg.body  # decoding is the consumer's job, so that bad data is parked, not looped

        async def on_message(body: bytes, message: KafkaMessage) -> None:
            try:
                await consumer.process(message.raw_message)  # type: ignore[arg-type]
            except RedeliverError:
                raise  # NACK: the offset stays, the record comes again after the pause

        # ``body`` stays the raw bytes at run time; its annotation only documents (AsyncAPI) the events
        # handled here, so that the generated document shows their schemas.
        on_message.__annotations__["body"] = documented_body(list(handlers))
        handled = ", ".join(sorted(e.event_type for e in handlers)) or "none"
        self.broker.subscriber(
            *physical,
            group_id=s.effective_consumer_group,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            decoder=keep_raw,
            title=f"{s.service_name}:events",
            description=f"The {s.service_name} service's consumer (group {s.effective_consumer_group}) of "
            + ", ".join(topics)
            + f". Handles {handled}; other events of the published language are skipped; records that "
            "are not valid events, or whose handling keeps failing, are parked on <topic>.dlq.",
        )(on_message)
        for topic in physical:
            self.broker.publisher(  # documentation only: parking goes through ``broker.publish``
                dead_letter_topic(topic),
                title=f"{s.service_name}:park:{dead_letter_topic(topic)}",
                description=f"Records of {topic} that the {s.service_name} service could not process, "
                "parked unchanged (key, value, headers) with reintegra_dlq_* headers giving the reason.",
            )

    def on_startup(self, step: BackgroundTask) -> None:
        """Run ``step`` once after migrations, before the service consumes or serves (e.g. seed data)."""
        self._on_startup.append(step)

    def add_background(self, name: str, task: BackgroundTask) -> None:
        """Run ``task`` for the life of the process (it is cancelled on shutdown)."""
        self._background.append((name, task))

    # -- publishing --------------------------------------------------------------------------

    async def _publish_outbox_message(self, message: OutboxMessage) -> Any:
        return await self.broker.publish(
            message.value,
            topic=self.topic(message.topic),
            key=message.key,
            headers=message.headers,
            no_confirm=True,
        )

    async def _publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]) -> Any:
        return await self.broker.publish(value, topic=topic, key=key, headers=headers)

    # -- lifecycle ---------------------------------------------------------------------------

    async def _check_database(self) -> None:
        await self.db.ping()

    async def _check_kafka(self) -> None:
        if not self._broker_started.is_set():
            raise ConnectionError("Kafka consumer not started yet")
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {self.settings.kafka_bootstrap_servers} does not answer")

    @property
    def health_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"database": self._check_database, "kafka": self._check_kafka}

    async def _create_topics(self) -> None:
        s = self.settings
        admin = AIOKafkaAdminClient(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id=f"reintegra-{s.service_name}",
            **client_options(s),
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = sorted(self._topics - existing)
            if missing:
                new = [NewTopic(t, s.topic_partitions, s.topic_replication_factor) for t in missing]
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
                log.info("runtime.topics_created", topics=missing)
        finally:
            await admin.close()

    async def _start_broker(self) -> None:
        delay = 0.5
        while True:
            try:
                if self.settings.create_topics:
                    await self._create_topics()
                await self.broker.start()
                self._broker_started.set()
                log.info("runtime.broker_started", bootstrap=self.settings.kafka_bootstrap_servers)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka not there yet: stay alive, not ready, and retry
                log.warning("runtime.broker_unavailable", error=repr(exc), retry_in_s=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _supervise(self, name: str, task: BackgroundTask) -> None:
        await self._broker_started.wait()
        while True:
            try:
                await task()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("runtime.background_failed", task=name, error=repr(exc))
                await asyncio.sleep(1.0)

    async def startup(self) -> None:
        """Migrate the database, connect to Kafka (in the background) and start the relay and timers."""
        await upgrade_to_head_async(self.migrations, self.db.url)
        for step in self._on_startup:
            await step()
        self._tasks.append(asyncio.create_task(self._start_broker(), name="broker-start"))
        background = list(self._background)
        if self.settings.relay_enabled:
            background.insert(0, ("outbox-relay", self.relay.run))
        for name, task in background:
            self._tasks.append(asyncio.create_task(self._supervise(name, task), name=name))
        log.info("runtime.started", http_port=self.settings.http_port)

    async def shutdown(self) -> None:
        """Stop background work, publish what the last requests committed, then close the broker
        and the database."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.settings.relay_enabled and self._broker_started.is_set():
            try:  # what is not published now is published at the next start
                await asyncio.wait_for(
                    self.relay.publish_pending(), timeout=self.settings.shutdown_grace_s / 2
                )
            except Exception as exc:
                log.warning("runtime.final_flush_failed", error=repr(exc))
        with contextlib.suppress(Exception):
            await self.broker.stop()
        await self.db.dispose()
        self.tracer_provider.shutdown()
        log.info("runtime.stopped")

    def http_app(self, routers: Sequence[Any], *, title: str, description: str = "") -> FastAPI:
        """The service's FastAPI app: its routers, health endpoints and a lifespan running the runtime."""

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.startup()
            try:
                yield
            finally:
                await self.shutdown()

        app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
        app.include_router(health_router(self.health_checks))
        for router in routers:
            app.include_router(router)
        app.add_exception_handler(RequestValidationError, _validation_error_handler)
        app.state.runtime = self
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.tracer_provider,
            excluded_urls="livez,readyz",
            exclude_spans=["receive", "send"],
        )
        return app

    def serve(self, app: FastAPI) -> None:
        """Run the HTTP server until SIGTERM or SIGINT, then shut down gracefully."""
        config = uvicorn.Config(
            app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(self.settings.shutdown_grace_s),
            lifespan="on",
        )
        server = uvicorn.Server(config)
        # uvicorn captures SIGTERM/SIGINT for a graceful exit (lifespan shutdown) and re-raises the
        # signal afterwards; these handlers then turn the finished graceful stop into exit status 0.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _exit_cleanly)
        signal.signal(signal.SIGINT, _exit_cleanly)
        server.run()


def _exit_cleanly(signum: int, _: Any) -> None:
    raise SystemExit(0)


async def _validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": "invalid request", "errors": errors})
