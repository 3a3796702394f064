"""Prometheus metrics every service exposes at ``/metrics`` (the names are a contract: docs/metrics.md).

Counters and histograms are fed where things happen — the HTTP middleware, the consumer's outcome
observer, the error mapping — and gauges that need a query (outbox backlog, timers, consumer lag,
dead-letter depth) are refreshed by a background task every few seconds, so a scrape never waits
for the database or the broker. One process is one service: the metrics live in the default
registry, labelled with the service's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import get_logger

log = get_logger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "reintegra_http_requests_total", "HTTP requests answered.", ["service", "route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "reintegra_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_CONSUMED = Counter(
    "reintegra_events_consumed_total",
    "Records consumed, by outcome (processed, duplicate, skipped, parked, refused).",
    ["service", "topic", "event_type", "outcome"],
)
HANDLER_DURATION = Histogram(
    "reintegra_handler_duration_seconds",
    "Time spent per consumed event (a batch's time shared among its events).",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "reintegra_consumer_lag", "Records not yet consumed, per partition.", ["service", "topic", "partition"]
)
OUTBOX_BACKLOG = Gauge("reintegra_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "reintegra_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 if none).",
    ["service"],
)
TIMERS_PENDING = Gauge("reintegra_timers_pending", "Durable timers scheduled.", ["service", "kind"])
TIMERS_OVERDUE = Gauge(
    "reintegra_timers_overdue",
    "Durable timers scheduled and already due (not fired yet).",
    ["service", "kind"],
)
REFERRALS_OVERDUE = Gauge(
    "reintegra_referrals_overdue",
    "Referrals past the time their agency had to answer by, without an answer.",
    ["agency"],
)
REFERRALS_AWAITING_CONSENT = Gauge(
    "reintegra_referrals_awaiting_consent",
    "Referrals held because no recorded consent covers their agency and purpose yet.",
    ["agency"],
)
DEAD_LETTERS = Counter(
    "reintegra_dead_letters_total",
    "Records this service parked on a dead-letter topic.",
    ["service", "topic"],
)
DATABASE_UNAVAILABLE = Counter(
    "reintegra_database_unavailable_total",
    "Requests answered 503 because the database or the broker did not answer.",
    ["service"],
)

Refresher = Callable[[], Awaitable[None]]


class ServiceMetrics:
    """The metrics of one service process."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._refreshers: list[tuple[str, Refresher]] = []
        self._agencies: dict[str, set[str]] = {}

    # -- counters fed where things happen ------------------------------------------------------

    def consumed(self, topic: str, event_type: str | None, outcome: str, seconds: float) -> None:
        kind = event_type or "unreadable"
        EVENTS_CONSUMED.labels(self.service, topic, kind, outcome).inc()
        if outcome in ("processed", "refused"):
            HANDLER_DURATION.labels(self.service, kind).observe(seconds)
        if outcome == "parked":
            DEAD_LETTERS.labels(self.service, topic + ".dlq").inc()

    def unavailable(self) -> None:
        DATABASE_UNAVAILABLE.labels(self.service).inc()

    def outbox(self, backlog: int, oldest: datetime | None, now: datetime) -> None:
        OUTBOX_BACKLOG.labels(self.service).set(backlog)
        OUTBOX_OLDEST_AGE.labels(self.service).set((now - oldest).total_seconds() if oldest else 0.0)

    def timers(self, counts: dict[str, tuple[int, int]], kinds: Sequence[str]) -> None:
        for kind in {*kinds, *counts}:
            pending, overdue = counts.get(kind, (0, 0))
            TIMERS_PENDING.labels(self.service, kind).set(pending)
            TIMERS_OVERDUE.labels(self.service, kind).set(overdue)

    def lag(self, topic: str, partition: int, lag: int) -> None:
        CONSUMER_LAG.labels(self.service, topic, str(partition)).set(max(lag, 0))

    def referrals(self, *, overdue: Mapping[str, int], awaiting_consent: Mapping[str, int]) -> None:
        """Per agency: referrals overdue, and referrals waiting for consent (an agency that had some
        and has none now reads 0, not its last value)."""
        for name, gauge, counts in (
            ("overdue", REFERRALS_OVERDUE, overdue),
            ("awaiting_consent", REFERRALS_AWAITING_CONSENT, awaiting_consent),
        ):
            seen = self._agencies.setdefault(name, set())
            for agency in seen | set(counts):
                gauge.labels(agency).set(counts.get(agency, 0))
            seen.update(counts)

    # -- gauges refreshed in the background ----------------------------------------------------

    def refresh_with(self, name: str, refresher: Refresher) -> None:
        """Call ``refresher`` every refresh period (it sets gauges; a failure is logged, not raised)."""
        self._refreshers.append((name, refresher))

    async def refresh(self) -> None:
        for name, refresher in self._refreshers:
            try:
                await refresher()
            except Exception as exc:  # a scrape must show the last values, not break
                log.debug("metrics.refresh_failed", gauge=name, error=repr(exc)[:300])

    async def run(self, period_s: float = 5.0) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(period_s)


async def metrics_endpoint(_: Request) -> Response:
    """``GET /metrics``: the Prometheus text exposition (open by design, like the health endpoints)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


OPERATIONAL_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
"""The probes and the Prometheus scrape, every few seconds each: neither counted here nor traced
(``reintegra_kit.runtime.http``)."""


class HttpMetricsMiddleware:
    """Counts requests and their latency by route template (``/v1/cases/{case_id}``, not the id)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template not in OPERATIONAL_PATHS:
                method = scope.get("method", "GET")
                HTTP_REQUESTS.labels(self.service, template, method, str(status)).inc()
                HTTP_DURATION.labels(self.service, template, method).observe(time.perf_counter() - started)
