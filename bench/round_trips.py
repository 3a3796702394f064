"""PostgreSQL round trips per case, per service, in the throughput phase (``--round-trips``).

CPU per case moves by several milliseconds from run to run on a shared machine. A change that takes
round trips away is better shown by counting them. The services then start with
``bench/round_trips_site`` first on their ``PYTHONPATH``: its ``sitecustomize`` wraps asyncpg in
each process and writes the counts so far when signalled (SIGUSR1). The benchmark signals before and
after the phase and divides the difference by the cases completed. The counts depend on the
consumers' batch sizes, which grow with load: compare runs of the same size on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SITE = Path(__file__).resolve().parent / "round_trips_site"
KINDS = ("statements", "simple", "prepares", "executemany")
STATEMENT = "sql:"  # a count by statement: this prefix, then the first 90 characters of its SQL


def env(folder: Path) -> dict[str, str]:
    """The services' environment additions: the counting ``sitecustomize`` and where it writes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(SITE), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "REINTEGRA_BENCH_ROUND_TRIPS": str(folder)}


def mark(processes: Iterable[Any]) -> None:
    """Ask every service process to write its counts so far."""
    for process in processes:
        os.kill(process.ps.pid, signal.SIGUSR1)


async def per_case(folder: Path, processes: Iterable[Any], cases: int) -> dict[str, dict[str, float]]:
    """Each service's round trips per case between the last two marks, by kind and in all."""
    await asyncio.sleep(1.0)  # the processes write at their next turn of the event loop
    totals: dict[str, dict[str, float]] = {}
    for process in processes:
        lines = (folder / f"{process.ps.pid}.jsonl").read_text().splitlines()
        if len(lines) < 2:
            raise RuntimeError(f"{process.name} wrote {len(lines)} round-trip counts, not 2")
        before, after = json.loads(lines[-2]), json.loads(lines[-1])
        mine = totals.setdefault(process.name, dict.fromkeys(KINDS, 0.0))
        for kind in KINDS:
            mine[kind] += (after.get(kind, 0) - before.get(kind, 0)) / cases
    for mine in totals.values():
        mine["all"] = sum(mine[k] for k in KINDS)
    return totals


def by_statement(folder: Path, processes: Iterable[Any], cases: int, top: int = 20) -> str:
    """Each service's most frequent statements per case between the last two marks (Markdown), the
    first 90 characters of their SQL: where the round trips of ``per_case`` come from."""
    lines = ["# PostgreSQL round trips per case, by statement", ""]
    for process in processes:
        text = (folder / f"{process.ps.pid}.jsonl").read_text().splitlines()
        before, after = json.loads(text[-2]), json.loads(text[-1])
        counts = {
            key[len(STATEMENT) :]: (after[key] - before.get(key, 0)) / cases
            for key in after
            if key.startswith(STATEMENT)
        }
        lines += [f"## {process.name}", "", "| per case | statement |", "|---|---|"]
        for sql, n in sorted(counts.items(), key=lambda item: -item[1])[:top]:
            if n >= 0.005:
                lines.append(f"| {n:.2f} | `{' '.join(sql.split())}` |")
        lines.append("")
    return "\n".join(lines)


def describe(counts: Mapping[str, float] | None) -> str:
    """``all (statements, simple, prepares, executemany)`` for the table; ``-`` when not counted."""
    if not counts:
        return "-"
    return f"{counts['all']:.1f} ({', '.join(f'{counts[k]:.1f} {k}' for k in KINDS)})"
