"""The fault storm: steady traffic while services are SIGKILLed and the broker and the database restart,
then the truth counted from the databases and the topics.

    uv run python bench/fault_storm.py                               # 5 minutes, 100 arrivals/s, 25 kills
    uv run python bench/fault_storm.py --seconds 60 --rate 10 --kills 8 --json storm.json

It starts a PRIVATE Kafka broker and a PRIVATE PostgreSQL cluster (free ports, folders under
``--workdir``; deploy/local/kafka.sh and postgres.sh with REINTEGRA_KAFKA_PORT/_DIR and
REINTEGRA_PG_PORT/_DIR), so that restarting them touches nothing else on the machine. The services of
the registry run as real processes, assessment and follow-up with a second replica.

The client does not jam: arrivals, assessment look-ups and completions have separate concurrency
limits; a request that meets a dead process or a restart is retried on a live replica, arrivals with
their manifest reference (reception answers the first case again) and completions by accepting "already
completed" after a retry. Faults: ``--kills`` SIGKILLs of random processes (each restarted), one broker
restart and one database restart. After the load, it waits until every outbox is published and every
consumer group has lag 0, then counts: accepted arrivals = cases = ``arrival_registered`` events, one
assessment and one post-arrival follow-up per case, one referral per need found, one check per referral
requested; and prints lost / duplicated per effect and, per fault, the time until the faulted part
answered again and until a new arrival went through end to end. Exit status 1 when anything was lost or
duplicated, an outbox was not drained or a consumer group did not catch up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _platform import Infra, Platform, header, read_topic, rows
from reintegra_contracts.topics import (
    ASSESSMENT_EVENTS,
    FOLLOWUP_EVENTS,
    RECEPTION_EVENTS,
    REFERRAL_EVENTS,
)

from tests.support import ServiceProcess, arrival_payload

NEEDS = ["employment", "health", "housing", "psychosocial_support", "legal_aid"]
CONSENT = {
    "given_by": "self",
    "method": "written",
    "scopes": [{"purpose": p} for p in ("referral", "contact_by_provider", "followup_contact")],
}
RETRYABLE = (httpx.TransportError, httpx.TimeoutException)
PATIENCE_S = 60.0


@dataclass
class Fault:
    kind: str  # sigkill | broker-restart | database-restart
    target: str
    at: float  # seconds since the start of the load
    back_after_s: float | None = None  # until the faulted part answered again
    end_to_end_after_s: float | None = None  # until an arrival accepted after it went all the way


@dataclass
class Traffic:
    offered: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # manifest_ref -> case_id
    accepted_at: dict[str, float] = field(default_factory=dict)  # case_id -> seconds since start
    completed: dict[str, int] = field(default_factory=dict)  # assessment_id -> needs sent
    gave_up: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)


class Client:
    """Arrivals and completions against whichever replica is alive, with limits per kind of request."""

    def __init__(self, platform: Platform, started: float, *, deadline_s: float) -> None:
        self.platform = platform
        self.started = started
        self.deadline_s = deadline_s
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0), headers=platform.headers)
        self.limits = {
            "arrival": asyncio.Semaphore(64),
            "lookup": asyncio.Semaphore(16),
            "completion": asyncio.Semaphore(16),
        }
        self.traffic = Traffic()

    def now(self) -> float:
        return time.monotonic() - self.started

    def _url(self, service: str) -> str | None:
        alive = self.platform.alive(service)
        return random.choice(alive).url if alive else None

    async def _call(
        self, kind: str, service: str, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        """One request, retried on a live replica until it is answered (not 5xx), for at most
        ``PATIENCE_S`` (a request is given up rather than queued for ever: the client never jams)."""
        delay = 0.2
        give_up_at = min(self.deadline_s, self.now() + PATIENCE_S)
        while self.now() < give_up_at:
            url = self._url(service)
            if url is not None:
                try:
                    async with self.limits[kind]:
                        if self.now() >= give_up_at:
                            break
                        response = await self.http.request(method, url + path, **kw)
                    if response.status_code < 500:
                        return response
                except RETRYABLE:
                    pass
            self.traffic.retries[kind] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        self.traffic.gave_up[kind] += 1
        return None

    async def arrival(self, n: int, complete: bool) -> None:
        ref = f"storm-{self.platform.tag}-{n}"
        body = arrival_payload(manifest_ref=ref, arrived_at="2026-11-20T14:05:00Z")
        response = await self._call("arrival", "reception", "POST", "/v1/arrivals", json=body)
        if response is None or response.status_code not in (200, 201):
            if response is not None:
                self.traffic.gave_up[f"arrival {response.status_code}"] += 1
            return
        case_id = response.json()["case_id"]
        self.traffic.accepted[ref] = case_id
        self.traffic.accepted_at.setdefault(case_id, self.now())
        if complete:
            # Referrals reach agencies only under consent (else they wait "awaiting consent").
            path = f"/v1/cases/{case_id}/consent"
            await self._call("arrival", "reception", "POST", path, json=CONSENT)
            await self.complete(case_id, n)

    async def complete(self, case_id: str, n: int) -> None:
        assessment_id = None
        delay = 0.3
        give_up_at = min(self.deadline_s, self.now() + 2 * PATIENCE_S)
        while assessment_id is None and self.now() < give_up_at:
            response = await self._call(
                "lookup", "assessment", "GET", "/v1/assessments", params={"case_id": case_id}
            )
            found = response.json() if response is not None and response.status_code == 200 else []
            if found:
                assessment_id = found[0]["assessment_id"]
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 3.0)
        if assessment_id is None:
            self.traffic.gave_up["lookup"] += 1
            return
        needs = [{"category": NEEDS[n % len(NEEDS)]}, {"category": NEEDS[(n + 2) % len(NEEDS)]}]
        path = f"/v1/assessments/{assessment_id}/completion"
        response = await self._call("completion", "assessment", "POST", path, json={"needs": needs})
        # 409 after a retry: the first attempt was completed before its answer was lost.
        if response is not None and response.status_code in (200, 409):
            self.traffic.completed[assessment_id] = len(needs)
        elif response is not None:
            self.traffic.gave_up[f"completion {response.status_code}"] += 1


async def drive(client: Client, seconds: float, rate: float, complete_share: float) -> None:
    tasks: set[asyncio.Task[None]] = set()
    n = 0
    while client.now() < seconds:
        due = int(client.now() * rate) + 1
        while n < due:
            task = asyncio.create_task(client.arrival(n, random.random() < complete_share))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.sleep(0.01)
    client.traffic.offered = n
    if tasks:
        await asyncio.gather(*tasks)


async def inject(platform: Platform, client: Client, seconds: float, kills: int, faults: list[Fault]) -> None:
    """SIGKILL random processes ``kills`` times, restart the broker and the database once each."""
    plan: list[tuple[float, str]] = [(seconds * (i + 0.5) / kills, "sigkill") for i in range(kills)]
    plan += [(seconds * 0.4, "broker-restart"), (seconds * 0.7, "database-restart")]
    running: set[asyncio.Task[None]] = set()
    restarting: set[int] = set()  # ports of processes being started again: not killed meanwhile

    async def restart(proc: ServiceProcess, fault: Fault) -> None:
        try:
            await asyncio.sleep(random.uniform(0.5, 2.0))
            await asyncio.to_thread(proc.start, 240.0)
            fault.back_after_s = round(client.now() - fault.at, 2)
        except Exception as exc:
            print(f"storm: {proc.name}:{proc.port} did not come back: {exc}", file=sys.stderr)
        finally:
            restarting.discard(proc.port)

    async def restart_infra(kind: str, fault: Fault) -> None:
        action = platform.infra.restart_kafka if kind == "broker-restart" else platform.infra.restart_postgres
        await asyncio.to_thread(action)
        fault.back_after_s = round(client.now() - fault.at, 2)

    def background(coro: Any) -> None:
        task = asyncio.create_task(coro)
        running.add(task)
        task.add_done_callback(running.discard)

    for at, kind in sorted(plan):
        await asyncio.sleep(max(0.0, at - client.now()))
        if kind == "sigkill":
            candidates = [
                p
                for p in platform.processes
                if p.proc is not None and p.proc.poll() is None and p.port not in restarting
            ]
            while not candidates:  # every process is being restarted: wait for one to be back
                await asyncio.sleep(0.5)
                candidates = [
                    p
                    for p in platform.processes
                    if p.proc is not None and p.proc.poll() is None and p.port not in restarting
                ]
            proc = random.choice(candidates)
            fault = Fault("sigkill", f"{proc.name}:{proc.port}", round(client.now(), 2))
            proc.kill()
            restarting.add(proc.port)
            background(restart(proc, fault))
        else:
            fault = Fault(kind, "kafka" if kind == "broker-restart" else "postgresql", round(client.now(), 2))
            background(restart_infra(kind, fault))
        faults.append(fault)
    while running:
        await asyncio.gather(*list(running))


async def count(
    platform: Platform, traffic: Traffic, faults: list[Fault], started_wall: float
) -> dict[str, Any]:
    """Count every effect from the databases and the topics."""
    bootstrap = platform.infra.kafka_bootstrap
    db = platform.db_urls
    answered = set(traffic.accepted.values())
    case_rows = await rows(db["reception"], "SELECT case_id, manifest_ref FROM cases")
    cases = Counter(str(r[0]) for r in case_rows)
    # An arrival committed whose answer the client never got (the process was killed after the
    # commit, and the client gave up): accepted by the platform all the same, found by its reference.
    ours = f"storm-{platform.tag}-"
    unanswered = {str(r[0]) for r in case_rows if (r[1] or "").startswith(ours)} - answered
    accepted = answered | unanswered
    assessments = {
        str(r[0]): (str(r[1]), r[2])
        for r in await rows(db["assessment"], "SELECT assessment_id, case_id, status FROM assessments")
    }
    assessments_per_case = Counter(case for case, _ in assessments.values())
    referrals = await rows(db["referral"], "SELECT referral_id, need_id, status FROM referrals")
    referrals_per_need = Counter(str(r[1]) for r in referrals)
    followups = await rows(
        db["followup"], "SELECT followup_id, case_id, reason, referral_id, status FROM followups"
    )
    post_arrival = Counter(str(r[1]) for r in followups if r[2] == "post_arrival")
    checks = Counter(str(r[3]) for r in followups if r[2] == "referral_check")

    topics = {
        t: await read_topic(bootstrap, platform.topic(t))
        for t in (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS, FOLLOWUP_EVENTS)
    }

    def events(topic: str, short: str) -> list[tuple[Any, dict[str, Any]]]:
        out = []
        for r in topics[topic]:
            if header(r, "ce_type") == f"org.reintegra.{short}.v1":
                out.append((r, json.loads(r.value)))
        return out

    def distinct(items: list[tuple[Any, dict[str, Any]]]) -> dict[str, tuple[Any, dict[str, Any]]]:
        by_id: dict[str, tuple[Any, dict[str, Any]]] = {}
        for r, data in items:
            by_id.setdefault(header(r, "ce_id") or "", (r, data))
        return by_id

    arrived = distinct(events(RECEPTION_EVENTS, "reception.arrival_registered"))
    arrived_per_case = Counter(data["case_id"] for _, data in arrived.values())
    scheduled = distinct(events(ASSESSMENT_EVENTS, "assessment.assessment_scheduled"))
    scheduled_per_case = Counter(data["case_id"] for _, data in scheduled.values())
    completed = distinct(events(ASSESSMENT_EVENTS, "assessment.assessment_completed"))
    completed_per_assessment = Counter(data["assessment_id"] for _, data in completed.values())
    needs = {n["need_id"] for _, data in completed.values() for n in data["needs"]}
    requested = distinct(events(REFERRAL_EVENTS, "referral.referral_requested"))
    requested_per_referral = Counter(data["referral_id"] for _, data in requested.values())
    fu_scheduled = distinct(events(FOLLOWUP_EVENTS, "followup.followup_scheduled"))
    fu_scheduled_per_followup = Counter(data["followup_id"] for _, data in fu_scheduled.values())
    completed_in_db = {a for a, (_, status) in assessments.items() if status == "completed"}
    requested_ids = {str(r[0]) for r in referrals if r[2] == "requested"}

    def tally(expected: set[str], seen: Counter[str]) -> dict[str, int]:
        return {
            "expected": len(expected),
            "lost": len(expected - set(seen)),
            "duplicated": sum(n - 1 for k, n in seen.items() if n > 1),
            "unexpected": len(set(seen) - expected),
        }

    effects = {
        "case (reception database)": tally(accepted, cases),
        "arrival_registered (topic, by ce_id)": tally(accepted, arrived_per_case),
        "assessment (database)": tally(accepted, assessments_per_case),
        "assessment_scheduled (topic)": tally(accepted, scheduled_per_case),
        "completion (database)": tally(set(traffic.completed), Counter(completed_in_db)),
        "assessment_completed (topic)": tally(set(traffic.completed), completed_per_assessment),
        "referral per need (database)": tally(needs, referrals_per_need),
        "referral_requested (topic)": tally(requested_ids, requested_per_referral),
        "post-arrival follow-up (database)": tally(accepted, post_arrival),
        "referral check (database)": tally(requested_ids, checks),
        "followup_scheduled (topic)": tally({str(r[0]) for r in followups}, fu_scheduled_per_followup),
    }
    waiting = sum(1 for r in followups if r[4] == "waiting_for_case")
    transport_duplicates = {t: len(rs) - len({header(r, "ce_id") for r in rs}) for t, rs in topics.items()}

    # Per fault: lost / duplicated among the arrivals accepted around it, and how long until an
    # arrival accepted after it had its assessment and its follow-up (record timestamps).
    done_at: dict[str, float] = {}
    for _, (r, data) in list(scheduled.items()) + list(fu_scheduled.items()):
        case = data["case_id"]
        t = r.timestamp / 1000 - started_wall
        if data.get("reason", "post_arrival") == "post_arrival":
            done_at[case] = max(done_at.get(case, 0.0), t)
    both = {c for c in accepted if scheduled_per_case.get(c) and post_arrival.get(c)}
    per_fault = []
    for fault in faults:
        after = [c for c, t in traffic.accepted_at.items() if t >= fault.at and c in both]
        if after:
            first = min(after, key=lambda c: traffic.accepted_at[c])
            fault.end_to_end_after_s = round(done_at.get(first, fault.at) - fault.at, 2)
        window = [
            c
            for c, t in traffic.accepted_at.items()
            if fault.at - 2 <= t <= fault.at + (fault.back_after_s or 0) + 2
        ]
        lost = sum(
            1 for c in window if not (assessments_per_case.get(c) and post_arrival.get(c) and cases.get(c))
        )
        duplicated = sum(
            1
            for c in window
            if assessments_per_case.get(c, 0) > 1 or post_arrival.get(c, 0) > 1 or cases.get(c, 0) > 1
        )
        per_fault.append(
            {**asdict(fault), "arrivals_around": len(window), "lost": lost, "duplicated": duplicated}
        )
    return {
        "unanswered": len(unanswered),
        "effects": effects,
        "waiting_for_case": waiting,
        "transport_duplicates": transport_duplicates,
        "faults": per_fault,
    }


async def storm(
    *,
    seconds: float,
    rate: float,
    kills: int,
    complete_share: float,
    workdir: Path,
    replicas: dict[str, int] | None = None,
    quiet_timeout_s: float = 300.0,
) -> dict[str, Any]:
    infra = await asyncio.to_thread(Infra.start_private, workdir)
    platform = Platform(infra)
    try:
        await platform.start(replicas if replicas is not None else {"assessment": 2, "followup": 2})
        started_wall, started = time.time(), time.monotonic()
        client = Client(platform, started, deadline_s=seconds + quiet_timeout_s / 2)
        faults: list[Fault] = []
        await asyncio.gather(
            drive(client, seconds, rate, complete_share), inject(platform, client, seconds, kills, faults)
        )
        load_s = client.now()
        # Every process is alive again (a kill near the end may still be restarting).
        for proc in platform.processes:
            if proc.proc is None or proc.proc.poll() is not None:
                await asyncio.to_thread(proc.start, 180.0)
        unpublished, lag, quiet_s = await platform.wait_quiet(quiet_timeout_s)
        await client.http.aclose()
        result = await count(platform, client.traffic, faults, started_wall)
        traffic = client.traffic
        result.update(
            {
                "seconds": seconds,
                "offered": traffic.offered,
                "offered_per_s": round(traffic.offered / seconds, 1),
                "accepted": len(traffic.accepted),
                "completions": len(traffic.completed),
                "gave_up": dict(traffic.gave_up),
                "retries": dict(traffic.retries),
                "load_s": round(load_s, 1),
                "quiet_after_s": round(quiet_s, 1),
                "unpublished": unpublished,
                "lag": lag,
                "kills": sum(1 for f in faults if f.kind == "sigkill"),
            }
        )
        bad = [k for k, e in result["effects"].items() if e["lost"] or e["duplicated"] or e["unexpected"]]
        result["ok"] = (
            not bad
            and not any(unpublished.values())
            and not any(lag.values())
            and result["waiting_for_case"] == 0
            and result["kills"] == kills  # every SIGKILL asked for was made (none skipped)
        )  # arrivals the client gave up on were never accepted: reported, not counted as lost
        return result
    finally:
        platform.stop()
        infra.stop()


def report(result: dict[str, Any]) -> str:
    lines = [
        f"offered {result['offered']} arrivals in {result['seconds']:.0f} s ({result['offered_per_s']}/s), "
        f"accepted {result['accepted']} (+{result['unanswered']} committed whose answer was lost), "
        f"completions {result['completions']}, SIGKILLs {result['kills']}; "
        f"quiet {result['quiet_after_s']} s after the load",
        f"{'effect':<40} {'expected':>9} {'lost':>6} {'dup':>6} {'unexp':>6}",
    ]
    for name, e in result["effects"].items():
        lines.append(
            f"{name:<40} {e['expected']:>9} {e['lost']:>6} {e['duplicated']:>6} {e['unexpected']:>6}"
        )
    lines.append(
        f"outbox rows unpublished: {result['unpublished']}; consumer lag: {result['lag']}; "
        f"checks still waiting for their case: {result['waiting_for_case']}"
    )
    lines.append(
        f"records re-sent by a relay after a crash (same ce_id, deduplicated): {result['transport_duplicates']}"
    )
    lines.append(f"client retries: {result['retries']}; gave up: {result['gave_up'] or 'none'}")
    lines.append(
        f"{'fault':<18} {'target':<18} {'at s':>7} {'back s':>7} {'e2e s':>7} {'around':>7} {'lost':>5} {'dup':>5}"
    )
    for f in result["faults"]:
        back = "-" if f["back_after_s"] is None else f"{f['back_after_s']:.1f}"
        e2e = "-" if f["end_to_end_after_s"] is None else f"{f['end_to_end_after_s']:.1f}"
        lines.append(
            f"{f['kind']:<18} {f['target']:<18} {f['at']:>7.1f} {back:>7} {e2e:>7} "
            f"{f['arrivals_around']:>7} {f['lost']:>5} {f['duplicated']:>5}"
        )
    lines.append("RESULT: " + ("0 lost, 0 duplicated" if result["ok"] else "FAILED (see above)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the load (default 300)")
    parser.add_argument("--rate", type=float, default=100.0, help="arrivals offered per second (default 100)")
    parser.add_argument("--kills", type=int, default=25, help="SIGKILLs of random processes (default 25)")
    parser.add_argument(
        "--complete-share", type=float, default=0.5, help="share of cases assessed (default 0.5)"
    )
    parser.add_argument("--workdir", type=Path, help="folder for the private broker, database and logs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the fault plan and the traffic")
    parser.add_argument(
        "--quiet-timeout", type=float, default=600.0, help="seconds to wait for lag 0 after the load"
    )
    args = parser.parse_args(argv)
    random.seed(args.seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="reintegra-storm-"))
    result = asyncio.run(
        storm(
            seconds=args.seconds,
            rate=args.rate,
            kills=args.kills,
            complete_share=args.complete_share,
            workdir=workdir,
            quiet_timeout_s=args.quiet_timeout,
        )
    )
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
