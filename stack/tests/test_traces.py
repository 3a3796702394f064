"""``up --traces``: the local Jaeger is started through deploy/local/jaeger.sh (a stand-in script here:
the real one builds Jaeger once, which takes minutes), the services are pointed at its OTLP endpoint,
and the link printed is the demo case's trace as reception remembers it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from reintegra_stack import cli
from reintegra_stack.demo import CaseRun
from reintegra_stack.processes import Layout, StackError
from reintegra_stack.scenario import generate_flight, now_utc
from reintegra_stack.traces import case_trace_id, ensure_tracing_backend
from typer.testing import CliRunner

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def fake_jaeger(root: Path, body: str) -> Layout:
    script = root / "deploy" / "local" / "jaeger.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/usr/bin/env bash\n" + body)
    return Layout(root)


def test_the_backend_is_started_and_its_endpoints_read_from_the_script(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    layout = fake_jaeger(
        tmp_path,
        f'echo "$1" >> {calls}\n'
        'case "$1" in start) echo "jaeger: running" >&2 ;; '
        "otlp-endpoint) echo http://127.0.0.1:4318 ;; url) echo http://127.0.0.1:16686 ;; esac\n",
    )
    backend = ensure_tracing_backend(layout)
    assert calls.read_text().split() == ["start", "otlp-endpoint", "url"]
    assert backend.otlp_endpoint == "http://127.0.0.1:4318"
    assert backend.trace_link(TRACE_ID) == f"http://127.0.0.1:16686/trace/{TRACE_ID}"


def test_a_backend_that_fails_to_start_stops_the_stack_with_a_message(tmp_path: Path) -> None:
    layout = fake_jaeger(tmp_path, 'echo "port 4318 in use" >&2; exit 1\n')
    with pytest.raises(StackError, match=r"jaeger.sh start exited with 1"):
        ensure_tracing_backend(layout)


def reception_db(layout: Layout, case_id: str) -> None:
    layout.data_dir.mkdir(parents=True)
    with sqlite3.connect(layout.data_dir / "reception.db") as db:
        db.execute("CREATE TABLE case_traces (case_id TEXT PRIMARY KEY, traceparent TEXT, recorded_at TEXT)")
        db.execute(
            "INSERT INTO case_traces VALUES (?, ?, '2026-11-27')",
            (case_id, f"00-{TRACE_ID}-00f067aa0ba902b7-01"),
        )


def test_the_link_printed_is_the_trace_of_a_demo_case_with_referrals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flight = generate_flight(3, 7, now=now_utc(), repeat_returns=0)
    runs = [CaseRun(r) for r in flight.returnees]
    for n, run in enumerate(runs):
        run.case = {"case_id": f"00000000-0000-4000-8000-00000000000{n}"}
    runs[1].referrals = [{"status": "requested"}]
    layout = fake_jaeger(tmp_path, "")
    reception_db(layout, runs[1].case_id)
    backend = cli.TracingBackend("http://127.0.0.1:4318", "http://127.0.0.1:16686")

    link = cli.print_trace_link(layout, backend, runs)

    assert link == f"http://127.0.0.1:16686/trace/{TRACE_ID}"
    assert link in capsys.readouterr().out.replace("\n", "")
    assert case_trace_id(layout.data_dir / "reception.db", runs[0].case_id) is None
    assert case_trace_id(tmp_path / "missing.db", runs[1].case_id) is None


def test_up_offers_the_option() -> None:
    result = CliRunner().invoke(cli.app, ["up", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--traces" in result.output
