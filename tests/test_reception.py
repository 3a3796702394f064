"""Reception on the day a flight lands, across the four services, on real Kafka and PostgreSQL.

A flight announced the day before is imported as a 135-person manifest (12 unaccompanied children,
families, ten people who returned before — written differently this time — and ten bad lines); the
re-sent manifest registers nobody twice; the announcement shows who arrived; unaccompanied children
reach the child-protection authority at once; a duplicate registration is merged through the review
queue and every service re-keys its records.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from reintegra_contracts import encode
from reintegra_contracts.codelists import ConsentGiver, ReturnType, TransportMode, Vulnerability
from reintegra_contracts.events.reception import AnnouncedPerson, AnnounceReturn
from reintegra_contracts.topics import (
    RECEPTION_COMMANDS,
    RECEPTION_EVENTS,
    REFERRAL_EVENTS,
    dead_letter_topic,
)
from reintegra_kit.testing.auth import HN_CENTRE, TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header
from reintegra_stack.scenario import (
    BAD_ROWS,
    LINKED_AUTOMATICALLY,
    Flight,
    announcement,
    bad_rows,
    generate_flight,
    manifest_csv,
    manifest_defaults,
    manifest_row,
)

from .support import ServiceProcess, record_consent
from .test_end_to_end import rows

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]


async def start_all(launch: Launch) -> list[ServiceProcess]:
    """The four services, one after the other (a loaded 2-core machine starts them faster so)."""
    return [await launch(name) for name in ("reception", "assessment", "referral", "followup")]


def of_type(records: list[Any], short_type: str) -> list[Any]:
    return [r for r in records if header(r, "ce_type") == f"org.reintegra.{short_type}.v1"]


async def register_earlier(http: httpx.AsyncClient, url: str, flight: Flight) -> None:
    for body in flight.earlier:
        response = await http.post(f"{url}/v1/arrivals", json=body)
        assert response.status_code == 201, response.text


async def test_a_flight_announced_then_imported_as_a_manifest(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception, assessment, referral, _followup = await start_all(launch)
    flight = generate_flight(135, 31, now=datetime.now(UTC), unaccompanied=12, repeat_returns=10)
    children_alone = {r.line for r in flight.returnees if r.kind == "unaccompanied_child"}
    async with (
        TopicReader(kafka_bootstrap, topic(RECEPTION_EVENTS), topic(REFERRAL_EVENTS)) as reader,
        httpx.AsyncClient(headers=auth.staff(), timeout=60) as http,
    ):
        await register_earlier(http, reception.url, flight)
        announced = await http.post(f"{reception.url}/v1/announcements", json=announcement(flight))
        assert announced.status_code == 201, announced.text
        announcement_id = announced.json()["announcement_id"]

        csv = manifest_csv([manifest_row(r) for r in flight.returnees] + bad_rows(900))
        params = manifest_defaults(flight, announcement_id)
        headers = {"content-type": "text/csv"}
        started = time.perf_counter()
        response = await http.post(
            f"{reception.url}/v1/manifests", content=csv, params=params, headers=headers
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.text
        report = response.json()
        print(f"135-person manifest on PostgreSQL through HTTP: {elapsed * 1000:.0f} ms")

        # Every bad line is named with its column; the good ones are all registered.
        assert (report["registered"], report["already_registered"], report["rejected_lines"]) == (135, 0, 10)
        assert [e["field"] for e in report["errors"]] == [column for column, _ in BAD_ROWS]
        assert [e["line"] for e in report["errors"]] == list(range(137, 147))  # header is line 1
        # Repeat returns found from data, however they were written this time.
        by_line = {c["line"] - 1: c for c in report["cases"]}
        repeaters = {r.line: r.repeat_of for r in flight.returnees if r.repeat_of}
        linked = {line for line, c in by_line.items() if c["matching"] == "link"}
        assert linked == {line for line, how in repeaters.items() if how in LINKED_AUTOMATICALLY}
        assert {line for line, c in by_line.items() if c["matching"] == "review"} == {
            line for line, how in repeaters.items() if how not in LINKED_AUTOMATICALLY
        }
        assert report["repeat_returns"] == len(linked) == 9
        assert all(by_line[line]["is_repeat_return"] for line in linked)

        # The re-sent manifest registers nobody twice.
        again = await http.post(f"{reception.url}/v1/manifests", content=csv, params=params, headers=headers)
        assert again.status_code == 200, again.text
        assert (again.json()["registered"], again.json()["already_registered"]) == (0, 135)

        # The announcement: who arrived, who did not, who arrived unannounced.
        status = (await http.get(f"{reception.url}/v1/announcements/{announcement_id}")).json()
        assert (status["persons_expected"], status["arrived"], status["not_arrived"]) == (135, 133, 2)
        assert len(status["unannounced_case_ids"]) == 2

        # A child alone: registration, screening and announcement on the case; no personal data.
        child_line = min(children_alone)
        child = (await http.get(f"{reception.url}/v1/cases/{by_line[child_line]['case_id']}")).json()
        assert "unaccompanied_child" in child["vulnerabilities"]
        assert [(c["concern_type"], c["urgency"], c["lead_agency"]) for c in child["concerns"]] == [
            ("unaccompanied_child", "immediate", "hn-senaf")
        ]
        assert child["announcement_id"] == announcement_id
        person = flight.returnees[child_line - 1].arrival["person"]
        assert person["family_names"] not in str(child)
        repeater = min(linked)
        repeat_case = (await http.get(f"{reception.url}/v1/cases/{by_line[repeater]['case_id']}")).json()
        assert len(repeat_case["earlier_returns"]) == 1

        # Every unaccompanied child reaches the child-protection authority at once, without an assessment,
        # under the consent the child-protection authority gives on the child's behalf.
        child_cases = {by_line[line]["case_id"].encode() for line in children_alone}
        for case in child_cases:
            await record_consent(
                kafka_bootstrap, topic, case.decode(), given_by=ConsentGiver.CHILD_PROTECTION_AUTHORITY
            )

        def children_referred(records: list[Any]) -> bool:
            found = [
                r
                for r in of_type(records, "referral.referral_requested")
                if r.key in child_cases and b'"hn-senaf"' in r.value
            ]
            return len({r.key for r in found}) == 12

        await reader.wait_for(children_referred, what="12 child-protection referrals", timeout_s=60)

    # Assessment put every child alone at the front of its queue.
    urgent = await rows(
        assessment.db_url,  # type: ignore[attr-defined]
        "SELECT count(*) FROM assessments WHERE priority = 'urgent'",
    )
    assert urgent[0][0] >= 12
    senaf = await rows(
        referral.db_url,  # type: ignore[attr-defined]
        "SELECT count(DISTINCT case_id) FROM referrals WHERE agency_id = 'hn-senaf' AND category = 'child_protection'",
    )
    assert senaf[0][0] == 12
    print(f"manifest 135 persons: {elapsed:.3f} s")


async def test_a_duplicate_registration_is_merged_through_the_review_queue_and_every_service_rekeys(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception, assessment, referral, followup = await start_all(launch)
    flight = generate_flight(1, 5, now=datetime.now(UTC), unaccompanied=1)
    [child] = flight.returnees
    desk = {**child.arrival, "manifest_ref": "DESK-1"}
    again = {**child.arrival, "manifest_ref": "MANIFEST-1"}
    again["person"] = {
        **child.arrival["person"],
        "given_names": child.arrival["person"]["given_names"].upper(),
    }
    async with (
        TopicReader(kafka_bootstrap, *[topic(t) for t in (RECEPTION_EVENTS, REFERRAL_EVENTS)]) as reader,
        httpx.AsyncClient(headers=auth.staff(), timeout=30) as http,
    ):
        first = (await http.post(f"{reception.url}/v1/arrivals", json=desk)).json()
        dup = (await http.post(f"{reception.url}/v1/arrivals", json=again)).json()
        for case in (first, dup):
            await record_consent(kafka_bootstrap, topic, case["case_id"], given_by=ConsentGiver.GUARDIAN)
        await reader.wait_for(
            lambda rs: len(of_type(rs, "referral.referral_requested")) >= 2, what="both cases referred"
        )
        [review] = (await http.get(f"{reception.url}/v1/reviews")).json()
        assert (review["case_id"], review["candidate_case_id"]) == (dup["case_id"], first["case_id"])
        assert "same day" in " ".join(review["comparison"]["caveats"])
        decided = await http.post(
            f"{reception.url}/v1/reviews/{review['review_id']}/decision",
            json={"decision": "merge", "decided_by_role": "case_worker"},
        )
        assert decided.status_code == 200, decided.text
        records = await reader.wait_for(
            lambda rs: bool(of_type(rs, "reception.returnee_records_merged")), what="returnee_records_merged"
        )
        [merged] = of_type(records, "reception.returnee_records_merged")
        assert merged.key == first["case_id"].encode()
        twice = await http.post(
            f"{reception.url}/v1/reviews/{review['review_id']}/decision",
            json={"decision": "distinct", "decided_by_role": "case_worker"},
        )
        assert twice.status_code == 409
        assert twice.json()["code"] == "illegal-transition"

    db = {p.name: p.db_url for p in (reception, assessment, referral, followup)}  # type: ignore[attr-defined]

    async def settled() -> tuple[Any, ...]:
        a = await rows(
            db["assessment"], "SELECT status FROM assessments WHERE case_id = :c", c=dup["case_id"]
        )
        r = await rows(db["referral"], "SELECT count(*) FROM referrals WHERE case_id = :c", c=dup["case_id"])
        f = await rows(
            db["followup"],
            "SELECT status FROM followups WHERE case_id = :c AND reason = 'post_arrival'",
            c=dup["case_id"],
        )
        return (a[0][0] if a else None, r[0][0], f[0][0] if f else None)

    for _ in range(60):
        if await settled() == ("merged", 0, "cancelled"):
            break
        await asyncio.sleep(0.5)
    assert await settled() == ("merged", 0, "cancelled")
    moved = await rows(
        db["referral"], "SELECT count(*) FROM referrals WHERE case_id = :c", c=first["case_id"]
    )
    assert moved[0][0] >= 2  # the duplicate's referrals now belong to the surviving case


async def test_an_announcement_over_the_kafka_command_topic_and_a_malformed_one_parked(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception = await launch("reception")
    command = AnnounceReturn(
        case_id=uuid4(),
        announcement_id=uuid4(),
        announced_by="us-ice",
        expected_arrival_at=datetime.now(UTC),
        port_of_entry="HN-SAP",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        transport_reference="N123",
        persons=[
            AnnouncedPerson(
                announced_person_id=uuid4(), reference="A-1", vulnerabilities=[Vulnerability.PREGNANT]
            )
        ],
    )
    record = encode(command, source="/agency/us-ice")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        async with TopicReader(
            kafka_bootstrap, topic(RECEPTION_EVENTS), topic(dead_letter_topic(RECEPTION_COMMANDS))
        ) as reader:
            await producer.send_and_wait(
                topic(RECEPTION_COMMANDS), record.value, key=record.key, headers=record.headers
            )
            broken = [(k, v if k != "ce_id" else b"broken-1") for k, v in record.headers]
            await producer.send_and_wait(
                topic(RECEPTION_COMMANDS), b'{"persons": "nobody"}', key=record.key, headers=broken
            )
            records = await reader.wait_for(
                lambda rs: (
                    bool(of_type(rs, "reception.return_announced"))
                    and any(r.topic.endswith(".dlq") for r in rs)
                ),
                what="return_announced and a parked command",
            )
    finally:
        await producer.stop()
    [parked] = [r for r in records if r.topic.endswith(".dlq")]
    assert "persons" in (header(parked, "reintegra_dlq_reason") or "")
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        found = (await http.get(f"{reception.url}/v1/announcements/{command.announcement_id}")).json()
    assert (found["persons_expected"], found["transport_reference"]) == (1, "N123")


def _without_token() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "REINTEGRA_TOKEN"}


async def test_the_import_manifest_command_reports_progress_and_bad_lines(
    launch: Launch, tmp_path: Path, auth: TestIssuer
) -> None:
    reception = await launch("reception")
    flight = generate_flight(30, 8, now=datetime.now(UTC))
    path = tmp_path / "AV640.csv"
    path.write_bytes(
        manifest_csv([manifest_row(r, announced=False) for r in flight.returnees] + bad_rows(100)[:2])
    )
    options = [
        f"--{k.replace('_', '-')}={v}" for k, v in manifest_defaults(flight).items() if k != "manifest_id"
    ]
    command = [
        sys.executable,
        "-m",
        "reintegra_reception",
        "import-manifest",
        str(path),
        f"--url={reception.url}",
        "--token=" + auth.headers("reception_officer", centre=HN_CENTRE, country="HN")["Authorization"][7:],
    ]
    without_token = await asyncio.to_thread(
        subprocess.run, command[:-1], capture_output=True, text=True, timeout=120, env=_without_token()
    )
    assert without_token.returncode == 2
    assert "bearer token is required" in without_token.stdout
    done = await asyncio.to_thread(
        subprocess.run, [*command, "--chunk-size=7", *options], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr  # two bad lines
    assert "registered" in done.stdout
    assert "32" in done.stdout  # line 32: the first bad line ...
    assert "sex" in done.stdout  # ... and its column
    cases = await rows(reception.db_url, "SELECT count(*) FROM cases")  # type: ignore[attr-defined]
    assert cases[0][0] == 30
    refused = await asyncio.to_thread(
        subprocess.run,
        [*command, "--all-or-nothing", "--manifest-id=OTHER", *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "nothing registered" in refused.stdout
    cases = await rows(reception.db_url, "SELECT count(*) FROM cases")  # type: ignore[attr-defined]
    assert cases[0][0] == 30
