"""Drives the platform over HTTP like reception centres and case workers do, and watches Kafka.

Each case: ``POST /v1/arrivals`` at reception, then the person's consent (``POST
/v1/cases/{id}/consent``: referral to any agency, contact by the provider, follow-up contact — without
it referral holds the referrals awaiting consent); when ``assessment_scheduled`` appears on Kafka,
``POST /v1/assessments/{id}/completion`` with two needs (health and employment, which the sample
directory serves in HN-0501). A case is complete when its nine events were seen: arrival_registered,
consent_recorded, assessment_scheduled, assessment_completed, two referral_requested and three
followup_scheduled (after the arrival and after each referral). Every request carries a staff token. The observer also checks that no case got more than that and
that each case's assessment events are in order on their partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from aiokafka import AIOKafkaConsumer
from reintegra_contracts.topics import ASSESSMENT_EVENTS, FOLLOWUP_EVENTS, RECEPTION_EVENTS, REFERRAL_EVENTS

from .keepalive import Pool

NEEDS = [{"category": "health", "priority": "high"}, {"category": "employment", "priority": "medium"}]
CONSENT_SCOPES = [{"purpose": p} for p in ("referral", "contact_by_provider", "followup_contact")]
CONSENT: dict[str, object] = {"given_by": "self", "method": "written", "scopes": CONSENT_SCOPES}
"""The consent an adult gives at reception for the flow (referral to any agency, for any need)."""
EXPECTED: dict[str, int] = {
    "reception.arrival_registered": 1,
    "reception.consent_recorded": 1,
    "assessment.assessment_scheduled": 1,
    "assessment.assessment_completed": 1,
    "referral.referral_requested": len(NEEDS),
    "followup.followup_scheduled": 1 + len(NEEDS),
}
EVENTS_PER_CASE = sum(EXPECTED.values())
TOPICS = (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS, FOLLOWUP_EVENTS)


def short_type(ce_type: str) -> str:
    # org.reintegra.assessment.assessment_scheduled.v1 -> assessment.assessment_scheduled
    parts = ce_type.split(".")
    return ".".join(parts[2:-1])


@dataclass
class Case:
    posted_at: float | None = None
    scheduled_at: float | None = None
    assessment_id: str | None = None
    completion_posted_at: float | None = None
    first_referral_at: float | None = None
    done_at: float | None = None
    counts: Counter[str] = field(default_factory=Counter)
    effects: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, business key) -> events
    order_broken: bool = False


class Observer:
    """Reads the four event topics (no consumer group) and keeps what each case went through."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.consumer = AIOKafkaConsumer(
            *(prefix + t for t in TOPICS),
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            metadata_max_age_ms=1000,
        )
        self.cases: dict[str, Case] = {}
        self.event_ids: set[str] = set()
        self.duplicates = 0
        self.events = 0
        self.on_scheduled: asyncio.Queue[str] = asyncio.Queue()
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def case(self, case_id: str) -> Case:
        found = self.cases.get(case_id)
        if found is None:
            found = self.cases[case_id] = Case()
        return found

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self._see(record, now)
            if batches:
                self.changed.set()

    def _see(self, record: object, now: float) -> None:
        headers = dict(record.headers)  # type: ignore[attr-defined]
        event_id = headers["ce_id"].decode()
        if event_id in self.event_ids:
            self.duplicates += 1  # at-least-once delivery from the outbox: consumers deduplicate
            return
        self.event_ids.add(event_id)
        self.events += 1
        kind = short_type(headers["ce_type"].decode())
        case = self.case(record.key.decode())  # type: ignore[attr-defined]
        case.counts[kind] += 1
        case.effects[(kind, business_key(kind, record.value))] += 1  # type: ignore[attr-defined]
        if kind == "assessment.assessment_scheduled":
            case.scheduled_at = now
            case.assessment_id = json.loads(record.value)["assessment_id"]  # type: ignore[attr-defined]
            self.on_scheduled.put_nowait(record.key.decode())  # type: ignore[attr-defined]
        elif kind == "assessment.assessment_completed":
            if case.scheduled_at is None:
                case.order_broken = True
        elif kind == "referral.referral_requested" and case.first_referral_at is None:
            case.first_referral_at = now
        if case.done_at is None and all(case.counts[k] >= n for k, n in EXPECTED.items()):
            case.done_at = now

    def extra_events(self, case_ids: list[str]) -> Counter[str]:
        """Effects announced twice under different event ids, per kind: the same referral of a need
        (and attempt), the same follow-up (reason and referral), or a second event of a kind a case
        has once. A broken guarantee if any. (How many referrals a case gets depends on the person:
        an unaccompanied child's protection concern adds one, an unmatched need none.)"""
        extra: Counter[str] = Counter()
        for c in case_ids:
            if c in self.cases:
                for (kind, _), n in self.cases[c].effects.items():
                    extra[kind] += n - 1
        return +extra


def business_key(kind: str, value: bytes) -> str:
    """What makes an event of ``kind`` one effect: a referral's events are per referral (a requested
    one per need and attempt), a follow-up per reason and referral; any other kind once per case."""
    if kind in EXPECTED and kind not in KEYED:
        return ""
    data = json.loads(value)
    if kind == "referral.referral_requested":
        return f"{data['need_id']}/{data.get('attempt')}"
    if kind == "followup.followup_scheduled":
        return f"{data['reason']}/{data.get('referral_id')}"
    return str(data.get("referral_id") or data.get("followup_id") or "")


KEYED = {"referral.referral_requested", "followup.followup_scheduled"}


LETTERS = str.maketrans("0123456789", "ghijklmnop")


def arrival_body(run: str, i: int) -> dict[str, object]:
    # Names and birth dates differ from case to case: identical ones (as until 2026-11-27) made every
    # arrival an identity-matching candidate of every earlier one (decrypting up to 50 per key).
    n = uuid.uuid4().hex
    born = date(1960, 1, 1) + timedelta(days=int(n[20:28], 16) % 16_000)
    return {
        "manifest_ref": f"{run}-{i}",
        "person": {
            "given_names": n[:7].translate(LETTERS).capitalize(),
            "family_names": n[7:14].translate(LETTERS).capitalize(),
            "date_of_birth": born.isoformat(),
            "document_number": f"BENCH-{n[:16]}",
        },
        "sex": "female" if i % 2 else "male",
        "arrived_at": datetime.now(UTC).isoformat(),
        "port_of_entry": "HN-SAP",
        "reception_centre": "HN-CAMR-SPS",
        "country_of_return": "HN",
        "returned_from": "US",
        "return_type": "forced",
        "transport_mode": "air",
        "destination_municipality": "HN-0501",
    }


class Driver:
    """Posts arrivals and completes assessments as they are scheduled."""

    def __init__(self, observer: Observer, reception: Pool, assessment: Pool, run: str) -> None:
        self.observer = observer
        self.reception = reception
        self.assessment = assessment
        self.run = run
        self.sequence = 0
        self.errors: Counter[str] = Counter()
        self._completer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._completer = asyncio.create_task(self._complete_scheduled())

    async def stop(self) -> None:
        if self._completer is not None:
            self._completer.cancel()
        for task in list(self._inflight):
            task.cancel()

    async def post_arrival(self) -> str | None:
        self.sequence += 1
        body = arrival_body(self.run, self.sequence)
        sent = time.time()
        status, data = await self.reception.request("POST", "/v1/arrivals", body)
        if status not in (200, 201):
            self.errors[f"POST /v1/arrivals {status}"] += 1
            return None
        case_id = str(json.loads(data)["case_id"])
        self.observer.case(case_id).posted_at = sent
        await self.consent(case_id, CONSENT)
        return case_id

    async def consent(self, case_id: str, body: dict[str, object]) -> bool:
        """Record the person's consent at reception, as staff do right after registration."""
        status, _ = await self.reception.request("POST", f"/v1/cases/{case_id}/consent", body)
        if status != 201:
            self.errors[f"POST consent {status}"] += 1
        return status == 201

    async def _complete_scheduled(self) -> None:
        while True:
            case_id = await self.observer.on_scheduled.get()
            task = asyncio.create_task(self._complete(case_id))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _complete(self, case_id: str) -> None:
        case = self.observer.case(case_id)
        case.completion_posted_at = time.time()
        status, _ = await self.assessment.request(
            "POST", f"/v1/assessments/{case.assessment_id}/completion", {"needs": NEEDS}
        )
        if status != 200:
            self.errors[f"POST completion {status}"] += 1


@dataclass
class PhaseResult:
    cases: list[str]
    seconds: float
    complete: int
    events: int

    @property
    def cases_per_s(self) -> float:
        return self.complete / self.seconds if self.seconds else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def wait_complete(observer: Observer, case_ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(observer.cases[c].done_at is not None for c in case_ids if c in observer.cases) and all(
            c in observer.cases for c in case_ids
        ):
            return
        observer.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(observer.changed.wait(), timeout=1.0)


async def throughput(driver: Driver, cases: int, concurrency: int, timeout_s: float) -> PhaseResult:
    """As fast as it goes: ``cases`` arrivals posted by ``concurrency`` clients, until all complete."""
    started = time.time()
    queue = iter(range(cases))
    ids: list[str] = []

    async def client() -> None:
        for _ in queue:
            case_id = await driver.post_arrival()
            if case_id is not None:
                ids.append(case_id)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    await wait_complete(driver.observer, ids, timeout_s)
    return _result(driver.observer, ids, started)


async def steady(driver: Driver, rate: float, seconds: float, timeout_s: float) -> PhaseResult:
    """Open loop: one arrival every ``1/rate`` s for ``seconds``, whatever the answers take."""
    started = time.time()
    ids: list[str] = []
    tasks = []

    async def one() -> None:
        case_id = await driver.post_arrival()
        if case_id is not None:
            ids.append(case_id)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(int(rate * seconds)):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    await wait_complete(driver.observer, ids, timeout_s)
    return _result(driver.observer, ids, started)


def _result(observer: Observer, ids: list[str], started: float) -> PhaseResult:
    done = [observer.cases[c].done_at for c in ids if c in observer.cases]
    finished = [d for d in done if d is not None]
    end = max(finished) if finished else time.time()
    events = sum(sum(observer.cases[c].counts.values()) for c in ids if c in observer.cases)
    return PhaseResult(ids, end - started, len(finished), events)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}
