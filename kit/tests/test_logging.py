from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from reintegra_kit.logging import bound, configure_logging, get_logger


def test_log_lines_are_json_with_service_trace_and_message_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("referral", "INFO")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("process") as span, bound(event_id="e-1", case_id="c-1"):
        get_logger("t").info("referral.requested", category="health")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    ctx = span.get_span_context()
    assert line["event"] == "referral.requested"
    assert line["service"] == "referral"
    assert line["event_id"] == "e-1"
    assert line["case_id"] == "c-1"
    assert line["trace_id"] == f"{ctx.trace_id:032x}"
    assert line["span_id"] == f"{ctx.span_id:016x}"
    assert line["level"] == "info"


def test_tracebacks_are_logged_without_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("reception", "INFO")

    def register(given_names: str) -> None:
        raise ValueError("registration failed")

    try:
        register("Marta Lidia")
    except ValueError:
        get_logger("t").exception("reception.failed")
    out = capsys.readouterr().err.strip().splitlines()[-1]
    line = json.loads(out)
    assert line["exception"][0]["exc_type"] == "ValueError"
    assert "Marta" not in out


def test_library_tracebacks_are_logged_without_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    configure_logging("reception", "INFO")

    def register(given_names: str) -> None:
        raise ValueError("registration failed")

    try:
        register("Marta Lidia")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    out = capsys.readouterr().err.strip().splitlines()[-1]
    assert "ValueError" in out
    assert "Marta" not in out
