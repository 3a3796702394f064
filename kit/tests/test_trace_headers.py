"""Records carry the trace context twice — W3C ``traceparent`` and the CloudEvents distributed-tracing
extension ``ce_traceparent`` — and consumers continue whichever they find."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from reintegra_kit.telemetry import context_from_headers, trace_headers

TRACEPARENT = "00-" + "a1" * 16 + "-" + "b2" * 8 + "-01"
OTHER = "00-" + "c3" * 16 + "-" + "d4" * 8 + "-01"


def parent_of(headers: list[tuple[str, bytes]]) -> str:
    span_context = trace.get_current_span(context_from_headers(headers)).get_span_context()
    return f"{span_context.trace_id:032x}-{span_context.span_id:016x}"


def test_the_current_context_is_written_as_w3c_and_as_cloudevents_headers() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("send t") as span:
        context = span.get_span_context()
        carrier = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
        with trace.use_span(
            trace.NonRecordingSpan(
                trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
            )
        ):
            headers = dict(trace_headers())
        assert headers == {
            "traceparent": TRACEPARENT.encode(),
            "ce_traceparent": TRACEPARENT.encode(),
            "tracestate": b"vendor=1",
            "ce_tracestate": b"vendor=1",
        }
        own = dict(trace_headers())
    assert own["traceparent"] == own["ce_traceparent"]
    assert own["traceparent"].decode().split("-")[1] == f"{context.trace_id:032x}"
    assert "tracestate" not in own


def test_no_current_span_no_trace_headers() -> None:
    assert trace_headers() == []


def test_either_header_is_continued_and_w3c_wins_when_both_differ() -> None:
    expected = "-".join(TRACEPARENT.split("-")[1:3])
    assert parent_of([("ce_traceparent", TRACEPARENT.encode())]) == expected
    assert parent_of([("traceparent", TRACEPARENT.encode())]) == expected
    assert parent_of([("ce_traceparent", OTHER.encode()), ("traceparent", TRACEPARENT.encode())]) == expected
    assert not trace.get_current_span(context_from_headers([("ce_id", b"x")])).get_span_context().is_valid
