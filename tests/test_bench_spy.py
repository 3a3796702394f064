"""The profile summary of ``bench --spy`` (``python -m bench.spy FILE``): which samples it counts,
and how it groups them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAIN = "<module> (reintegra_followup/__main__.py:3);_run_module_as_main (<frozen runpy>:198)"
LOOP = f"{MAIN};Runner.run (asyncio/runners.py:118);BaseEventLoop._run_once (asyncio/base_events.py:1922)"


def _section(summary: str, title: str) -> dict[str, float]:
    lines = summary.split("\n\n")
    block = next(b for b in lines if b.startswith(title))
    shares = {}
    for line in block.splitlines()[1:]:
        share, name = line.split(" %  ", 1)
        shares[name] = float(share)
    return shares


def test_greenlet_stacks_count_other_threads_and_idle_do_not(tmp_path: Path) -> None:
    raw = tmp_path / "spy.txt"
    raw.write_text(
        "\n".join(
            [
                # the event loop's thread, in the consumer: 2 samples
                f"{LOOP};Handle._run (asyncio/events.py:84);EventConsumer._run_handlers "
                "(reintegra_kit/consumer.py:432);Tracer.start_span (trace/__init__.py:1100) 2",
                # a greenlet of SQLAlchemy's asyncio layer: its stack starts at the greenlet's function
                "Session.commit (sqlalchemy/orm/session.py:2177);_InlineConnection.commit "
                "(reintegra_kit/db.py:723) 1",
                "Session.connection (sqlalchemy/orm/session.py:2239);Engine.connect "
                "(sqlalchemy/engine/base.py:3279);Condition.notify (threading.py:369) 1",
                # another thread and an idle loop: not counted
                "Thread._bootstrap (threading.py:1002);BatchSpanProcessor.worker "
                "(opentelemetry/sdk/trace/export/__init__.py:1) 5",
                f"{LOOP};EpollSelector.select (selectors.py:468) 7",
                " 3",
            ]
        )
        + "\n"
    )
    summary = subprocess.run(
        [sys.executable, "-m", "bench.spy", str(raw)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert summary.startswith("4 busy samples")
    # the stdlib's time (threading) is charged to its caller; OpenTelemetry's modules are one package
    assert _section(summary, "by package, the standard library's") == {
        "opentelemetry": 50.0,
        "reintegra_kit": 25.0,
        "sqlalchemy": 25.0,
    }
    assert _section(summary, "self, by package") == {
        "opentelemetry": 50.0,
        "reintegra_kit": 25.0,
        "threading": 25.0,
    }
