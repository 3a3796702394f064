"""What SQLite's WAL checkpoints cost the event loop, with and without the kit's checkpoint thread. Run by
hand (not a test)::

    uv run python bench/checkpoints.py [--transactions 40000] [--rounds 3]

A service's SQLite transactions run inline on the event loop (ADR 0033). With SQLite's automatic
checkpoint, the commit that takes the WAL past 1,000 pages copies it back into the database file and
waits for ``fsync``, and the loop waits with it. This writes transactions like a consumer batch's (two
~1.5 KB rows each) through the kit's session on a SQLite file, two ways in alternating rounds:

* ``automatic`` — SQLite's own checkpoint in the commits (the baseline: the kit's checkpointer is
  detached before the first connection);
* ``thread`` — the kit's :class:`~reintegra_kit.wal.WalCheckpointer` (ADR 0034).

For each it prints the commits' wall time (median, p99, p99.9, max) — the event loop waits for every
commit, so this is what any request or consumer of the service would have waited — how many commits
took longer than 5 ms, the whole run's time, the WAL's length at the end and the thread's checkpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "kit" / "src")]

from reintegra_kit.db import Database  # noqa: E402

PAYLOAD = os.urandom(1500)


async def one_run(directory: Path, mode: str, transactions: int) -> dict[str, Any]:
    path = directory / f"{mode}-{time.monotonic_ns()}.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    assert db.checkpointer is not None
    if mode == "automatic":
        event.remove(db.engine.sync_engine, "connect", db.checkpointer.on_connect)
    async with db.session() as session, session.begin():
        await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)"))
    commits: list[float] = []
    started = time.perf_counter()
    for _ in range(transactions):
        session = db.session()
        await session.begin()
        await session.execute(text("INSERT INTO t (payload) VALUES (:p)"), {"p": PAYLOAD})
        await session.execute(text("INSERT INTO t (payload) VALUES (:p)"), {"p": PAYLOAD})
        before = time.perf_counter()
        await session.commit()
        commits.append(time.perf_counter() - before)
        await session.close()
    elapsed = time.perf_counter() - started
    wal = os.stat(f"{path}-wal").st_size
    checkpoints, restarts = db.checkpointer.checkpoints, db.checkpointer.restarts
    await db.dispose()
    commits.sort()
    n = len(commits)
    return {
        "p50": commits[n // 2],
        "p99": commits[int(n * 0.99)],
        "p999": commits[int(n * 0.999)],
        "max": commits[-1],
        "elapsed": elapsed,
        "slow": sum(1 for c in commits if c > 0.005),
        "wal_mb": wal / 1e6,
        "checkpoints": checkpoints,
        "restarts": restarts,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=40000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {"automatic": [], "thread": []}
    with tempfile.TemporaryDirectory(
        dir=Path.cwd() / ".local" if (Path.cwd() / ".local").is_dir() else None
    ) as d:
        for _ in range(args.rounds):
            for mode in results:
                results[mode].append(await one_run(Path(d), mode, args.transactions))
    print(f"{args.transactions} transactions of two ~1.5 KB rows, {args.rounds} alternating rounds (medians)")
    print(
        f"{'checkpoint':<10} {'commit p50':>11} {'p99':>9} {'p99.9':>9} {'max':>9} {'> 5 ms':>7} {'run':>8} "
        f"{'WAL MB':>7} {'by thread':>9} {'restarts':>8}"
    )
    for mode, runs in results.items():
        m = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{mode:<10} {m['p50'] * 1e6:>9.0f}µs {m['p99'] * 1e6:>7.0f}µs {m['p999'] * 1e3:>7.1f}ms "
            f"{m['max'] * 1e3:>7.1f}ms {m['slow']:>7.0f} {m['elapsed']:>7.2f}s {m['wal_mb']:>7.1f} "
            f"{m['checkpoints']:>9.0f} {m['restarts']:>8.0f}"
        )
    base, kit = (statistics.median(r["elapsed"] for r in results[k]) for k in ("automatic", "thread"))
    print(f"run time, thread / automatic: {kit / base:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
