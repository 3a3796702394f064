"""OpenTelemetry set-up: a tracer provider per service, OTLP export when configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACER_NAME = "reintegra"


def configure_tracing(
    service: str, otlp_endpoint: str | None = None, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Build (and install as global) the tracer provider of ``service``."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"reintegra-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces"))
        )
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, if there is one."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    """An OpenTelemetry context whose parent is ``traceparent`` (or an empty one)."""
    carrier: Mapping[str, str] = {"traceparent": traceparent} if traceparent else {}
    return extract(carrier)


TRACE_HEADERS = ("traceparent", "tracestate")
"""W3C trace context headers (OpenTelemetry's propagator)."""

CLOUDEVENTS_TRACE_HEADERS = ("ce_traceparent", "ce_tracestate")
"""The same context as the CloudEvents distributed-tracing extension in Kafka binary mode (what the
CloudEvents SDKs' Kafka bindings read)."""

_CARRIED = frozenset(TRACE_HEADERS + CLOUDEVENTS_TRACE_HEADERS)


def trace_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers, both as W3C ``traceparent``/``tracestate`` and as the
    CloudEvents extension ``ce_traceparent``/``ce_tracestate`` (empty when there is no current span)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    headers: list[tuple[str, bytes]] = []
    for name in TRACE_HEADERS:
        if carrier.get(name):
            headers.append((name, carrier[name].encode()))
            headers.append((f"ce_{name}", carrier[name].encode()))
    return headers


def context_from_headers(headers: Sequence[tuple[str, bytes | str | None]]) -> otel_context.Context:
    """The trace context a Kafka record carries: W3C ``traceparent``/``tracestate`` headers, or else the
    CloudEvents distributed-tracing extension ``ce_traceparent``/``ce_tracestate``."""
    found = {
        name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for name, value in headers
        if name in _CARRIED and value is not None
    }
    if "traceparent" in found:
        carrier = {name: found[name] for name in TRACE_HEADERS if name in found}
    else:
        carrier = {name: found[f"ce_{name}"] for name in TRACE_HEADERS if f"ce_{name}" in found}
    return extract(carrier)
