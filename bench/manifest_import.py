"""How long reception takes to register a 135-person manifest, on the embedded SQLite default (and on
PostgreSQL when ``REINTEGRA_TEST_PG_URL`` is set). Run by hand (not a test)::

    uv run python bench/manifest_import.py [--size 135] [--runs 5]

Each run: a fresh database with reception's migrations and the earlier returns of the flight's ten
repeat returners; then the manifest (CSV, with twelve unaccompanied children, families and ten bad
lines) is parsed and registered in one transaction — the ``POST /v1/manifests`` path without HTTP.
Prints each run and the median.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

import asyncpg
from reintegra_kit.clock import ManualClock
from reintegra_kit.db import Database
from reintegra_kit.handlers import Dependencies, MessageBus
from reintegra_kit.migrations import upgrade_to_head_async
from reintegra_kit.outbox import Outbox
from reintegra_reception.api_models import ArrivalIn
from reintegra_reception.bootstrap import SPEC
from reintegra_reception.crypto import ReceptionKeys
from reintegra_reception.domain import MatchPolicy
from reintegra_reception.handlers import register_arrival, register_manifest
from reintegra_reception.manifests import from_csv
from reintegra_reception.orm import kit_tables
from reintegra_reception.repository import ReceptionUnitOfWork
from reintegra_stack.scenario import bad_rows, generate_flight, manifest_csv, manifest_defaults, manifest_row


async def one_run(url: str, size: int, seed: int) -> tuple[float, float, int]:
    await upgrade_to_head_async(SPEC.migrations, url)
    now = datetime.now(UTC)
    flight = generate_flight(size, seed, now=now, unaccompanied=12, repeat_returns=10)
    db = Database(url)
    clock = ManualClock(now)
    outbox = Outbox(kit_tables, "/bench", clock, declared=SPEC.emitted_types)
    keys = ReceptionKeys.generate()
    bus: MessageBus[ReceptionUnitOfWork] = MessageBus(
        lambda: ReceptionUnitOfWork(db, outbox, None, keys=keys),
        Dependencies(clock=clock, match_policy=MatchPolicy(), blind_index=keys.blind_index),
    )
    try:
        for body in flight.earlier:
            await bus.run(bus_bind(bus, register_arrival), ArrivalIn.model_validate(body).to_command())
        data = manifest_csv([manifest_row(r) for r in flight.returnees] + bad_rows(900))
        defaults = {k: v for k, v in manifest_defaults(flight).items() if k != "manifest_id"}
        started = time.perf_counter()
        cmd = from_csv(data, flight.flight_ref, defaults)
        parsed = time.perf_counter()
        report = await bus.run(bus_bind(bus, register_manifest), cmd)
        done = time.perf_counter()
    finally:
        await db.dispose()
    return (parsed - started) * 1000, (done - started) * 1000, sum(r.created for r in report.registered)


def bus_bind(bus: MessageBus[ReceptionUnitOfWork], handler):  # type: ignore[no-untyped-def]
    return bus._deps.bind(handler)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=135)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    targets = ["sqlite"] + (["postgresql"] if os.environ.get("REINTEGRA_TEST_PG_URL") else [])
    for target in targets:
        totals = []
        for run in range(args.runs):
            if target == "sqlite":
                folder = tempfile.mkdtemp(prefix="reintegra-bench-")
                url = f"sqlite+aiosqlite:///{folder}/reception.db"
            else:
                base = os.environ["REINTEGRA_TEST_PG_URL"].rstrip("/")
                admin = await asyncpg.connect(base.replace("+asyncpg", "") + "/postgres")
                name = f"reintegra_bench_manifest_{run}"
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
                await admin.close()
                url = f"{base}/{name}"
            parse_ms, total_ms, created = await one_run(url, args.size, 100 + run)
            if target == "postgresql":
                admin = await asyncpg.connect(base.replace("+asyncpg", "") + "/postgres")
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
            totals.append(total_ms)
            print(
                f"{target:>10} run {run + 1}: {created} registered (+10 bad lines) in {total_ms:6.0f} ms (parsing {parse_ms:.0f} ms)"
            )
        print(f"{target:>10} median: {statistics.median(totals):.0f} ms for {args.size} persons\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
