"""Plays a synthetic flight against the running services over HTTP and shows what happened."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from reintegra_contracts.codelists import Priority
from reintegra_kit.auth.issuing import SigningKey, access_token_claims
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from . import issuer
from .processes import find_repo_root, services
from .scenario import (
    RECEPTION_CENTRE,
    WITHHELD_SHARING,
    Flight,
    Returnee,
    announcement,
    consent_body,
    holding_back,
    manifest_csv,
    manifest_defaults,
    manifest_row,
)

PHASE_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.5
WRITE_CONCURRENCY = 8
READ_CONCURRENCY = 16
PRIORITY_ORDER = [p.value for p in Priority]  # urgent, high, medium, low

T = TypeVar("T")


class DemoError(Exception):
    """The scenario could not be played; the message says what is missing or wrong."""


@dataclass
class CaseRun:
    """What happened to one returnee of the flight."""

    returnee: Returnee
    case: dict[str, Any] = field(default_factory=dict)
    created: bool = False
    assessment: dict[str, Any] | None = None
    completed_now: bool = False
    referrals: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    matching: str | None = None
    """What identity matching decided at import: new, link (a repeat return found) or review."""
    consent: dict[str, Any] | None = None
    """The case's consent as reception shows it (``GET /v1/cases/{id}/consent``) after the demo gave it."""
    consent_recorded_now: bool = False
    awaiting_in_queue: list[dict[str, Any]] = field(default_factory=list)
    """The case's referrals in referral's queue of those awaiting consent (``GET /v1/awaiting-consent``)."""

    @property
    def case_id(self) -> str:
        return str(self.case["case_id"])

    @property
    def short_id(self) -> str:
        return self.case_id[:8]

    @property
    def expected_referrals(self) -> int:
        return len((self.assessment or {}).get("needs") or [])

    @property
    def expected_followups(self) -> int:
        """One post-arrival contact, plus a check for each referral sent to a service."""
        return 1 + sum(1 for r in self.referrals if r.get("status") == "requested")

    @property
    def priority(self) -> str:
        return str((self.assessment or {}).get("priority") or "low")

    @property
    def referral_categories(self) -> set[str]:
        """The kinds of service reception says the person's consent allows referring them to now (an
        empty list of categories in a scope means every kind: ``*``)."""
        found: set[str] = set()
        for scope in (self.consent or {}).get("allows", []):
            if scope["purpose"] in ("referral", "share_with_provider"):
                found.update(scope["service_categories"] or ["*"])
        return found

    @property
    def allowed_purposes(self) -> set[str]:
        """The purposes reception says the case's consent allows now."""
        return {scope["purpose"] for scope in (self.consent or {}).get("allows", [])}

    @property
    def agreed_only_to_assessment_and_followup(self) -> bool:
        return self.allowed_purposes == {p.value for p in WITHHELD_SHARING}

    @property
    def gave_consent_by(self) -> str | None:
        """Who gave the case's (first) consent, as reception recorded it."""
        records = [r for r in (self.consent or {}).get("records", []) if r["basis"] == "consent"]
        return str(records[0]["given_by"]) if records else None

    def awaiting_consent(self) -> list[dict[str, Any]]:
        return [r for r in self.referrals if r.get("status") == "awaiting_consent"]

    def consent_covers(self, referral: dict[str, Any]) -> bool:
        allowed = self.referral_categories
        return "*" in allowed or referral.get("category") in allowed


@dataclass(frozen=True)
class Urls:
    reception: str
    assessment: str
    referral: str
    followup: str

    @classmethod
    def default(cls) -> Urls:
        return cls(**{s.name: s.base_url for s in services()})


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<42}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _bounded(limit: int, items: Sequence[T], work: Callable[[T], Awaitable[None]]) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> None:
        async with semaphore:
            await work(item)

    await asyncio.gather(*(one(item) for item in items))


def _unreachable(name: str, url: str, exc: Exception) -> DemoError:
    return DemoError(
        f"{name} is not reachable at {url} ({type(exc).__name__}: {exc}); is the platform running? "
        f"(`bash scripts/run.sh` starts it; `bash scripts/run.sh status` tells)"
    )


async def _json(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise DemoError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


DEMO_ROLES = ("reception_officer", "case_worker", "referral_coordinator")
"""The demo plays the staff of the reception centre: registers, records consent, assesses, follows the
referrals."""

CHILD_PROTECTION_AGENCY = "hn-senaf"
"""Honduras's child-protection authority: its protection officer records the consent for a child who
travels without a parent or guardian (reception's rule)."""


def _bearer(
    subject: str,
    roles: Sequence[str],
    *,
    centre: str | None = None,
    country: str | None = None,
    agency: str | None = None,
) -> dict[str, str]:
    """A bearer token of the local issuer (the key in ``.local/issuer/``, as ``reintegra-stack token``
    signs): the services verify it like any provider's token."""
    key = SigningKey.load_or_create(issuer.key_file(find_repo_root()))
    claims = access_token_claims(
        issuer=issuer.issuer_url(),
        audience=issuer.AUDIENCE,
        subject=subject,
        roles=roles,
        centre=centre,
        country=country,
        agency=agency,
        ttl_s=3600,
    )
    return {"Authorization": f"Bearer {key.sign(claims)}"}


def staff_headers(centre: str = RECEPTION_CENTRE, country: str = "HN") -> dict[str, str]:
    """A token for the centre's staff (:data:`DEMO_ROLES` at ``centre``)."""
    return _bearer("reintegra-demo", DEMO_ROLES, centre=centre, country=country)


def authority_headers(country: str = "HN", agency: str = CHILD_PROTECTION_AGENCY) -> dict[str, str]:
    """A token for the child-protection authority's protection officer (own country)."""
    return _bearer("reintegra-demo-protection", ("protection_officer",), country=country, agency=agency)


async def play(
    flight: Flight,
    console: Console,
    urls: Urls | None = None,
    headers: dict[str, str] | None = None,
    authority: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[CaseRun]:
    """Register the flight, record each person's consent, wait for assessments, complete them, wait
    for referrals and follow-ups — as the centre's staff (``headers``: a token of the local issuer
    unless given) and, for children alone, the child-protection authority (``authority``)."""
    urls = urls or Urls.default()
    runs = [CaseRun(r) for r in flight.returnees]
    timeout = httpx.Timeout(15.0, connect=5.0)
    limits = httpx.Limits(max_connections=32)
    auth = headers if headers is not None else staff_headers()
    officer = authority if authority is not None else authority_headers()
    async with httpx.AsyncClient(timeout=timeout, limits=limits, headers=auth, transport=transport) as client:
        with _progress(console) as progress:
            await _earlier(client, urls, flight, progress)
            announcement_id = await _announce(client, urls, flight, progress)
            await _import_manifest(client, urls, flight, runs, announcement_id, progress)
            await _record_consents(client, urls, flight, runs, officer, progress)
            await _await_assessments(client, urls, runs, progress)
            await _complete(client, urls, runs, progress)
            await _await_referrals(client, urls, runs, progress)
            await _read_awaiting_consent(client, urls, runs)
    return runs


async def _earlier(client: httpx.AsyncClient, urls: Urls, flight: Flight, progress: Progress) -> None:
    """The earlier returns of the flight's repeat returners, registered when they happened (months ago)."""
    task = progress.add_task("0/7 Earlier returns (months ago)", total=len(flight.earlier))
    for body in flight.earlier:
        try:
            response = await client.post(f"{urls.reception}/v1/arrivals", json=body)
        except httpx.TransportError as exc:
            raise _unreachable("reception", urls.reception, exc) from exc
        await _json(response, "POST /v1/arrivals (an earlier return)")
        progress.advance(task)


async def _announce(client: httpx.AsyncClient, urls: Urls, flight: Flight, progress: Progress) -> str:
    """The consulate announces the flight the day before (the same flight: the same announcement)."""
    task = progress.add_task("1/7 Flight announced by the consulate", total=1)
    body = {**announcement(flight), "announcement_id": str(uuid.uuid5(uuid.NAMESPACE_URL, flight.flight_ref))}
    try:
        response = await client.post(f"{urls.reception}/v1/announcements", json=body)
    except httpx.TransportError as exc:
        raise _unreachable("reception", urls.reception, exc) from exc
    found = await _json(response, "POST /v1/announcements")
    progress.advance(task)
    return str(found["announcement_id"])


async def _import_manifest(
    client: httpx.AsyncClient,
    urls: Urls,
    flight: Flight,
    runs: list[CaseRun],
    announcement_id: str,
    progress: Progress,
) -> None:
    """The flight lands: its manifest (CSV) is registered in one request, matched against the
    announcement and against everybody reception knows."""
    task = progress.add_task("2/7 Importing the flight manifest", total=len(runs))
    data = manifest_csv([manifest_row(r.returnee) for r in runs])
    started = time.monotonic()
    try:
        response = await client.post(
            f"{urls.reception}/v1/manifests",
            content=data,
            params=manifest_defaults(flight, announcement_id),
            headers={"content-type": "text/csv"},
        )
    except httpx.TransportError as exc:
        raise _unreachable("reception", urls.reception, exc) from exc
    report = await _json(response, "POST /v1/manifests")
    if report["errors"]:
        raise DemoError(f"reception refused manifest lines: {report['errors'][:5]}")
    elapsed = time.monotonic() - started
    by_line = {c["line"]: c for c in report["cases"]}

    async def fetch(pair: tuple[int, CaseRun]) -> None:
        line, run = pair
        found = by_line[line]
        response = await client.get(f"{urls.reception}/v1/cases/{found['case_id']}")
        run.case = await _json(response, "GET /v1/cases/{id}")
        run.created = bool(found["created"])
        run.matching = found["matching"]
        progress.advance(task)

    # The manifest's lines are the runs in order; the header is line 1.
    await _bounded(READ_CONCURRENCY, [(i + 2, run) for i, run in enumerate(runs)], fetch)
    status = await _json(
        await client.get(f"{urls.reception}/v1/announcements/{announcement_id}"), "GET /v1/announcements/{id}"
    )
    progress.console.print(
        f"[green]✓[/] manifest of {len(runs)} registered in {elapsed:.2f} s "
        f"({report['registered']} new, {report['already_registered']} already registered); "
        f"repeat returns found by matching: {report['repeat_returns']}, sent to review: {report['reviews']}; "
        f"announcement: {status['arrived']} arrived, {status['not_arrived']} announced but not on board, "
        f"{len(status['unannounced_case_ids'])} unannounced"
    )


async def _record_consents(
    client: httpx.AsyncClient,
    urls: Urls,
    flight: Flight,
    runs: list[CaseRun],
    authority: dict[str, str],
    progress: Progress,
) -> None:
    """Each person is told, in their language, what the platform will do with their case, and
    consents (a parent for their child; SENAF's protection officer for a child alone), at reception,
    right after registration. One adult agrees only to the assessment and to follow-up contact.

    A case that already has a consent (the same flight played again) keeps it; what reception shows
    (``GET /v1/cases/{id}/consent``) is what the summary reports."""
    task = progress.add_task("3/7 Consent recorded at reception", total=len(runs))
    holder = holding_back(flight)

    async def one(run: CaseRun) -> None:
        url = f"{urls.reception}/v1/cases/{run.case_id}/consent"
        try:
            current = await _json(await client.get(url), f"GET /v1/cases/{run.short_id}…/consent")
            if not any(r["basis"] == "consent" for r in current["records"]):
                body = consent_body(run.returnee, run.case, shares=run.returnee is not holder)
                by_authority = body["given_by"] == "child_protection_authority"
                response = await client.post(url, json=body, headers=authority if by_authority else None)
                current = await _json(response, f"POST /v1/cases/{run.short_id}…/consent")
                run.consent_recorded_now = True
        except httpx.TransportError as exc:
            raise _unreachable("reception", urls.reception, exc) from exc
        run.consent = current
        progress.advance(task)

    await _bounded(WRITE_CONCURRENCY, runs, one)
    givers = Counter(r.gave_consent_by for r in runs if r.gave_consent_by)
    withheld = [r for r in runs if r.agreed_only_to_assessment_and_followup]
    now = sum(r.consent_recorded_now for r in runs)
    progress.console.print(
        f"[green]✓[/] consent recorded at reception for {sum(givers.values())} of {len(runs)} people "
        f"({now} now, {len(runs) - now} earlier): "
        + ", ".join(f"{count} by {GIVERS.get(g, g)}" for g, count in givers.most_common())
        + (
            f"; {len(withheld)} agreed only to the assessment and follow-up contact ("
            + ", ".join(f"case {r.short_id}" for r in withheld[:5])
            + "): their referrals will wait for consent"
            if withheld
            else ""
        )
    )


GIVERS = {
    "self": "the person",
    "guardian": "a parent or guardian",
    "child_protection_authority": "the child-protection authority",
    "legal_representative": "a legal representative",
}


async def _poll(
    progress: Progress,
    task: TaskID,
    runs: list[CaseRun],
    check: Callable[[CaseRun], Awaitable[bool]],
    timeout_s: float,
) -> list[CaseRun]:
    """Call ``check`` on each pending case until all pass or time runs out; return those still pending."""
    pending = list(runs)
    deadline = time.monotonic() + timeout_s
    while pending:
        done: list[CaseRun] = []

        async def one(run: CaseRun, done: list[CaseRun] = done) -> None:
            if await check(run):
                done.append(run)

        await _bounded(READ_CONCURRENCY, pending, one)
        pending = [r for r in pending if r not in done]
        progress.update(task, completed=len(runs) - len(pending))
        if not pending or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    return pending


async def _get_list(client: httpx.AsyncClient, name: str, base: str, path: str, case_id: str) -> list[Any]:
    try:
        response = await client.get(f"{base}{path}", params={"case_id": case_id})
    except httpx.TransportError as exc:
        raise _unreachable(name, base, exc) from exc
    found = await _json(response, f"GET {path}?case_id={case_id}")
    return list(found)


async def _await_assessments(
    client: httpx.AsyncClient, urls: Urls, runs: list[CaseRun], progress: Progress
) -> None:
    task = progress.add_task("4/7 Waiting for assessments to be scheduled", total=len(runs))

    async def scheduled(run: CaseRun) -> bool:
        found = await _get_list(client, "assessment", urls.assessment, "/v1/assessments", run.case_id)
        if found:
            run.assessment = found[0]
        return bool(found)

    started = time.monotonic()
    missing = await _poll(progress, task, runs, scheduled, PHASE_TIMEOUT_S)
    if missing:
        raise DemoError(
            f"after {PHASE_TIMEOUT_S:.0f} s, {len(missing)} of {len(runs)} cases still have no assessment "
            f"(assessment consumes arrival_registered from Kafka; see .local/logs/assessment.log and "
            f"reception.log): " + ", ".join(r.short_id for r in missing[:20])
        )
    progress.console.print(
        f"[green]✓[/] {len(runs)} assessments scheduled by the assessment service "
        f"(via Kafka) within {time.monotonic() - started:.1f} s"
    )


async def _complete(client: httpx.AsyncClient, urls: Urls, runs: list[CaseRun], progress: Progress) -> None:
    task = progress.add_task("5/7 Assessing (case worker interviews)", total=len(runs))

    async def complete(run: CaseRun) -> None:
        assert run.assessment is not None
        if run.assessment.get("status") != "completed":
            url = f"{urls.assessment}/v1/assessments/{run.assessment['assessment_id']}/completion"
            try:
                response = await client.post(url, json=run.returnee.completion())
            except httpx.TransportError as exc:
                raise _unreachable("assessment", urls.assessment, exc) from exc
            if response.status_code == 409:  # completed meanwhile (e.g. a re-run): read it back
                found = await _get_list(client, "assessment", urls.assessment, "/v1/assessments", run.case_id)
                run.assessment = found[0]
            else:
                run.assessment = await _json(response, f"POST {url}")
                run.completed_now = True
        progress.advance(task)

    await _bounded(WRITE_CONCURRENCY, runs, complete)
    now = sum(r.completed_now for r in runs)
    needs = sum(r.expected_referrals for r in runs)
    progress.console.print(
        f"[green]✓[/] {len(runs)} assessments completed ({now} now, {len(runs) - now} earlier), "
        f"{needs} needs found"
    )


async def _await_referrals(
    client: httpx.AsyncClient, urls: Urls, runs: list[CaseRun], progress: Progress
) -> None:
    task = progress.add_task("6/7 Waiting for referrals and follow-ups", total=len(runs))

    async def settled(run: CaseRun) -> bool:
        run.referrals = await _get_list(client, "referral", urls.referral, "/v1/referrals", run.case_id)
        run.followups = await _get_list(client, "followup", urls.followup, "/v1/followups", run.case_id)
        # A referral made before referral read the consent waits until it does, then goes.
        released = not any(run.consent_covers(r) for r in run.awaiting_consent())
        return (
            len(run.referrals) >= run.expected_referrals
            and len(run.followups) >= run.expected_followups
            and released
        )

    started = time.monotonic()
    missing = await _poll(progress, task, runs, settled, PHASE_TIMEOUT_S)
    if missing:
        detail = "\n  ".join(
            f"case {r.short_id}: {len(r.referrals)}/{r.expected_referrals} referrals "
            f"({sum(r.consent_covers(x) for x in r.awaiting_consent())} consented to still awaiting consent), "
            f"{len(r.followups)}/{r.expected_followups} follow-ups"
            for r in missing[:15]
        )
        raise DemoError(
            f"after {PHASE_TIMEOUT_S:.0f} s, {len(missing)} of {len(runs)} cases lack referrals or follow-ups "
            f"(see .local/logs/referral.log and followup.log):\n  {detail}"
        )
    progress.console.print(
        f"[green]✓[/] {sum(len(r.referrals) for r in runs)} referrals and "
        f"{sum(len(r.followups) for r in runs)} follow-ups in place within {time.monotonic() - started:.1f} s"
    )


AWAITING_PAGE = 500


async def _read_awaiting_consent(client: httpx.AsyncClient, urls: Urls, runs: list[CaseRun]) -> None:
    """Referral's queue of referrals held for consent (``GET /v1/awaiting-consent``), kept on the runs
    of this flight (``awaiting_in_queue``) so that the summary reports what referral lists, not what
    the demo expects."""
    ours = {r.case_id: r for r in runs}
    for run in runs:
        run.awaiting_in_queue = []
    offset = 0
    while True:
        try:
            response = await client.get(
                f"{urls.referral}/v1/awaiting-consent", params={"limit": AWAITING_PAGE, "offset": offset}
            )
        except httpx.TransportError as exc:
            raise _unreachable("referral", urls.referral, exc) from exc
        page = await _json(response, "GET /v1/awaiting-consent")
        for item in page["items"]:
            found = ours.get(str(item["case_id"]))
            if found is not None:
                found.awaiting_in_queue.append(item)
        offset += len(page["items"])
        if not page["items"] or offset >= page["count"]:
            return


# ------------------------------------------------------------------------------------------ report


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative(moment: datetime, now: datetime) -> str:
    """``in 29 s``, ``in 3 min``, ``in 89 d``, ``12 s ago``."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 90:
        amount = f"{size:.0f} s"
    elif size < 90 * 60:
        amount = f"{size / 60:.0f} min"
    elif size < 48 * 3600:
        amount = f"{size / 3600:.0f} h"
    else:
        amount = f"{size / 86400:.0f} d"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1)."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(len(ordered), rank) - 1]


def _referral_text(referral: dict[str, Any]) -> str:
    if referral.get("status") == "unmatched" or not referral.get("agency_id"):
        return f"{referral['category']}: no service"
    if referral.get("status") == "awaiting_consent":
        return f"{referral['category']}→{referral['agency_id']} (awaiting consent)"
    return f"{referral['category']}→{referral['agency_id']} ✓"


def _next_followup(run: CaseRun, now: datetime) -> str:
    scheduled = sorted(_parse(f["due_at"]) for f in run.followups if f.get("status") == "scheduled")
    due = sum(1 for f in run.followups if f.get("status") == "due")
    parts = [relative(scheduled[0], now)] if scheduled else []
    if due:
        parts.append(f"{due} due")
    return ", ".join(parts) or "-"


def _group(run: CaseRun, families: Counter[str]) -> str:
    ref = run.returnee.family_group_ref
    if ref:
        return f"{run.returnee.family_label} ({families[ref]})"
    if "unaccompanied_child" in run.case.get("vulnerabilities", []):
        return "alone (child)"
    return "alone"


def _return(run: CaseRun) -> str:
    """``repeat (2)`` for a repeat return found by matching, ``review?`` when a person must decide."""
    earlier = int(run.case.get("previous_returns") or 0)
    if earlier:
        return f"repeat ({earlier + 1})"
    return "review?" if run.matching == "review" else "first"


def case_table(runs: Sequence[CaseRun], now: datetime) -> Table:
    families = Counter(r.returnee.family_group_ref for r in runs if r.returnee.family_group_ref)
    table = Table(title="Cases of the flight (most urgent first)", title_justify="left", expand=False)
    table.add_column("case", no_wrap=True)
    table.add_column("age/sex", no_wrap=True)
    table.add_column("group")
    table.add_column("return", no_wrap=True)
    table.add_column("vulnerabilities")
    table.add_column("priority", no_wrap=True)
    table.add_column("referrals")
    table.add_column("next follow-up", no_wrap=True)
    ordered = sorted(runs, key=lambda r: (PRIORITY_ORDER.index(r.priority), r.returnee.line))
    for run in ordered:
        table.add_row(
            run.short_id,
            f"{run.case.get('age', run.returnee.age)} {run.returnee.sex[0].upper()}",
            _group(run, families),
            _return(run),
            ", ".join(run.case.get("vulnerabilities", [])) or "-",
            run.priority,
            "\n".join(_referral_text(r) for r in run.referrals) or "-",
            _next_followup(run, now),
        )
    return table


def summary_panel(flight: Flight, runs: Sequence[CaseRun], now: datetime) -> Panel:
    persons = len(runs)
    families = {r.returnee.family_group_ref for r in runs if r.returnee.family_group_ref}
    unaccompanied = sum("unaccompanied_child" in r.case.get("vulnerabilities", []) for r in runs)
    separated = sum("separated_child" in r.case.get("vulnerabilities", []) for r in runs)
    completed = sum((r.assessment or {}).get("status") == "completed" for r in runs)
    by_priority = Counter(r.priority for r in runs)
    requested: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    held: Counter[str] = Counter()
    agencies: dict[str, set[str]] = {}
    for run in runs:
        for ref in run.referrals:
            if ref.get("status") == "unmatched":
                unmatched[ref["category"]] += 1
            elif ref.get("status") == "awaiting_consent":
                held[ref["category"]] += 1
            else:
                requested[ref["category"]] += 1
                agencies.setdefault(ref["category"], set()).add(str(ref.get("agency_id")))
    followups = [f for r in runs for f in r.followups]
    f_status = Counter(f.get("status") for f in followups)
    f_reason = Counter(f.get("reason") for f in followups)
    delays = []
    for run in runs:
        if run.referrals and run.case.get("registered_at"):
            first = min(_parse(r["requested_at"]) for r in run.referrals)
            delays.append((first - _parse(run.case["registered_at"])).total_seconds())

    men = sum(r.returnee.sex == "male" and r.returnee.age >= 18 for r in runs)
    women = sum(r.returnee.sex == "female" and r.returnee.age >= 18 for r in runs)
    children = sum(r.returnee.age < 18 for r in runs)
    lines = [
        f"Flight {flight.flight_ref}: {RETURN_ROUTE}, landed {relative(flight.arrived_at, now)} "
        f"({flight.arrived_at:%Y-%m-%d %H:%M} UTC)",
        f"Persons: {persons} ({men} men, {women} women, {children} children) · families: {len(families)} · "
        f"unaccompanied children: {unaccompanied} · separated: {separated} · repeat returns found by "
        f"matching: {sum(bool(r.case.get('is_repeat_return')) for r in runs)} "
        f"(+{sum(r.matching == 'review' for r in runs)} for a person to review)",
        f"Assessments completed: {completed}/{persons} · priority: "
        + ", ".join(f"{p} {by_priority[p]}" for p in PRIORITY_ORDER if by_priority[p]),
        consent_line(runs),
        f"Referrals: {sum(requested.values())} shared with an agency, {sum(held.values())} awaiting consent, "
        f"{sum(unmatched.values())} unmatched (no service in the directory for that need and municipality)",
        f"Follow-ups: {len(followups)} ({f_status['scheduled']} scheduled, {f_status['due']} due) · "
        f"post-arrival {f_reason['post_arrival']}, referral checks {f_reason['referral_check']}",
    ]
    if delays:
        lines.append(
            f"Arrival registration → first referral: median {duration(statistics.median(delays))}, "
            f"p95 {duration(percentile(delays, 0.95))} (includes the simulated interview)"
        )
    categories = Table(show_edge=False, box=None, pad_edge=False)
    categories.add_column("category")
    categories.add_column("shared", justify="right")
    categories.add_column("awaiting consent", justify="right")
    categories.add_column("unmatched", justify="right")
    categories.add_column("agencies")
    for category in sorted(
        set(requested) | set(held) | set(unmatched), key=lambda c: -(requested[c] + held[c] + unmatched[c])
    ):
        categories.add_row(
            category,
            str(requested[category]),
            str(held[category]),
            str(unmatched[category]),
            ", ".join(sorted(agencies.get(category, set()))) or "-",
        )
    return Panel(
        Group(*(Text(line) for line in lines), Text(""), categories),
        title="Summary",
        title_align="left",
    )


def consent_line(runs: Sequence[CaseRun]) -> str:
    """What reception recorded and what referral holds for it, as both services answered."""
    givers = Counter(r.gave_consent_by for r in runs if r.gave_consent_by)
    no_referral = [r for r in runs if r.agreed_only_to_assessment_and_followup]
    held = [x for r in runs for x in r.awaiting_consent()]
    queued = [x for r in runs for x in r.awaiting_in_queue]
    text = (
        f"Consent (reception): {sum(givers.values())}/{len(runs)} recorded — "
        + (", ".join(f"{GIVERS.get(g, g)} {n}" for g, n in givers.most_common()) or "none")
        + f" · {len(no_referral)} agreed only to the assessment and follow-up contact"
    )
    if no_referral:
        text += " (" + ", ".join(f"case {r.short_id}" for r in no_referral[:5]) + ")"
    people = len({x["case_id"] for x in held})
    return (
        text + f" · awaiting consent at referral: {_count(len(held), 'referral')} of "
        f"{_count(people, 'person', 'people')}; referral's queue (GET /v1/awaiting-consent) lists "
        f"{len(queued)} of this flight"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


RETURN_ROUTE = "United States → San Pedro Sula (HN-SAP), reception centre HN-CAMR-SPS"


def report(console: Console, flight: Flight, runs: Sequence[CaseRun]) -> None:
    now = datetime.now(UTC)
    console.print()
    console.print(case_table(runs, now))
    console.print()
    console.print(summary_panel(flight, runs, now))
