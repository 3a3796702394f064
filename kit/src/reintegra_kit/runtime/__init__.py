"""The composition root every service shares (docs/adr/0012-handler-contract.md).

A service's ``bootstrap.build(settings)`` makes one :class:`ServiceRuntime` from its registry entry
(``service.toml``), wires its dependencies and handlers, and returns it with its HTTP app::

    runtime = ServiceRuntime(settings, spec=SPEC, tables=kit_tables, uow_class=AssessmentUnitOfWork)
    runtime.commands({CompleteAssessment: complete_assessment})          # run from HTTP by runtime.bus
    runtime.consume({ArrivalRegistered: [schedule_assessment]})           # run from Kafka
    runtime.timers({"assessment.overdue": assessment_overdue})            # run by the durable timers
    app = runtime.http_app([http.router(runtime.bus, runtime.uow)])

The runtime is a front object over four parts: the broker (:mod:`.broker`), the topics
(:mod:`.topics`), the HTTP app (:mod:`.http`) and the lifecycle (:mod:`.lifecycle`). Nothing is built at
import time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from reintegra_contracts import Event
from reintegra_contracts.topics import dead_letter_topic

from ..asyncapi import event_union
from ..auth import Authorizer, RecordScopeFunction
from ..clock import Clock, SystemClock
from ..consumer import ConsumerPolicy, EventConsumer, OutcomeObserver
from ..db import Database, KitTables
from ..handlers import Dependencies, Handler, MessageBus
from ..health import health_router
from ..inbox import Inbox
from ..logging import configure_logging, get_logger
from ..metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_endpoint
from ..migrating import upgrade_to_head_async
from ..outbox import Outbox, OutboxMessage, OutboxRelay
from ..registry import TOPIC_PARAMETER, RegistryError, ServiceSpec
from ..settings import ServiceSettings
from ..telemetry import configure_tracing
from ..timers import TimerRunner
from ..uow import UnitOfWork
from .broker import KafkaConnection
from .http import create_app
from .lifecycle import Deadline, Lifecycle, bounded, serve
from .topics import TopicAdmin

__all__ = ["ServiceRuntime"]

log = get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork)
Step = Callable[[], Awaitable[Any]]


class ServiceRuntime(Generic[U]):
    """Wires the kit's parts for one service process."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        spec: ServiceSpec,
        tables: KitTables,
        uow_class: Callable[[Database, Outbox, Callable[[], None]], U],
        clock: Clock | None = None,
        span_processors: Sequence[SpanProcessor] = (),
    ) -> None:
        if settings.service_name != spec.name:
            log.info("runtime.renamed", registry_name=spec.name, service_name=settings.service_name)
        self.settings = settings
        self.spec = spec
        self.clock = clock or SystemClock()
        self.tables = tables
        configure_logging(settings.service_name, settings.log_level)
        self.tracer_provider: TracerProvider = configure_tracing(
            settings.service_name, settings.otlp_endpoint, list(span_processors)
        )
        self.db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
        self.topics = TopicAdmin(settings)
        self.kafka = KafkaConnection(settings, self.tracer_provider)
        self.outbox = Outbox(tables, settings.event_source, self.clock, declared=spec.emitted_types)
        self.relay = OutboxRelay(
            self.db,
            tables,
            self._publish_outbox_message,
            batch_size=settings.relay_batch_size,
            interval_s=settings.relay_interval_s,
            clock=self.clock,
        )
        self._uow_class = uow_class
        self.dependencies = Dependencies(clock=self.clock, settings=settings)
        self.bus: MessageBus[U] = MessageBus(self.uow, self.dependencies)
        self.lifecycle = Lifecycle()
        self.consumers: dict[str, EventConsumer[U]] = {}
        self._subscribed: set[str] = set()
        self._timer_runner: TimerRunner[U] | None = None
        self.metrics = ServiceMetrics(settings.service_name)
        self.observe: OutcomeObserver | None = None
        self.metrics.refresh_with("outbox", self._refresh_outbox_metrics)
        self.metrics.refresh_with("timers", self._refresh_timer_metrics)
        self.metrics.refresh_with("lag", self._refresh_lag_metrics)
        self.topics.declare(t for t in spec.static_topics)
        self.topics.declare(dead_letter_topic(t) for t in spec.consumes if TOPIC_PARAMETER not in t)
        for logical, types in spec.produces.items():
            events = [e for e in Event.registry.values() if e.event_type in types]
            self.kafka.document_publisher(
                self.topic(logical),
                title=f"{spec.name}:publish:{logical}",
                description=f"Events the {spec.name} service publishes (transactional outbox), in "
                "CloudEvents binary mode: " + (", ".join(sorted(types)) or "none"),
                schema=event_union(events),
            )

    # -- composition -------------------------------------------------------------------------

    @property
    def broker(self) -> Any:
        """The FastStream broker (the AsyncAPI generator reads its subscribers and publishers)."""
        return self.kafka.broker

    def topic(self, logical: str) -> str:
        """The physical name of a topic of the catalogue (``topic_prefix`` + name)."""
        return self.topics.physical(logical)

    def uow(self) -> U:
        """A new unit of work on this service's database and outbox."""
        return self._uow_class(self.db, self.outbox, self.relay.wake)

    def commands(self, handlers: Mapping[type[Any], Handler]) -> None:
        """Declare the handler of each command the service accepts over HTTP (run by ``runtime.bus``)."""
        self.bus.register(handlers)

    def consume(
        self,
        handlers: Mapping[type[Event], Sequence[Handler]],
        *,
        topics: Sequence[str] | None = None,
        name: str = "events",
        refusals: Mapping[type[Event], Handler] | None = None,
    ) -> EventConsumer[U]:
        """Subscribe a consumer to ``topics`` (default: all the registry entry consumes) and dispatch
        each message type to its handlers, effectively once.

        A service may have several consumers (``name``); the first, ``events``, uses the service's
        consumer group, others ``<group>-<name>``. A topic address with ``{agency}`` subscribes to
        the whole per-agency family by pattern, including topics created later.
        """
        if name in self.consumers:
            raise RegistryError(f"{self.spec.name}: a consumer named {name!r} already exists")
        wanted = list(topics if topics is not None else self.spec.consumes)
        undeclared = [t for t in wanted if t not in self.spec.consumes]
        if undeclared:
            raise RegistryError(
                f"{self.spec.name} consumes {undeclared}, which its service.toml does not list in consumes"
            )
        s = self.settings
        group = s.effective_consumer_group if name == "events" else f"{s.effective_consumer_group}-{name}"
        consumer: EventConsumer[U] = EventConsumer(
            group=group,
            uow_factory=self.uow,
            inbox=Inbox(self.tables, group, self.clock),
            handlers={cls: [self.dependencies.bind(h) for h in hs] for cls, hs in handlers.items()},
            refusal_handlers={cls: self._bind_refusal(h) for cls, h in (refusals or {}).items()},
            publish_raw=self.kafka.publish_raw,
            send_raw=self.kafka.send_raw,
            policy=ConsumerPolicy(
                attempts=s.handler_attempts,
                backoff_s=s.retry_backoff_s,
                infrastructure_pause_s=s.infrastructure_retry_s,
                max_event_bytes=s.max_event_bytes,
                parallel_partitions=s.consumer_parallel_partitions if self.db.dialect == "postgresql" else 1,
            ),
            observe=self._observe,
        )
        self.consumers[name] = consumer
        handled = ", ".join(sorted(e.event_type for e in handlers)) or "none"
        description = (
            f"The {s.service_name} service's {name} consumer (group {group}) of {', '.join(wanted)}. "
            f"Handles {handled}; other events of the published language are skipped; records that are "
            "not valid events, whose key is not their case id, or whose handling keeps failing, are "
            "parked on <topic>.dlq; business refusals are recorded and answered once."
        )
        literal = [self.topic(t) for t in wanted if TOPIC_PARAMETER not in t]
        if literal:
            self.kafka.subscribe(
                consumer,
                literal,
                group=group,
                handled=list(handlers),
                title=f"{s.service_name}:{name}",
                description=description,
            )
        for family in (t for t in wanted if TOPIC_PARAMETER in t):
            before, after = self.topic(family).split(TOPIC_PARAMETER)
            self.kafka.subscribe(
                consumer,
                (),
                pattern="^" + re.escape(before) + "[a-z0-9-]+" + re.escape(after) + "$",
                group=f"{group}-{family.replace(TOPIC_PARAMETER, 'agency')}" if literal else group,
                handled=list(handlers),
                title=f"{s.service_name}:{name}:{family}",
                description=description,
            )
        for topic in literal:
            self.kafka.document_publisher(
                dead_letter_topic(topic),
                title=f"{s.service_name}:park:{dead_letter_topic(topic)}",
                description=f"Records of {topic} that the {s.service_name} service could not process, "
                "parked unchanged (key, value, headers) with reintegra_dlq_* headers giving the reason.",
                schema=None,
            )
        self._subscribed.update(wanted)
        return consumer

    def _bind_refusal(self, handler: Handler) -> Any:
        return self.dependencies.bind(handler, leading=3)

    def _observe(self, record: Any, event_type: str | None, outcome: Any, seconds: float) -> None:
        self.metrics.consumed(record.topic, event_type, outcome.value, seconds)
        if self.observe is not None:
            self.observe(record, event_type, outcome, seconds)

    def timers(self, handlers: Mapping[str, Handler], *, enabled: bool = True) -> TimerRunner[U]:
        """Fire the durable timers of these kinds with their handlers (see :mod:`reintegra_kit.timers`)."""
        s = self.settings
        runner: TimerRunner[U] = TimerRunner(
            self.uow,
            self.tables.timers,
            {kind: self.dependencies.bind(h) for kind, h in handlers.items()},
            clock=self.clock,
            batch_size=s.timer_batch_size,
            interval_s=s.timer_interval_s,
        )
        self._timer_runner = runner
        if enabled and s.timer_enabled:
            self.lifecycle.background("timers", runner.run, after=self.kafka.started)
        return runner

    @property
    def timer_runner(self) -> TimerRunner[U] | None:
        return self._timer_runner

    def on_startup(self, step: Step) -> None:
        """Run ``step`` once after migrations, before the service consumes or serves (e.g. seed data)."""
        self.lifecycle.on_startup(getattr(step, "__name__", "step"), step)

    def add_background(self, name: str, task: Step) -> None:
        """Run ``task`` for the life of the process, once the broker started (cancelled on shutdown)."""
        self.lifecycle.background(name, task, after=self.kafka.started)

    def declare_topics(self, logical: Iterable[str]) -> None:
        """Add topics known only from data (e.g. per-agency partner topics) before start-up."""
        self.topics.declare(logical)

    # -- publishing --------------------------------------------------------------------------

    async def _publish_outbox_message(self, message: OutboxMessage) -> Any:
        return await self.kafka.publish_outbox(message, self.topic(message.topic))

    # -- lifecycle ---------------------------------------------------------------------------

    async def _refresh_outbox_metrics(self) -> None:
        async with self.db.session() as session:
            backlog, oldest = await self.outbox.backlog(session)
        self.metrics.outbox(backlog, oldest, self.clock.now())

    async def _refresh_timer_metrics(self) -> None:
        if self._timer_runner is None:
            return
        async with self.uow() as uow:
            counts = await uow.timers.counts(self.clock.now())
        self.metrics.timers(counts, self._timer_runner.kinds)

    async def _refresh_lag_metrics(self) -> None:
        for subscriber in self.kafka.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    self.metrics.lag(tp.topic, tp.partition, highwater - await consumer.position(tp))

    async def _start_kafka(self) -> None:
        await self.kafka.start(before=self.topics.create_missing)

    async def _check_database(self) -> None:
        await self.db.ping()

    @property
    def health_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"database": self._check_database, "kafka": self.kafka.check}

    def _check_registry(self) -> None:
        missing = [t for t in self.spec.consumes if t not in self._subscribed]
        if missing:
            raise RegistryError(
                f"{self.spec.name}'s service.toml says it consumes {missing}, but no consumer reads them"
            )

    async def startup(self) -> None:
        """Migrate the database, run start-up steps, connect to Kafka (in the background) and start the
        relay, consumers and timers."""
        await upgrade_to_head_async(self.spec.migrations, self.db.url)
        if self.settings.relay_enabled:
            self.lifecycle.background("outbox-relay", self.relay.run, after=self.kafka.started, first=True)
        self.lifecycle.background("metrics", self.metrics.run, after=self.kafka.started)
        self.lifecycle.background("broker-start", self._start_kafka, first=True)
        await self.lifecycle.start()
        log.info("runtime.started", http_port=self.settings.http_port)

    async def shutdown(self) -> None:
        """Stop background work, publish what the last requests committed, then close the broker and
        the database — all within ``shutdown_grace_s``, even when the broker or the database is gone
        (a step that does not finish in time is abandoned: the offsets not committed and the outbox
        rows not published are simply handled again at the next start)."""
        grace = Deadline(self.settings.shutdown_grace_s)
        await self.lifecycle.stop(grace.left(0.2))
        if self.settings.relay_enabled and self.kafka.started.is_set():
            # what is not published now is published at the next start
            await bounded("final outbox flush", self.relay.publish_pending(), grace.left(0.5))
        await self.kafka.stop(grace.left(0.8))
        await bounded("database", self.db.dispose(), grace.left())
        self.tracer_provider.shutdown()
        log.info("runtime.stopped")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """``async with runtime.running():`` — started inside, stopped after (the app's lifespan)."""
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    def http_app(
        self,
        routers: Sequence[Any],
        *,
        record_scope: RecordScopeFunction | None = None,
        dependencies: Sequence[Any] = (),
    ) -> FastAPI:
        """The service's FastAPI app: its routers, health endpoints, the error mapping, telemetry, and
        the access policy on every route (``record_scope``: whose record a request touches, for callers
        granted their own centre, agency or country; see :mod:`reintegra_kit.auth`)."""
        self._check_registry()
        authorizer = Authorizer.for_service(self.settings, record_scope=record_scope)
        app = create_app(
            authorizer=authorizer,
            title=self.spec.title,
            description=self.spec.description,
            version="0.1.0",
            routers=[health_router(self.health_checks), *routers],
            lifespan=self.running,
            dependencies=dependencies,
            on_unavailable=self.metrics.unavailable,
            tracer_provider=self.tracer_provider,
        )
        app.add_api_route(
            "/metrics",
            metrics_endpoint,
            methods=["GET"],
            tags=["health"],
            summary="Prometheus metrics (open, like the health endpoints)",
            response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"}},
        )
        app.add_middleware(HttpMetricsMiddleware, service=self.settings.service_name)
        app.state.runtime = self
        return app

    def serve(self, app: FastAPI) -> None:
        """Run the HTTP server until SIGTERM or SIGINT, then shut down gracefully."""
        serve(
            app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            grace_s=self.settings.shutdown_grace_s,
        )
