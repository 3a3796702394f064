"""``bash scripts/bench.sh [--postgres] [options]``: the benchmark of issue 8 (docs/performance.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from . import hooks, round_trips
from ._auth import BenchIssuer
from .bare import BareResult, bare_loop
from .driver import EVENTS_PER_CASE, Driver, Observer, PhaseResult, percentiles, steady, throughput
from .infra import (
    REPO,
    STATE,
    GivenKafka,
    GivenPostgres,
    InfraError,
    PrivateKafka,
    PrivatePostgres,
    drop_topics,
)
from .keepalive import Pool
from .services import SERVICES, Platform
from .spy import Spy, summarise

Kafka = PrivateKafka | GivenKafka
Postgres = PrivatePostgres | GivenPostgres

TARGET_SHARE = 30.0  # % of the bare loop in events/s
TARGET_CASES = 100.0  # cases/s end to end
TARGET_CPU_MS = 10.0  # service CPU per case (all services)
TARGET_P99_MS = 500.0
TARGET_RSS_MB = 150.0


@dataclass
class DbResult:
    database: str
    replicas: int
    throughput: PhaseResult | None = None
    cpu_ms_per_case: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    scheduled_ms: dict[str, float] = field(default_factory=dict)
    referral_ms: dict[str, float] = field(default_factory=dict)
    steady: PhaseResult | None = None
    steady_rate: float = 0.0
    manifest: Any = None
    matching: Any = None
    problems: list[str] = field(default_factory=list)
    other_load_pct: float = 0.0
    kafka_cpu_ms_per_case: float | None = 0.0
    driver_cpu_ms_per_case: float = 0.0
    round_trips_per_case: dict[str, dict[str, float]] = field(default_factory=dict)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bash scripts/bench.sh", description=__doc__)
    p.add_argument(
        "--postgres", action="store_true", help="run the platform on PostgreSQL too (private server)"
    )
    p.add_argument("--only-postgres", action="store_true", help="run the platform on PostgreSQL only")
    p.add_argument("--cases", type=int, default=2000, help="cases of the throughput phase (default 2000)")
    p.add_argument("--concurrency", type=int, default=32, help="arrival POSTs in flight (default 32)")
    p.add_argument("--rate", type=float, default=50.0, help="arrivals/s of the latency phase (default 50)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the latency phase (default 30)")
    p.add_argument(
        "--bare-messages", type=int, default=50_000, help="records of the bare loop (0: no bare loop)"
    )
    p.add_argument("--warmup", type=int, default=40, help="cases of the warm-up (default 40)")
    p.add_argument(
        "--manifest-size", type=int, default=135, help="people on the manifest of the import (default 135)"
    )
    p.add_argument(
        "--kafka",
        metavar="BOOTSTRAP",
        help="use this running broker instead of starting a private one (its CPU is then not measured)",
    )
    p.add_argument(
        "--pg-url",
        metavar="URL",
        help="use this running PostgreSQL server (postgresql+asyncpg://user:pw@host:port) instead of a "
        "private one; the run creates and drops its own databases there",
    )
    p.add_argument("--replicas", type=int, default=1, help="processes of each consumer service (default 1)")
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=SERVICES,
        help="run under pyinstrument (report in the logs)",
    )
    p.add_argument(
        "--spy", action="append", default=[], choices=SERVICES, help="py-spy profile of the throughput phase"
    )
    p.add_argument("--keep-infra", action="store_true", help="leave the private broker and database running")
    p.add_argument(
        "--round-trips",
        action="store_true",
        help="count the services' PostgreSQL round trips in the throughput phase (bench/round_trips)",
    )
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra service setting")
    args = p.parse_args(argv)
    for name, value in (
        ("--cases", args.cases),
        ("--concurrency", args.concurrency),
        ("--warmup", args.warmup),
        ("--manifest-size", args.manifest_size),
    ):
        if value < 1:
            p.error(f"{name} must be at least 1, got {value}")
    if args.replicas < 1 or args.replicas > 4:
        p.error(f"--replicas must be 1 to 4, got {args.replicas}")
    if args.rate <= 0 or args.seconds < 0:
        p.error("--rate must be positive and --seconds not negative")
    for item in args.env:
        if "=" not in item or not item.startswith("REINTEGRA_"):
            p.error(f"--env takes REINTEGRA_NAME=VALUE, got {item!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        return asyncio.run(run(args))
    except InfraError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
    run_dir = STATE / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    databases = ["postgres"] if args.only_postgres else ["sqlite", *(["postgres"] if args.postgres else [])]
    machine = describe_machine()
    say(f"run {run_id}; logs in {run_dir}; load average {machine['load_start']}")
    kafka: Kafka = GivenKafka(args.kafka) if args.kafka else PrivateKafka()
    postgres: Postgres | None = None
    if "postgres" in databases:
        postgres = GivenPostgres(args.pg_url) if args.pg_url else PrivatePostgres()
    if isinstance(kafka, PrivateKafka):
        say(f"starting the private Kafka broker on {kafka.bootstrap} ({kafka.state_dir})")
    else:
        say(f"using the running Kafka broker at {kafka.bootstrap} (its CPU counts as other load)")
    kafka.start()
    if isinstance(kafka, PrivateKafka):
        # The private broker is the benchmark's own: what an interrupted run left is dropped.
        left = await drop_topics(kafka.bootstrap, "bench")
        if left:
            say(f"dropped {left} topics an earlier run left on the private broker")
    if isinstance(postgres, PrivatePostgres):
        say(f"starting the private PostgreSQL server on 127.0.0.1:{postgres.port} ({postgres.state_dir})")
        postgres.start()
    elif postgres is not None:
        say("using the running PostgreSQL server of --pg-url (own databases, dropped at the end)")
    issuer = BenchIssuer()  # the services trust it; the driver sends its staff token
    try:
        say(f"bare loop (before): {args.bare_messages} records of 1 KB")
        before = (
            await bare_loop(kafka.bootstrap, args.bare_messages) if args.bare_messages else BareResult(0, 0)
        )
        say(f"bare loop (before): {before.per_second:,.0f} records/s")
        results = []
        for db in databases:
            results.append(await platform_run(args, db, kafka, postgres, issuer, run_id, run_dir))
        say("bare loop (after)")
        after = (
            await bare_loop(kafka.bootstrap, args.bare_messages) if args.bare_messages else BareResult(0, 0)
        )
        say(f"bare loop (after): {after.per_second:,.0f} records/s")
    finally:
        issuer.stop()
        if not args.keep_infra:
            kafka.stop()
            if postgres is not None:
                postgres.stop()
    machine["load_end"] = load_average()
    table = render(machine, before, after, results, args)
    print(table)
    (run_dir / "table.md").write_text(table)
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "machine": machine,
                "bare": [asdict(before), asdict(after)],
                "runs": [_jsonable(r) for r in results],
            },
            indent=2,
            default=str,
        )
    )
    say(f"table and results in {run_dir}")
    return 0 if all(not r.problems for r in results) else 1


def _jsonable(result: DbResult) -> dict[str, Any]:
    data = asdict(result)
    for phase in ("throughput", "steady"):
        if data.get(phase):
            data[phase].pop("cases", None)
    return data


async def platform_run(
    args: argparse.Namespace,
    db: str,
    kafka: Kafka,
    postgres: Postgres | None,
    issuer: BenchIssuer,
    run_id: str,
    run_dir: Path,
) -> DbResult:
    tag = f"{run_id.replace('-', '')}{db[:2]}"
    prefix = f"bench{tag}."
    log_dir = run_dir / db
    log_dir.mkdir(parents=True, exist_ok=True)
    if db == "postgres":
        assert postgres is not None
        urls = {}
        for name in SERVICES:
            await asyncio.to_thread(postgres.createdb, f"bench_{tag}_{name}")
            urls[name] = postgres.url(f"bench_{tag}_{name}")
    else:
        urls = {name: f"sqlite+aiosqlite:///{log_dir / (name + '.db')}" for name in SERVICES}
    env = {
        "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "REINTEGRA_TOPIC_PREFIX": prefix,
        "REINTEGRA_LOG_LEVEL": "INFO",
        **issuer.env(),
        **dict(item.split("=", 1) for item in args.env),
    }
    counted = log_dir / "round-trips" if args.round_trips and db == "postgres" else None
    if counted is not None:
        env.update(round_trips.env(counted))
    result = DbResult(db, args.replicas)
    plat = Platform(
        env=env, database_urls=urls, log_dir=log_dir, replicas=args.replicas, profile=args.profile
    )
    say(f"[{db}] starting {len(plat.all())} service processes")
    plat.start()
    observer = Observer(kafka.bootstrap, prefix)
    await observer.start()
    size = max(args.concurrency, 16)
    token = issuer.staff()
    reception = Pool(plat.ports("reception"), size, headers=token)
    assessment = Pool(plat.ports("assessment"), size, headers=token)
    driver = Driver(observer, reception, assessment, f"{run_id}-{db}")
    driver.start()
    rss_peak: dict[str, int] = dict.fromkeys(SERVICES, 0)
    sampling = asyncio.create_task(sample_rss(plat, rss_peak))
    try:
        say(f"[{db}] warm-up: {args.warmup} cases")
        warm = await throughput(driver, args.warmup, 8, timeout_s=180)
        if warm.complete < args.warmup:
            result.problems.append(f"warm-up: only {warm.complete}/{args.warmup} cases completed in 180 s")
        say(f"[{db}] throughput: {args.cases} cases, {args.concurrency} arrival POSTs in flight")
        me = psutil.Process()
        kafka_proc = kafka_process(kafka)
        cpu0, me0, k0, sys0, t0 = plat.cpu(), _cpu(me), _cpu(kafka_proc), _busy(), time.time()
        threads0 = {p.name: p.thread_cpu() for p in plat.all()}
        if counted is not None:
            round_trips.mark(plat.all())
        spies = [
            Spy(p.ps.pid, log_dir / f"spy-{p.name}.txt") for n in args.spy for p in plat.processes[n][:1]
        ]
        phase = await throughput(driver, args.cases, args.concurrency, timeout_s=60 + args.cases / 5)
        for spy in spies:
            spy.stop()
            (spy.out.with_suffix(".summary.txt")).write_text(summarise(spy.out))
        cpu1, me1, k1, sys1, t1 = plat.cpu(), _cpu(me), _cpu(kafka_proc), _busy(), time.time()
        result.throughput = phase
        if counted is not None:
            round_trips.mark(plat.all())
            result.round_trips_per_case = await round_trips.per_case(
                counted, plat.all(), max(phase.complete, 1)
            )
            detail = log_dir / "round-trips-by-statement.md"
            detail.write_text(round_trips.by_statement(counted, plat.all(), max(phase.complete, 1)))
            say(f"[{db}] round trips by statement: {detail}")
        for proc in plat.all():
            before_t, after_t = threads0.get(proc.name, {}), proc.thread_cpu()
            main = after_t.get(proc.ps.pid, 0) - before_t.get(proc.ps.pid, 0)
            other = sum(v - before_t.get(k, 0) for k, v in after_t.items() if k != proc.ps.pid)
            say(f"[{db}] {proc.name}: main thread {main:.1f} s CPU, other threads {other:.1f} s")
        done = max(phase.complete, 1)
        result.cpu_ms_per_case = {n: (cpu1[n] - cpu0[n]) * 1000 / done for n in SERVICES}
        result.kafka_cpu_ms_per_case = (k1 - k0) * 1000 / done if kafka_proc is not None else None
        result.driver_cpu_ms_per_case = (me1 - me0) * 1000 / done
        ours = sum(cpu1[n] - cpu0[n] for n in SERVICES) + (me1 - me0) + (k1 - k0)
        result.other_load_pct = max(0.0, (sys1 - sys0 - ours) / ((t1 - t0) * (os.cpu_count() or 1)) * 100)
        say(
            f"[{db}] throughput: {phase.complete}/{args.cases} cases in {phase.seconds:.1f} s = "
            f"{phase.cases_per_s:.1f} cases/s; CPU ms/case "
            + ", ".join(f"{n} {v:.1f}" for n, v in result.cpu_ms_per_case.items())
        )
        if phase.complete < len(phase.cases) or len(phase.cases) < args.cases:
            result.problems.append(
                f"throughput: {phase.complete} of {args.cases} cases completed before the time-out"
            )
        if args.seconds > 0:
            say(f"[{db}] latency: {args.rate:g} arrivals/s for {args.seconds:g} s")
            lat = await steady(driver, args.rate, args.seconds, timeout_s=60 + args.rate * args.seconds / 5)
            result.steady, result.steady_rate = lat, args.rate
            cases = [observer.cases[c] for c in lat.cases if c in observer.cases]
            result.scheduled_ms = percentiles(
                [(c.scheduled_at - c.posted_at) * 1000 for c in cases if c.scheduled_at and c.posted_at]
            )
            result.referral_ms = percentiles(
                [
                    (c.first_referral_at - c.completion_posted_at) * 1000
                    for c in cases
                    if c.first_referral_at and c.completion_posted_at
                ]
            )
            if lat.complete < len(lat.cases):
                result.problems.append(f"latency: {lat.complete} of {len(lat.cases)} cases completed")
        say(f"[{db}] manifest import: {args.manifest_size} people")
        result.manifest = await hooks.manifest_import(reception, driver, args.manifest_size)
        result.matching = await hooks.identity_matching(reception)
        all_ids = [c for c in observer.cases]
        extra = observer.extra_events(all_ids)
        if extra:
            kinds = ", ".join(f"{n} {kind}" for kind, n in extra.most_common())
            result.problems.append(
                f"{extra.total()} events beyond what the cases imply (a broken guarantee): {kinds}"
            )
        broken = sum(1 for c in observer.cases.values() if c.order_broken)
        if broken:
            result.problems.append(f"{broken} cases with assessment_completed before assessment_scheduled")
        if driver.errors:
            result.problems.append(f"HTTP errors: {dict(driver.errors)}")
        if observer.duplicates:
            say(f"[{db}] {observer.duplicates} records re-sent by an outbox relay (deduplicated)")
    finally:
        sampling.cancel()
        result.rss_mb = {n: v / 2**20 for n, v in rss_peak.items()}
        await driver.stop()
        await observer.stop()
        reception.close()
        assessment.close()
        say(f"[{db}] stopping the services")
        plat.stop()
        try:
            await drop_topics(kafka.bootstrap, prefix)
        except Exception as exc:  # a left-over topic costs later runs, never this one
            say(f"[{db}] could not drop the run's topics: {exc}")
        if db == "postgres" and postgres is not None and not args.keep_infra:
            for name in SERVICES:
                await asyncio.to_thread(postgres.dropdb, f"bench_{tag}_{name}")
    for problem in result.problems:
        say(f"[{db}] PROBLEM: {problem}")
    return result


async def sample_rss(plat: Platform, peak: dict[str, int]) -> None:
    while True:
        try:
            for name, rss in plat.rss().items():
                peak[name] = max(peak[name], rss)
        except psutil.Error:
            pass
        await asyncio.sleep(0.5)


def kafka_process(kafka: Kafka) -> psutil.Process | None:
    if kafka.state_dir is None:
        return None
    try:
        return psutil.Process(int((kafka.state_dir / "kafka.pid").read_text().strip()))
    except (OSError, ValueError, psutil.Error):
        return None


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return float(t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0))


def _busy() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe_machine() -> dict[str, Any]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": f"{os.cpu_count()} x {model}",
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "commit": commit or "?",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_start": load_average(),
    }


# ------------------------------------------------------------------------------------------ report


def verdict(value: float | None, goal: float, *, at_least: bool) -> str:
    if value is None:
        return "not measured"
    if at_least:
        if value >= goal:
            return "met"
        return f"NOT MET: {goal - value:,.1f} short ({value / goal * 100:.0f} % of the target)"
    if value <= goal:
        return "met"
    return f"NOT MET: {value - goal:,.1f} over ({value / goal:.1f} x the target)"


def render(
    machine: dict[str, Any],
    before: BareResult,
    after: BareResult,
    results: list[DbResult],
    args: argparse.Namespace,
) -> str:
    bare = (before.per_second + after.per_second) / 2
    lines = [
        "## Benchmark",
        "",
        f"Machine: {machine['cpu']}, {machine['memory_gb']} GB, {machine['os']}, Python {machine['python']}; "
        f"commit {machine['commit']}, {machine['date']}; load average at start {machine['load_start']}, "
        f"at end {machine['load_end']}.",
        "",
        f"Bare aiokafka loop (1 KB, acks=all, idempotent, manual commits): before {before.per_second:,.0f}, "
        f"after {after.per_second:,.0f} records/s; baseline = their mean, {bare:,.0f} records/s.",
        f"Platform: {args.cases} cases as fast as they go ({args.concurrency} arrival POSTs in flight), then "
        f"{args.rate:g} arrivals/s for {args.seconds:g} s; {EVENTS_PER_CASE} events per case; "
        f"{args.replicas} process(es) of each consumer service.",
        "",
    ]
    header = "| figure | " + " | ".join(r.database for r in results) + " | target |"
    lines += [header, "|---|" + "---|" * len(results) + "---|"]

    def row(name: str, cells: list[str], target: str = "") -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {target} |")

    tp = [r.throughput for r in results]
    row("cases/s end to end", [f"{p.cases_per_s:.1f}" if p else "-" for p in tp], f"≥ {TARGET_CASES:g}")
    row("events/s end to end", [f"{p.events_per_s:,.0f}" if p else "-" for p in tp])
    row(
        "events/s as % of the bare loop",
        [f"{p.events_per_s / bare * 100:.1f} %" if p and bare else "-" for p in tp],
        f"≥ {TARGET_SHARE:g} %",
    )
    for name in SERVICES:
        row(f"CPU ms per case: {name}", [f"{r.cpu_ms_per_case.get(name, 0):.1f}" for r in results])
    row(
        "CPU ms per case: all services",
        [f"{sum(r.cpu_ms_per_case.values()):.1f}" for r in results],
        f"≤ {TARGET_CPU_MS:g}",
    )
    row(
        "(Kafka broker CPU ms per case)",
        [
            f"{r.kafka_cpu_ms_per_case:.1f}" if r.kafka_cpu_ms_per_case is not None else "not measured"
            for r in results
        ],
    )
    row("(benchmark driver CPU ms per case)", [f"{r.driver_cpu_ms_per_case:.1f}" for r in results])
    if any(r.round_trips_per_case for r in results):
        for name in SERVICES:
            row(
                f"(PostgreSQL round trips per case: {name})",
                [round_trips.describe(r.round_trips_per_case.get(name)) for r in results],
            )
    row("(other load on the machine)", [f"{r.other_load_pct:.0f} % of its CPU" for r in results])
    for name in SERVICES:
        row(f"RSS MB: {name}", [f"{r.rss_mb.get(name, 0):.0f}" for r in results], f"≤ {TARGET_RSS_MB:g}")
    for label, attr in (
        ("POST → assessment_scheduled", "scheduled_ms"),
        ("completion → first referral_requested", "referral_ms"),
    ):
        for q in ("p50", "p95", "p99", "max"):
            cells = [f"{getattr(r, attr)[q]:,.0f} ms" if getattr(r, attr) else "-" for r in results]
            row(
                f"{label} {q} (at {args.rate:g}/s)",
                cells,
                f"≤ {TARGET_P99_MS:g} ms" if q == "p99" else "",
            )
    row(
        "manifest import",
        [_hook(r.manifest) for r in results],
        f"{args.manifest_size} people → first referrals ≤ {hooks.MANIFEST_TARGET_S:g} s",
    )
    row("identity matching 10k vs 1M", [_hook(r.matching) for r in results], "1M ≤ 2 x 10k")
    row("correctness", ["ok" if not r.problems else "; ".join(r.problems) for r in results])
    lines += ["", "### Targets", ""]
    for r in results:
        p = r.throughput
        checks = [
            ("≥ 100 cases/s", verdict(p.cases_per_s if p else None, TARGET_CASES, at_least=True)),
            (
                "≥ 30 % of the bare loop",
                verdict(p.events_per_s / bare * 100 if p and bare else None, TARGET_SHARE, at_least=True),
            ),
            (
                "≤ 10 ms service CPU per case",
                verdict(sum(r.cpu_ms_per_case.values()) or None, TARGET_CPU_MS, at_least=False),
            ),
            (
                "p99 POST → assessment_scheduled ≤ 500 ms",
                verdict(r.scheduled_ms.get("p99"), TARGET_P99_MS, at_least=False),
            ),
            (
                "p99 completion → first referral ≤ 500 ms",
                verdict(r.referral_ms.get("p99"), TARGET_P99_MS, at_least=False),
            ),
            (
                "≤ 150 MB RSS per service",
                verdict(max(r.rss_mb.values(), default=None), TARGET_RSS_MB, at_least=False),
            ),
            (
                f"{args.manifest_size}-person manifest → all first referrals ≤ {hooks.MANIFEST_TARGET_S:g} s",
                _manifest_verdict(r.manifest, args.manifest_size),
            ),
            ("identity matching 1M ≤ 2 x 10k", _hook(r.matching)),
        ]
        lines.append(f"- **{r.database}**: " + "; ".join(f"{name}: {v}" for name, v in checks))
    return "\n".join(lines) + "\n"


def _manifest_verdict(value: Any, size: int) -> str:
    if isinstance(value, dict) and "all first referrals in s" in value:
        return verdict(value["all first referrals in s"], hooks.MANIFEST_TARGET_S, at_least=False)
    if isinstance(value, dict):
        return f"NOT MET: {value.get('with first referral', 0):.0f} of {size} first referrals in time"
    return _hook(value)


def _hook(value: Any) -> str:
    if isinstance(value, hooks.Pending):
        return f"not measured ({value.reason})"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.1f}" for k, v in value.items())
    return "-"
