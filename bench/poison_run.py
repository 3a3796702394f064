"""The poison run: thousands of bad messages of every kind interleaved with good traffic.

    uv run python bench/poison_run.py                       # 10,000 bad messages over ~60 s
    uv run python bench/poison_run.py --bad 2000 --json poison.json

Kinds (round robin, shuffled): random bytes without headers; missing CloudEvents headers; unknown
event types; wrong data types; ~900 KB payloads; valid events under a wrong or missing Kafka key;
``referral_requested`` about cases no one registered; arrivals re-sent under a new ``ce_id``. Each bad
record carries a ``poison_id`` header so that it can be found again on the dead-letter topics.

Expected: no service process crashes (each runs from start to end); every record of a parking kind is
parked, with its reason, by every consumer group of its topic that reads that kind; an event about an
unknown case is held by rule (ADR 0060: a check waiting for its case, nothing published); a re-sent
arrival changes nothing (one assessment, one follow-up per case). Good arrivals go through meanwhile:
their end-to-end delay (accepted → assessment scheduled and first follow-up scheduled) is printed,
before and during the flood. Exit status 1 if an expectation fails.

By default it uses the broker and database of REINTEGRA_TEST_KAFKA_BOOTSTRAP / REINTEGRA_TEST_PG_URL
(its own topic prefix and databases, dropped at the end), else private ones (as the fault storm).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psutil
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import SPECS, Infra, Platform, header, read_topic, rows
from reintegra_contracts import encode
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_contracts.samples import example_of
from reintegra_contracts.topics import (
    ASSESSMENT_EVENTS,
    FOLLOWUP_EVENTS,
    RECEPTION_EVENTS,
    REFERRAL_EVENTS,
    dead_letter_topic,
)
from reintegra_kit.testing.auth import TestIssuer

from tests.support import arrival_payload

KINDS = (
    "random_bytes",
    "missing_headers",
    "unknown_type",
    "wrong_types",
    "huge_payload",
    "wrong_key",
    "unknown_case",
    "duplicate_new_id",
)
PARKING = {"random_bytes", "missing_headers", "unknown_type", "wrong_types", "huge_payload", "wrong_key"}
INPUT_TOPICS = (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS)


def readers(topic: str) -> list[str]:
    """The services whose consumer groups read ``topic``."""
    return [name for name, spec in SPECS.items() if topic in spec.consumes]


def arrival_event() -> ArrivalRegistered:
    return example_of(ArrivalRegistered).model_copy(update={"case_id": uuid4(), "returnee_id": uuid4()})


def bad_record(
    kind: str, n: int, resend: list[tuple[bytes, list[tuple[str, bytes]], bytes]]
) -> tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]:
    """(logical topic, key, value, headers) of the ``n``-th bad record of ``kind``."""
    tag = [("poison_id", f"{kind}:{n}".encode())]
    if kind == "random_bytes":
        topic = random.choice(INPUT_TOPICS)
        return topic, os.urandom(8), os.urandom(random.randint(1, 400)), tag
    if kind == "missing_headers":
        record = encode(arrival_event(), source="/reintegra/reception")
        dropped = random.choice(["ce_id", "ce_type", "ce_source", "ce_specversion"])
        return (
            RECEPTION_EVENTS,
            record.key,
            record.value,
            [h for h in record.headers if h[0] != dropped] + tag,
        )
    if kind == "unknown_type":
        record = encode(arrival_event(), source="/reintegra/reception")
        headers = [
            (k, b"org.reintegra.reception.teleported.v1" if k == "ce_type" else v) for k, v in record.headers
        ]
        return random.choice(INPUT_TOPICS), record.key, record.value, headers + tag
    if kind == "wrong_types":
        record = encode(arrival_event(), source="/reintegra/reception")
        data = json.loads(record.value)
        data[random.choice(["age", "arrived_at", "case_id", "vulnerabilities"])] = random.choice(
            ["thirty", 42.5, True, {"x": 1}]
        )
        return RECEPTION_EVENTS, record.key, json.dumps(data).encode(), list(record.headers) + tag
    if kind == "huge_payload":
        record = encode(arrival_event(), source="/reintegra/reception")
        return (
            RECEPTION_EVENTS,
            record.key,
            b'{"case_id": "' + b"x" * 900_000 + b'"}',
            list(record.headers) + tag,
        )
    if kind == "wrong_key":
        record = encode(arrival_event(), source="/reintegra/reception")
        key = None if n % 3 == 0 else str(uuid4()).encode()
        return RECEPTION_EVENTS, key, record.value, list(record.headers) + tag
    if kind == "unknown_case":
        event = example_of(ReferralRequested).model_copy(update={"case_id": uuid4(), "referral_id": uuid4()})
        record = encode(event, source="/reintegra/referral")
        return REFERRAL_EVENTS, record.key, record.value, list(record.headers) + tag
    if kind == "duplicate_new_id":
        key, headers, value = random.choice(resend)
        renamed = [(k, str(uuid4()).encode() if k == "ce_id" else v) for k, v in headers]
        return RECEPTION_EVENTS, key, value, renamed + tag
    raise ValueError(kind)


class Good:
    """Good arrivals over HTTP; their delay is read back from the topics' record timestamps."""

    def __init__(self, platform: Platform, issuer: TestIssuer) -> None:
        self.platform = platform
        # the services accept only bearer tokens: a reception staff member's, from the run's own issuer
        self.http = httpx.AsyncClient(timeout=30.0, headers=issuer.staff())
        self.accepted: dict[str, tuple[float, str]] = {}  # case_id -> (wall time accepted, phase)
        self.failed: Counter[str] = Counter()  # phase: error -> arrivals not accepted

    async def arrive(self, n: int, phase: str) -> None:
        url = random.choice(self.platform.alive("reception")).url
        body = arrival_payload(manifest_ref=f"poison-{self.platform.tag}-{n}")
        try:
            try:
                response = await self.http.post(f"{url}/v1/arrivals", json=body)
            except httpx.TransportError:  # e.g. a kept-alive connection the server just closed
                # sent again with its manifest reference: reception answers with the first case
                response = await self.http.post(f"{url}/v1/arrivals", json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:  # counted (and failing the run), not crashing it
            self.failed[f"{phase}: {type(exc).__name__}"] += 1
            return
        self.accepted[response.json()["case_id"]] = (time.time(), phase)

    async def steady(self, rate: float, seconds: float, phase: str, first: int) -> int:
        tasks, n, start = [], first, time.monotonic()
        while time.monotonic() - start < seconds:
            tasks.append(asyncio.create_task(self.arrive(n, phase)))
            n += 1
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
        return n


async def flood(platform: Platform, bad: int, seconds: float) -> dict[str, list[tuple[str, str]]]:
    """Produce ``bad`` bad records over ``seconds``; returns per kind the (topic, poison_id) sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", max_request_size=2_000_000, linger_ms=5
    )
    await producer.start()
    sent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # Arrivals processed before the flood, re-sent under new ids during it.
    resend = []
    for _ in range(20):
        record = encode(arrival_event(), source="/reintegra/reception")
        await producer.send_and_wait(
            platform.topic(RECEPTION_EVENTS), record.value, key=record.key, headers=list(record.headers)
        )
        resend.append((record.key, list(record.headers), record.value))
    plan = [KINDS[i % len(KINDS)] for i in range(bad)]
    random.shuffle(plan)
    start = time.monotonic()
    try:
        pending = []
        for i, kind in enumerate(plan):
            topic, key, value, headers = bad_record(kind, i, resend)
            pending.append(await producer.send(platform.topic(topic), value, key=key, headers=headers))
            sent[kind].append((topic, f"{kind}:{i}"))
            ahead = start + seconds * (i + 1) / len(plan) - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


class CpuShare:
    """Who used the machine's CPU from now on: each service, this run (the flood's producer and the
    good arrivals' client) and everything else (the broker, PostgreSQL, other load)."""

    def __init__(self, platform: Platform) -> None:
        self.started = time.monotonic()
        self.machine = self._machine()
        self.procs = {p.name: psutil.Process(p.proc.pid) for p in platform.processes if p.proc is not None}
        self.before = {name: self._cpu(proc) for name, proc in self.procs.items()}
        self.me = psutil.Process()
        self.me_before = self._cpu(self.me)

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        try:
            t = proc.cpu_times()
            return float(t.user + t.system + t.children_user + t.children_system)
        except psutil.Error:
            return 0.0

    @staticmethod
    def _machine() -> float:
        t = psutil.cpu_times()
        return float(t.user + t.system + t.nice + t.irq + t.softirq + getattr(t, "steal", 0.0))

    def seconds(self) -> dict[str, float]:
        out = {name: self._cpu(proc) - self.before[name] for name, proc in self.procs.items()}
        services = sum(out.values())
        run = self._cpu(self.me) - self.me_before
        busy = self._machine() - self.machine
        return {
            "available": (time.monotonic() - self.started) * (os.cpu_count() or 1),
            "machine busy": busy,
            "services": services,
            **{f"  {k}": v for k, v in out.items()},
            "this run (flood + client)": run,
            "everything else (broker, PostgreSQL, other)": max(0.0, busy - services - run),
        }


async def watch_lag(platform: Platform, peaks: dict[str, int], every_s: float = 5.0) -> None:
    """Each consumer group's lag (records not yet processed) every few seconds, printed as it goes;
    ``peaks`` keeps the highest seen per service: where the bad records pile up."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(every_s)
        try:
            lag = await platform.lag()
        except Exception as exc:  # a progress line, never the run's failure
            print(f"poison: lag not read: {exc!r}", file=sys.stderr, flush=True)
            continue
        for name, value in lag.items():
            peaks[name] = max(peaks.get(name, 0), value)
        line = ", ".join(f"{name} {value}" for name, value in lag.items())
        print(f"poison: {time.monotonic() - started:5.0f} s  lag: {line}", file=sys.stderr, flush=True)


def delays(good: Good, done: dict[str, float], phase: str) -> dict[str, float]:
    values = [done[c] - t for c, (t, p) in good.accepted.items() if p == phase and c in done]
    if not values:
        return {"n": 0}
    values.sort()
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 2),
        "p95_s": round(values[int(0.95 * (len(values) - 1))], 2),
        "max_s": round(values[-1], 2),
    }


async def poison_run(
    *, bad: int, seconds: float, good_rate: float, infra: Infra, quiet_timeout_s: float = 600.0
) -> dict[str, Any]:
    platform = Platform(infra)
    issuer = TestIssuer()
    try:
        secrets = {  # reception seals personal data under these; the run's own, thrown away after it
            "REINTEGRA_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "REINTEGRA_BLIND_INDEX_SECRET": base64.b64encode(os.urandom(32)).decode(),
        }
        await platform.start({}, **issuer.env(), **secrets)
        starts = {p.port: p.proc.pid for p in platform.processes if p.proc is not None}
        good = Good(platform, issuer)
        n = await good.steady(good_rate, 10, "before", 0)
        cpu = CpuShare(platform)
        flood_task = asyncio.create_task(flood(platform, bad, seconds))
        peaks: dict[str, int] = {}
        watch = asyncio.create_task(watch_lag(platform, peaks))
        await good.steady(good_rate, seconds, "during", n)
        sent = await flood_task
        cpu_during = cpu.seconds()
        unpublished, lag, quiet_s = await platform.wait_quiet(quiet_timeout_s)
        watch.cancel()
        await good.http.aclose()
        crashed = [
            f"{p.name}:{p.port}"
            for p in platform.processes
            if p.proc is None or p.proc.poll() is not None or starts.get(p.port) != p.proc.pid
        ]

        bootstrap = platform.infra.kafka_bootstrap
        parked: dict[str, dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )  # poison_id -> group -> reasons
        reasons: Counter[str] = Counter()
        for topic in INPUT_TOPICS:
            for r in await read_topic(bootstrap, dead_letter_topic(platform.topic(topic))):
                pid, group = header(r, "poison_id"), header(r, "reintegra_dlq_consumer_group") or "?"
                reason = header(r, "reintegra_dlq_reason") or ""
                if pid:
                    parked[pid][group].add(reason)
                    reasons[f"{pid.split(':')[0]}: {reason[:70]}"] += 1
        kinds: dict[str, dict[str, Any]] = {}
        for kind, items in sent.items():
            row: dict[str, Any] = {"sent": len(items)}
            if kind in PARKING:
                missing = 0
                for topic, pid in items:
                    # Every consumer group reading the topic parks it: these kinds fail the envelope,
                    # the type, the key or the data check of whichever reads them.
                    groups = {platform.group(s) for s in readers(topic)}
                    missing += len(groups - set(parked.get(pid, {})))
                row["parked_at_least_once"] = len(items) - sum(1 for _, pid in items if not parked.get(pid))
                row["parkings_missing"] = missing  # (record, reader) pairs not parked (yet)
            kinds[kind] = row
        waiting = await rows(
            platform.db_urls["followup"], "SELECT count(*) FROM followups WHERE status = 'waiting_for_case'"
        )
        kinds["unknown_case"]["held_waiting_for_case"] = int(waiting[0][0])
        per_case_assessments = await rows(
            platform.db_urls["assessment"],
            "SELECT case_id, count(*) FROM assessments GROUP BY case_id HAVING count(*) > 1",
        )
        per_case_followups = await rows(
            platform.db_urls["followup"],
            "SELECT business_key, count(*) FROM followups GROUP BY business_key HAVING count(*) > 1",
        )
        kinds["duplicate_new_id"]["extra_effects"] = len(per_case_assessments) + len(per_case_followups)

        done: dict[str, float] = {}
        seen: dict[str, set[str]] = defaultdict(set)
        for topic, short in (
            (ASSESSMENT_EVENTS, "assessment_scheduled"),
            (FOLLOWUP_EVENTS, "followup_scheduled"),
        ):
            for r in await read_topic(bootstrap, platform.topic(topic)):
                if (header(r, "ce_type") or "").endswith(f".{short}.v1"):
                    case = (r.key or b"").decode()
                    seen[case].add(short)
                    done[case] = max(done.get(case, 0.0), r.timestamp / 1000)
        complete = {c: t for c, t in done.items() if len(seen[c]) == 2}
        result: dict[str, Any] = {
            "bad": bad,
            "seconds": seconds,
            "good_rate": good_rate,
            "kinds": kinds,
            "reasons": dict(reasons.most_common(20)),
            "crashed": crashed,
            "good_before": delays(good, complete, "before"),
            "good_during": delays(good, complete, "during"),
            "good_lost": len(set(good.accepted) - set(complete)),
            "good_not_accepted": dict(good.failed),
            "unpublished": unpublished,
            "lag": lag,
            "quiet_after_s": round(quiet_s, 1),
            "peak_lag": peaks,
            "cpu_s_during_flood": cpu_during,
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
        result["ok"] = (
            not crashed
            and not result["good_lost"]
            and not result["good_not_accepted"]
            and all(k.get("parkings_missing", 0) == 0 for k in kinds.values())
            and kinds["unknown_case"]["held_waiting_for_case"] == kinds["unknown_case"]["sent"]
            and kinds["duplicate_new_id"]["extra_effects"] == 0
            and not any(unpublished.values())
            and not any(lag.values())
        )
        return result
    finally:
        platform.stop()
        await platform.drop_databases()
        issuer.stop()


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['bad']} bad records over {result['seconds']:.0f} s, good arrivals {result['good_rate']}/s"
    ]
    for kind, row in result["kinds"].items():
        lines.append(f"  {kind:<18} " + ", ".join(f"{k} {v}" for k, v in row.items()))
    lines.append("most frequent reasons on the dead-letter topics:")
    lines += [f"  {n:>6}  {reason}" for reason, n in result["reasons"].items()]
    lines.append(f"crashed processes: {result['crashed'] or 'none'}")
    lines.append(f"good arrivals, end-to-end delay before the flood: {result['good_before']}")
    lines.append(
        f"good arrivals, end-to-end delay during the flood: {result['good_during']}; lost: {result['good_lost']}"
    )
    lines.append(
        f"good arrivals not accepted (HTTP error or time-out): {result['good_not_accepted'] or 'none'}"
    )
    lines.append(
        f"outbox unpublished: {result['unpublished']}; consumer lag: {result['lag']}; quiet {result['quiet_after_s']} s after"
    )
    lines.append(f"highest consumer lag seen during the run: {result['peak_lag']}")
    cpu = result["cpu_s_during_flood"]
    lines.append(
        f"CPU seconds used while the flood lasted ({cpu['available']:.0f} available on {result['cpus']} CPUs): "
        + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if k != "available")
    )
    lines.append(
        f"machine: {result['cpus']} CPUs, load average (1, 5, 15 min) at the end {result['load_average']}"
    )
    lines.append("RESULT: " + ("ok" if result["ok"] else "FAILED (see above)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bad", type=int, default=10_000, help="bad records (default 10,000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the flood (default 60)")
    parser.add_argument("--good-rate", type=float, default=5.0, help="good arrivals per second (default 5)")
    parser.add_argument("--private", action="store_true", help="start a private broker and database")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    random.seed(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="reintegra-poison-"))
    bootstrap, pg = os.environ.get("REINTEGRA_TEST_KAFKA_BOOTSTRAP"), os.environ.get("REINTEGRA_TEST_PG_URL")
    infra = (
        Infra.given(workdir, bootstrap, pg)
        if bootstrap and pg and not args.private
        else Infra.start_private(workdir)
    )
    try:
        result = asyncio.run(
            poison_run(bad=args.bad, seconds=args.seconds, good_rate=args.good_rate, infra=infra)
        )
    finally:
        infra.stop()
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
