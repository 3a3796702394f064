"""The demo's consent step against a stand-in for reception's and referral's HTTP answers (no
network): who records each consent with which token, a replay that keeps what reception holds, and a
summary that reports what the services answered."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from reintegra_stack import demo
from reintegra_stack.scenario import generate_flight, holding_back
from rich.console import Console

NOW = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
STAFF = {"Authorization": "Bearer staff"}
AUTHORITY = {"Authorization": "Bearer senaf"}
URLS = demo.Urls("http://reception", "http://assessment", "http://referral", "http://followup")


class Reception:
    """Keeps the consents posted per case and answers like ``GET /v1/cases/{id}/consent``."""

    def __init__(self) -> None:
        self.consents: dict[str, list[dict[str, Any]]] = {}
        self.posted: list[tuple[str, str, dict[str, Any]]] = []  # (case, token, body)

    def answer(self, case_id: str) -> dict[str, Any]:
        records = self.consents.get(case_id, [])
        return {
            "case_id": case_id,
            "records": [{"basis": "consent", "given_by": b["given_by"]} for b in records],
            "allows": [
                {"purpose": s["purpose"], "service_categories": s.get("service_categories", [])}
                for b in records
                for s in b["scopes"]
            ],
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        case_id = request.url.path.split("/")[3]
        if request.method == "POST":
            body = json.loads(request.content)
            self.posted.append((case_id, request.headers["authorization"], body))
            self.consents.setdefault(case_id, []).append(body)
            return httpx.Response(201, json=self.answer(case_id))
        return httpx.Response(200, json=self.answer(case_id))


def runs_of(size: int, seed: int) -> tuple[Any, list[demo.CaseRun]]:
    flight = generate_flight(size, seed, now=NOW)
    runs = [demo.CaseRun(r) for r in flight.returnees]
    for run in runs:
        vulnerabilities = ["unaccompanied_child"] if run.returnee.kind == "unaccompanied_child" else []
        run.case = {"case_id": str(uuid.uuid4()), "age": run.returnee.age, "vulnerabilities": vulnerabilities}
    return flight, runs


async def record(reception: Reception, flight: Any, runs: list[demo.CaseRun]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=1000)
    async with httpx.AsyncClient(transport=httpx.MockTransport(reception), headers=STAFF) as client:
        with demo._progress(console) as progress:
            await demo._record_consents(client, URLS, flight, runs, AUTHORITY, progress)
    return out.getvalue()


async def test_each_person_consents_once_with_the_token_of_whoever_may_record_it() -> None:
    flight, runs = runs_of(60, 7)
    reception = Reception()
    said = await record(reception, flight, runs)

    assert sorted(case for case, _, _ in reception.posted) == sorted(r.case_id for r in runs)
    by_case = {r.case_id: r for r in runs}
    for case_id, token, body in reception.posted:
        alone = by_case[case_id].returnee.kind == "unaccompanied_child"
        assert (token, body["given_by"] == "child_protection_authority") == (
            (AUTHORITY if alone else STAFF)["Authorization"],
            alone,
        )
    holder = holding_back(flight)
    assert holder is not None
    withheld = [r for r in runs if r.agreed_only_to_assessment_and_followup]
    assert [r.returnee for r in withheld] == [holder]
    assert not withheld[0].referral_categories
    assert all(r.consent_recorded_now for r in runs)
    assert (
        f"consent recorded at reception for {len(runs)} of {len(runs)} people ({len(runs)} now, 0 earlier)"
        in said
    )
    assert f"1 agreed only to the assessment and follow-up contact (case {withheld[0].short_id})" in said

    again = [demo.CaseRun(r.returnee, case=r.case) for r in runs]  # the flight played again
    said = await record(reception, flight, again)
    assert len(reception.posted) == len(runs)  # nothing recorded twice
    assert not any(r.consent_recorded_now for r in again)
    assert [r.returnee for r in again if r.agreed_only_to_assessment_and_followup] == [holder]
    assert f"({0} now, {len(runs)} earlier)" in said


async def test_the_summary_counts_what_referral_holds_and_lists() -> None:
    flight, runs = runs_of(30, 11)
    await record(Reception(), flight, runs)
    holder = next(r for r in runs if r.agreed_only_to_assessment_and_followup)
    other = next(r for r in runs if r is not holder and r.referral_categories)
    holder.referrals = [
        {
            "case_id": holder.case_id,
            "category": "employment",
            "agency_id": "hn-senaeh",
            "status": "awaiting_consent",
        },
        {"case_id": holder.case_id, "category": "health", "agency_id": None, "status": "unmatched"},
    ]
    other.referrals = [
        {"case_id": other.case_id, "category": "health", "agency_id": "hn-sesal", "status": "requested"}
    ]
    queue = [
        holder.referrals[0],
        {"case_id": str(uuid.uuid4()), "category": "shelter"},
    ]  # one of another flight

    def referral(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        return httpx.Response(200, json={"count": len(queue), "items": queue[offset : offset + limit]})

    demo.AWAITING_PAGE, page = 1, demo.AWAITING_PAGE
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(referral)) as client:
            await demo._read_awaiting_consent(client, URLS, runs)
    finally:
        demo.AWAITING_PAGE = page

    line = demo.consent_line(runs)
    assert f"Consent (reception): {len(runs)}/{len(runs)} recorded" in line
    assert f"1 agreed only to the assessment and follow-up contact (case {holder.short_id})" in line
    assert "awaiting consent at referral: 1 referral of 1 person" in line
    assert "lists 1 of this flight" in line
    assert other.consent_covers(other.referrals[0]) is ("health" in other.referral_categories)
    assert not holder.consent_covers(holder.referrals[0])
