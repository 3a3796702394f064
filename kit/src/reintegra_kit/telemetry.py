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


def context_from_headers(headers: Sequence[tuple[str, bytes]]) -> otel_context.Context:
    """The trace context a Kafka record carries (W3C ``traceparent``/``tracestate`` headers)."""
    carrier = {
        name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for name, value in headers
        if name in ("traceparent", "tracestate")
    }
    return extract(carrier)
