"""The local tracing backend is real: spans exported by the OpenTelemetry SDK over OTLP/HTTP come back from
its query API as one trace, with parents, kinds, attributes, links and the service's resource."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

pytestmark = pytest.mark.tracing


def read_trace(
    traces_url: str, trace_id: str, spans_expected: int, timeout_s: float = 20.0
) -> list[dict[str, Any]]:
    """The spans of ``trace_id`` from Jaeger's query API (``/api/v3/traces/<id>``, OTLP JSON)."""
    deadline = time.monotonic() + timeout_s
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = httpx.get(f"{traces_url}/api/v3/traces/{trace_id}", timeout=5)
        if response.status_code == 200:
            result = response.json()["result"]
            spans = [
                {**span, "service": resource_attribute(rs["resource"], "service.name")}
                for rs in result["resourceSpans"]
                for ss in rs["scopeSpans"]
                for span in ss["spans"]
            ]
            if len(spans) >= spans_expected:
                return spans
        time.sleep(0.3)
    raise AssertionError(f"trace {trace_id} has {len(spans)} of {spans_expected} spans after {timeout_s}s")


def resource_attribute(resource: dict[str, Any], key: str) -> Any:
    return next(a["value"]["stringValue"] for a in resource["attributes"] if a["key"] == key)


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}


def test_a_trace_exported_over_otlp_http_is_read_back_whole(tracing_backend: tuple[str, str]) -> None:
    otlp, traces_url = tracing_backend
    service = f"reintegra-trace-test-{uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces", timeout=10))
    )
    tracer = provider.get_tracer("reintegra.tests")
    try:
        with tracer.start_as_current_span("earlier request", kind=trace.SpanKind.SERVER) as earlier:
            earlier_context = earlier.get_span_context()
        with (
            tracer.start_as_current_span(
                "POST /v1/arrivals", kind=trace.SpanKind.SERVER, links=[trace.Link(earlier_context)]
            ) as root,
            tracer.start_as_current_span(
                "send reintegra.reception.events.v1",
                kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "kafka", "messaging.operation.type": "send"},
            ),
        ):
            pass
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = {s["name"]: s for s in read_trace(traces_url, trace_id, spans_expected=2)}

    assert set(spans) == {"POST /v1/arrivals", "send reintegra.reception.events.v1"}
    parent, child = spans["POST /v1/arrivals"], spans["send reintegra.reception.events.v1"]
    assert child["parentSpanId"] == parent["spanId"]
    assert child["kind"] in (4, "SPAN_KIND_PRODUCER")
    assert attributes(child)["messaging.system"] == "kafka"
    assert {s["service"] for s in spans.values()} == {service}
    (link,) = parent["links"]
    assert link["traceId"] == format(earlier_context.trace_id, "032x")
    assert link["spanId"] == format(earlier_context.span_id, "016x")


def test_an_unknown_trace_is_not_found(tracing_backend: tuple[str, str]) -> None:
    _, traces_url = tracing_backend
    response = httpx.get(f"{traces_url}/api/v3/traces/{uuid4().hex}", timeout=5)
    assert response.status_code == 404
