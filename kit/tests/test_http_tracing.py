"""Every request to a service is one HTTP server span (FastAPI's own OpenTelemetry support, ADR 0035):
named by its route, continuing the caller's trace, with the conventions' attributes and nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from reintegra_kit.runtime.http import create_app, problems
from reintegra_kit.testing.auth import TestIssuer, policy_for

ROUTES = ("POST /v1/things/{thing_id}/archive",)
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def client(auth: TestIssuer, exporter: InMemorySpanExporter) -> TestClient:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    api = APIRouter(prefix="/v1")
    inner = provider.get_tracer("test")

    @api.post("/things/{thing_id}/archive", status_code=201, responses=problems())
    async def archive(thing_id: int) -> dict[str, int]:
        if thing_id == 500:
            raise RuntimeError("a bug")
        with inner.start_as_current_span("archive the thing"):  # the handler's work is inside the request's
            return {"thing_id": thing_id}

    health = APIRouter()

    @health.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    app = create_app(
        title="t",
        description="d",
        version="1",
        routers=[health, api],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", ROUTES)),
        tracer_provider=provider,
    )
    return TestClient(app, raise_server_exceptions=False, headers=auth.headers("operator"))


def server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]


def test_a_request_is_one_server_span_named_by_its_route_in_the_callers_trace(
    auth: TestIssuer, exporter: InMemorySpanExporter
) -> None:
    answer = client(auth, exporter).post(
        "/v1/things/7/archive", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    assert answer.status_code == 201, answer.text

    [span] = server_spans(exporter)
    assert span.name == "POST /v1/things/{thing_id}/archive"
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/v1/things/{thing_id}/archive"
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 201
    assert attributes["url.path"] == "/v1/things/7/archive"
    assert span.context is not None
    assert span.parent is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.status.status_code != StatusCode.ERROR
    # what the handler does is inside the request's span; FastAPI's own steps make no span of their own
    [work] = [s for s in exporter.get_finished_spans() if s.name == "archive the thing"]
    assert work.parent is not None
    assert work.parent.span_id == span.context.span_id
    assert not [s for s in exporter.get_finished_spans() if s.name.startswith("fastapi.")]
    assert len(exporter.get_finished_spans()) == 2


def test_a_request_without_a_caller_starts_a_trace_and_a_failure_marks_its_span(
    auth: TestIssuer, exporter: InMemorySpanExporter
) -> None:
    app = client(auth, exporter)
    assert app.post("/v1/things/500/archive").status_code == 500

    [span] = server_spans(exporter)
    assert span.parent is None
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["http.response.status_code"] == 500
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached after the request


def test_probes_and_metrics_scrapes_make_no_span(auth: TestIssuer, exporter: InMemorySpanExporter) -> None:
    app = client(auth, exporter)
    assert app.get("/livez").status_code == 200
    assert exporter.get_finished_spans() == ()
    assert app.post("/v1/things/1/archive").status_code == 201
    assert len(server_spans(exporter)) == 1
