"""/metrics: request counts by route template, consumed events by outcome, outbox backlog."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from reintegra_kit.metrics import HttpMetricsMiddleware, ServiceMetrics, metrics_endpoint
from reintegra_kit.runtime.http import create_app
from reintegra_kit.testing.auth import TestIssuer, policy_for


def value(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


def test_requests_are_counted_by_route_template_not_by_id(auth: TestIssuer) -> None:
    api = APIRouter()

    @api.get("/v1/things/{thing_id}")
    async def get(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = create_app(
        title="t",
        description="d",
        version="1",
        routers=[api],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", ["GET /v1/things/{thing_id}"])),
    )
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"])
    app.add_middleware(HttpMetricsMiddleware, service="test-http")
    client = TestClient(app, headers=auth.headers("operator"))
    for i in range(3):
        assert client.get(f"/v1/things/{i}").status_code == 200
    assert client.get("/v1/things/x").status_code == 422
    text = client.get("/metrics").text
    route = "/v1/things/{thing_id}"
    assert value(text, "reintegra_http_requests_total", service="test-http", route=route, status="200") == 3
    assert value(text, "reintegra_http_requests_total", service="test-http", route=route, status="422") == 1
    assert "/v1/things/1" not in text
    assert value(text, "reintegra_http_request_duration_seconds_count", service="test-http", route=route) == 4


def test_consumed_events_parked_records_outbox_and_timers_become_metrics(auth: TestIssuer) -> None:
    m = ServiceMetrics("test-consumer")
    m.consumed("t.events", "org.x.v1", "processed", 0.01)
    m.consumed("t.events", "org.x.v1", "processed", 0.02)
    m.consumed("t.events", None, "parked", 0.0)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    m.outbox(7, now - timedelta(seconds=30), now)
    m.timers({"followup.due": (5, 2)}, ["followup.due", "referral.overdue"])
    m.lag("t.events", 0, 12)
    m.unavailable()
    app = create_app(
        title="t",
        description="d",
        version="1",
        routers=[],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", [])),
    )
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"])
    text = TestClient(app).get("/metrics").text
    labels = {"service": "test-consumer"}
    assert (
        value(text, "reintegra_events_consumed_total", **labels, outcome="processed", event_type="org.x.v1")
        == 2
    )
    assert value(text, "reintegra_handler_duration_seconds_count", **labels, event_type="org.x.v1") == 2
    assert value(text, "reintegra_dead_letters_total", **labels, topic="t.events.dlq") == 1
    assert value(text, "reintegra_outbox_backlog", **labels) == 7
    assert value(text, "reintegra_outbox_oldest_age_seconds", **labels) == 30
    assert value(text, "reintegra_timers_overdue", **labels, kind="followup.due") == 2
    assert value(text, "reintegra_timers_pending", **labels, kind="referral.overdue") == 0
    assert value(text, "reintegra_consumer_lag", **labels, topic="t.events", partition="0") == 12
    assert value(text, "reintegra_database_unavailable_total", **labels) == 1


def test_referral_gauges_are_per_agency_and_fall_to_zero_when_an_agency_has_none() -> None:
    metrics = ServiceMetrics("test-referrals")
    metrics.referrals(overdue={"hn-senaf": 2}, awaiting_consent={"hn-sesal": 3, "hn-senaeh": 1})
    text = generate_latest().decode()
    assert value(text, "reintegra_referrals_overdue", agency="hn-senaf") == 2
    assert value(text, "reintegra_referrals_awaiting_consent", agency="hn-sesal") == 3
    metrics.referrals(overdue={}, awaiting_consent={"hn-senaeh": 4})
    text = generate_latest().decode()
    assert value(text, "reintegra_referrals_overdue", agency="hn-senaf") == 0
    assert value(text, "reintegra_referrals_awaiting_consent", agency="hn-sesal") == 0
    assert value(text, "reintegra_referrals_awaiting_consent", agency="hn-senaeh") == 4
