"""The benchmark (``bash scripts/bench.sh``, docs/performance.md) still runs end to end on today's
platform: tokens, consent, the manifest import. A tiny run on the session's broker — it measures
nothing worth reading (the benchmark is never a timed test); it catches a broken benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script",
    ["fault_storm.py", "poison_run.py", "identity_matching.py", "manifest_import.py", "statement_cost.py"],
)
def test_the_documented_bench_scripts_start(script: str) -> None:
    # as the README and docs/reliability.md type them: `python bench/<script>` (a module of bench/
    # named like one of the standard library's once hid it, and these did not start)
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


def test_the_statement_cost_bench_prints_each_way_against_the_driver() -> None:
    result = subprocess.run(
        [sys.executable, "bench/statement_cost.py", "--statements", "20", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "way" not in line]
    assert [row.split("|")[1].strip() for row in rows] == [
        "session",
        "connection",
        "sync in one greenlet",
        "driver",
    ]
    assert rows[-1].split("|")[3].strip() == "1.0"  # the driver is the baseline


@pytest.mark.connected
@pytest.mark.processes
@pytest.mark.timeout(240)
def test_a_tiny_benchmark_runs_end_to_end(kafka_bootstrap: str) -> None:
    command = [
        sys.executable, "-m", "bench", "--kafka", kafka_bootstrap, "--bare-messages", "0",
        "--warmup", "1", "--cases", "3", "--concurrency", "2", "--seconds", "0", "--manifest-size", "4",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=220, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| correctness | ok |" in result.stdout
    assert "with first referral 4.0" in result.stdout  # consent recorded: the referrals were shared
    assert "9 events per case" in result.stdout


@pytest.mark.connected
@pytest.mark.processes
@pytest.mark.timeout(240)
def test_a_tiny_benchmark_on_postgresql_counts_each_services_round_trips(
    kafka_bootstrap: str, postgres_server: str
) -> None:
    command = [
        sys.executable, "-m", "bench", "--kafka", kafka_bootstrap, "--pg-url", postgres_server,
        "--only-postgres", "--round-trips", "--bare-messages", "0", "--warmup", "1", "--cases", "3",
        "--concurrency", "2", "--seconds", "0", "--manifest-size", "1",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=220, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| correctness | ok |" in result.stdout
    counted = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in result.stdout.splitlines()
        if "(PostgreSQL round trips per case:" in line
    }
    assert sorted(counted) == [
        f"(PostgreSQL round trips per case: {name})"
        for name in ("assessment", "followup", "reception", "referral")
    ]
    for cell in counted.values():  # "all (s statements, b simple, p prepares, m executemany)"
        statements = float(cell.split("(")[1].split(" statements")[0])
        assert statements > 1, cell  # every service reads and writes its database for each case
    said = (result.stdout + result.stderr).splitlines()
    detail = Path(next(line for line in said if "round trips by statement:" in line).split(": ")[-1])
    text = detail.read_text()
    for name in ("assessment", "followup", "reception", "referral"):
        assert f"## {name}" in text
    assert "INSERT INTO outbox" in text  # every service stages events: its statements are named
