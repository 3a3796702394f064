"""Identity matching: the cost of matching one arrival against 10,000 and 1,000,000 known returnees on
PostgreSQL, and the error rates of the rules on a labelled set. Run by hand (not a test)::

    REINTEGRA_TEST_PG_URL=postgresql+asyncpg://user:pw@host:port uv run python bench/identity_matching.py
    uv run python bench/identity_matching.py --sizes 10000 100000 --probes 200    # quicker
    uv run python bench/identity_matching.py --reuse       # keep the loaded databases of a previous run
    uv run python bench/identity_matching.py --quality-only                       # error rates only

For each size it creates a fresh database with reception's migrations, loads that many made-up
returnees (``reintegra_reception.synthetic``: Central American names with realistic frequencies) —
their data encrypted under a data key each, their blocking keys as blind indexes, as reception stores
them — and one earlier case each (PostgreSQL ``COPY``), then times, for the same probes
(half of them known people written differently, half newcomers):

* **match** — what identity matching costs: the candidate lookup on the indexed keys, loading the
  candidates, scoring;
* **register** — the whole ``register_arrival`` handler (claim, matching, writes, outbox) in a
  transaction that is rolled back, so every probe meets the same database.

The sizes are measured in alternating rounds after a warm-up, so that the load of a shared machine
weighs on each alike. It prints the median and p95 of each, and the ratio between the largest and the
smallest size (the target: at most 2; exit status 1 above it). The databases are kept for ``--reuse``;
``--drop`` removes them at the end. It also prints the false-merge and missed-match rates of the rules
on the labelled set for several thresholds (docs/adr/0050-identity-matching.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

import asyncpg
from reintegra_contracts.codelists import ReturnType, Sex, TransportMode
from reintegra_kit.clock import ManualClock
from reintegra_kit.db import Database
from reintegra_kit.migrations import upgrade_to_head_async
from reintegra_kit.outbox import Outbox
from reintegra_reception.bootstrap import SPEC
from reintegra_reception.crypto import FieldCipher, KeyRing, ReceptionKeys
from reintegra_reception.domain import ArrivalFacts, MatchPolicy, RegisterArrival
from reintegra_reception.domain.identity import BlindIndex, identity_of
from reintegra_reception.domain.matching import Candidate, match
from reintegra_reception.handlers import register_arrival
from reintegra_reception.orm import kit_tables
from reintegra_reception.repository import ReceptionUnitOfWork
from reintegra_reception.synthetic import Generator, Person, evaluate, labelled_set, people
from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
LAST_RUN = REPO / ".local" / "bench" / "identity-matching.json"
"""The last full run's figures, which ``bash scripts/bench.sh`` reports in its table."""
NS = UUID("9b1f3c0e-3a57-4bb5-a4e0-8f6f7f8a2d01")
TODAY = datetime(2026, 11, 20, 14, tzinfo=UTC)
KEYS = ReceptionKeys(
    KeyRing(hashlib.sha256(b"reintegra bench key-encryption key").digest()),
    BlindIndex(hashlib.sha256(b"reintegra bench blind-index secret").digest()),
)
"""Fixed keys of the made-up people of this benchmark only (so a database loaded before can be reused);
a service's keys are random secrets (docs/data-protection.md)."""


@dataclass
class Timing:
    size: int
    match_ms: list[float]
    register_ms: list[float]
    candidates: int
    linked: int
    plan: str


def facts(arrived_at: datetime, sex: str) -> ArrivalFacts:
    return ArrivalFacts(
        sex=Sex(sex),
        arrived_at=arrived_at,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        destination_municipality="HN-0501",
    )


async def load(conn: asyncpg.Connection, size: int, seed: int) -> list[Person]:
    """``size`` returnees with their keys and one earlier case each; return a sample to probe with."""
    sample: list[Person] = []
    batch = 20_000
    generated = people(size, seed)
    earlier = TODAY - timedelta(days=400)
    done = 0
    while done < size:
        chunk = [next(generated) for _ in range(min(batch, size - done))]
        returnee_rows: list[Any] = []
        person_key_rows: list[Any] = []
        key_rows: list[Any] = []
        case_rows: list[Any] = []
        for i, p in enumerate(chunk, start=done):
            rid = uuid5(NS, f"r{i}")
            d = p.data
            data_key = KEYS.ring.new_data_key()
            wrapped = KEYS.ring.wrap(data_key, rid)
            cipher = FieldCipher(data_key, rid)
            returnee_rows.append(
                (
                    rid,
                    cipher.encrypt("given_names", d.given_names),
                    cipher.encrypt("family_names", d.family_names),
                    cipher.encrypt("date_of_birth", d.date_of_birth.isoformat()),
                    cipher.encrypt("document_number", d.document_number),
                    p.sex,
                    earlier,
                )
            )
            person_key_rows.append((rid, wrapped.kek_id, wrapped.blob, earlier))
            key_rows.extend(
                (k, rid) for k in KEYS.blind_index.blocking_keys(identity_of(d, sex=p.sex, country="HN"))
            )
            case_rows.append(
                (
                    uuid5(NS, f"c{i}"),
                    rid,
                    earlier,
                    "HN-SAP",
                    "HN-CAMR-SPS",
                    "HN-0501",
                    30,
                    "forced",
                    "air",
                    "[]",
                    "[]",
                    False,
                    earlier,
                    1,
                    "HN",
                    p.sex,
                    "registered",
                    0,
                    0,
                )
            )
        await conn.copy_records_to_table(
            "returnees",
            records=returnee_rows,
            columns=[
                "returnee_id",
                "given_names_enc",
                "family_names_enc",
                "date_of_birth_enc",
                "document_number_enc",
                "sex",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "person_keys",
            records=person_key_rows,
            columns=["returnee_id", "kek_id", "wrapped_key", "created_at"],
        )
        await conn.copy_records_to_table("identity_keys", records=key_rows, columns=["key", "returnee_id"])
        await conn.copy_records_to_table(
            "cases",
            records=case_rows,
            columns=[
                "case_id", "returnee_id", "arrived_at", "port_of_entry", "reception_centre", "destination_municipality",
                "age", "return_type", "transport_mode", "vulnerabilities", "immediate_needs", "is_repeat_return",
                "registered_at", "version", "country_of_return", "sex", "status", "previous_returns",
                "declared_previous_returns",
            ],
        )  # fmt: skip
        if done == 0:
            sample = chunk[:100]  # the first people generated: the same for every size
        done += len(chunk)
        print(f"\r  loaded {done:>9,} / {size:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    await conn.execute("ANALYZE")
    return sample


def probes(sample: list[Person], count: int, seed: int) -> list[Person]:
    """Half known people written differently, half newcomers (the same ones for every size)."""
    gen = Generator(seed)
    out = []
    for i in range(count):
        if i % 2 == 0:
            variation = Generator.VARIATIONS[(i // 2) % len(Generator.VARIATIONS)]
            out.append(gen.again(sample[i % len(sample)], variation))
        else:
            out.append(gen.person())
    return out


async def prepare(base_url: str, size: int, seed: int, reuse: bool) -> tuple[str, list[Person]]:
    """A database of ``size`` known returnees (reused when ``reuse`` and it already holds them)."""
    name = f"reintegra_bench_identity_{size}"
    url = f"{base_url}/{name}"
    admin = await asyncpg.connect(base_url.replace("+asyncpg", "") + "/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and reuse:
            conn = await asyncpg.connect(url.replace("+asyncpg", ""))
            try:
                count = await conn.fetchval("SELECT count(*) FROM returnees")
            finally:
                await conn.close()
            if count == size:
                print(f"  reusing {name} ({size:,} returnees)", file=sys.stderr)
                return url, [p for p, _ in zip(people(size, seed), range(100), strict=False)]
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await upgrade_to_head_async(SPEC.migrations, url)
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        started = time.perf_counter()
        sample = await load(conn, size, seed)
        print(f"  {size:,} returnees loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        await conn.close()
    return url, sample


async def measure(db: Database, probe_people: list[Person], policy: MatchPolicy, timing: Timing) -> None:
    """One round over the probes: matching alone, then the whole handler (rolled back)."""
    clock = ManualClock(TODAY)
    outbox = Outbox(kit_tables, "/bench", clock, declared=SPEC.emitted_types)
    for p in probe_people:
        ident = identity_of(p.data, sex=p.sex, country="HN")
        keys = KEYS.blind_index.blocking_keys(ident)
        uow = ReceptionUnitOfWork(db, outbox, None, keys=KEYS)
        async with uow:
            t0 = time.perf_counter()
            found = await uow.returnees.candidates(keys, policy.max_candidates_per_key)
            ids = sorted({rid for rs in found.values() for rid in rs}, key=str)
            arrivals = await uow.cases.arrivals_of(ids)
            known = await uow.returnees.get_many(ids, dict.fromkeys(ids, "HN"))
            candidates = [
                Candidate(r, known[r].identity, arrivals[r][-1][1].date() if r in arrivals else None)
                for r in ids
                if r in known
            ]
            result = match(ident, candidates, policy, arriving_on=TODAY.date())
            t1 = time.perf_counter()
        uow = ReceptionUnitOfWork(db, outbox, None, keys=KEYS)
        async with uow:  # left without commit: rolled back, so every probe meets the same database
            t2 = time.perf_counter()
            cmd = RegisterArrival(p.data, facts(TODAY, p.sex), f"bench-{uuid4()}")
            await register_arrival(cmd, uow, clock, policy, KEYS.blind_index)
            t3 = time.perf_counter()
        timing.match_ms.append((t1 - t0) * 1000)
        timing.register_ms.append((t3 - t2) * 1000)
        timing.candidates += len(ids)
        timing.linked += result.verdict.value == "link"


async def plan_of(db: Database, person: Person) -> str:
    keys = sorted(KEYS.blind_index.blocking_keys(identity_of(person.data, sex=person.sex, country="HN")))
    async with db.engine.connect() as c:
        plan = await c.execute(
            text("EXPLAIN SELECT key, returnee_id FROM identity_keys WHERE key = ANY(:k)"), {"k": keys}
        )
        return " / ".join(r[0].strip() for r in plan)[:160]


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def quality_table(known: int, probes_: int) -> None:
    people_, probes_list = labelled_set(known, probes_, seed=2026)
    print(f"\nLabelled set: {known:,} known people, {probes_:,} probes "
          f"({sum(p.truth is not None for p in probes_list)} repeat returns, the rest look-alikes)")  # fmt: skip
    print(
        f"{'auto_link':>9} {'review':>7} | {'false merges':>12} {'missed':>7} {'auto-linked':>11} {'to review':>9}"
    )
    for auto, review in ((0.97, 0.90), (0.95, 0.85), (0.92, 0.80), (0.90, 0.75), (0.85, 0.70)):
        q = evaluate(MatchPolicy(auto, review), people_, probes_list)
        print(
            f"{auto:>9.2f} {review:>7.2f} | {q.false_merge_rate:>11.2%} {q.missed_rate:>7.2%} "
            f"{q.auto_link_rate:>10.1%} {q.review_rate:>9.1%}"
        )


async def main() -> int:
    commit = _commit()  # the code measured: the commit checked out when the run starts
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("REINTEGRA_TEST_PG_URL"),
        help="postgresql+asyncpg://user:pw@host:port",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per size, alternating")
    parser.add_argument("--reuse", action="store_true", help="reuse a database already loaded with a size")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases at the end")
    parser.add_argument("--quality-only", action="store_true")
    args = parser.parse_args()
    quality_table(5_000, 4_000)
    if args.quality_only:
        return 0
    if not args.pg_url:
        print(
            "set REINTEGRA_TEST_PG_URL or --pg-url (a PostgreSQL server: bash deploy/local/postgres.sh start)",
            file=sys.stderr,
        )
        return 2
    policy = MatchPolicy()
    prepared = []
    for size in args.sizes:
        print(f"size {size:,}:", file=sys.stderr)
        prepared.append((size, *await prepare(args.pg_url.rstrip("/"), size, args.seed, args.reuse)))
    # The same probes for every size, from the people every size shares; the sizes are measured in
    # alternating rounds, so that the load of a shared machine weighs on each alike.
    probe_people = probes(prepared[0][2], args.probes, args.seed + 1)
    databases = [Database(url) for _, url, _ in prepared]
    timings = [
        Timing(size, [], [], 0, 0, await plan_of(db, probe_people[0]))
        for (size, _, _), db in zip(prepared, databases, strict=True)
    ]
    try:
        for db in databases:  # warm-up: caches and connection pools
            await measure(db, probe_people, policy, Timing(0, [], [], 0, 0, ""))
        for _ in range(args.rounds):
            for db, timing in zip(databases, timings, strict=True):
                await measure(db, probe_people, policy, timing)
    finally:
        for db in databases:
            await db.dispose()
        if args.drop:
            admin = await asyncpg.connect(args.pg_url.rstrip("/").replace("+asyncpg", "") + "/postgres")
            for size, _, _ in prepared:
                await admin.execute(f'DROP DATABASE IF EXISTS "reintegra_bench_identity_{size}" WITH (FORCE)')
            await admin.close()
    print(
        f"\nMatching one arrival on PostgreSQL ({args.probes} probes x {args.rounds} alternating rounds, after a warm-up)"
    )
    print(
        f"{'known returnees':>15} | {'match p50':>9} {'p95':>7} | {'register p50':>12} {'p95':>7} | {'candidates/probe':>16} {'linked':>6}"
    )
    for t in timings:
        print(
            f"{t.size:>15,} | {statistics.median(t.match_ms):>7.2f}ms {p95(t.match_ms):>5.2f}ms | "
            f"{statistics.median(t.register_ms):>10.2f}ms {p95(t.register_ms):>5.2f}ms | "
            f"{t.candidates / len(t.match_ms):>16.2f} {t.linked // args.rounds:>6}"
        )
    small, large = timings[0], timings[-1]
    ratio = statistics.median(large.match_ms) / statistics.median(small.match_ms)
    ratio_reg = statistics.median(large.register_ms) / statistics.median(small.register_ms)
    print(
        f"\nratio {large.size:,} / {small.size:,}: match {ratio:.2f}x, register {ratio_reg:.2f}x (target: at most 2x)"
    )
    print(f"candidate lookup plan: {large.plan}")
    LAST_RUN.parent.mkdir(parents=True, exist_ok=True)
    LAST_RUN.write_text(
        json.dumps(
            {
                "commit": commit,
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "sizes": [t.size for t in timings],
                "match_p50_ms": [statistics.median(t.match_ms) for t in timings],
                "register_p50_ms": [statistics.median(t.register_ms) for t in timings],
                "match_ratio": ratio,
                "register_ratio": ratio_reg,
            },
            indent=2,
        )
    )
    print(f"written to {LAST_RUN} (the benchmark's table reports it)")
    return 0 if ratio <= 2 else 1


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
