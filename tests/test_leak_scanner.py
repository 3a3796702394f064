"""Nothing identifying leaks (issue 11, item 6): one scanner, seeded with the names, document numbers,
phones and dates of birth of a test flight whose personal data is unique, reads

* every topic of the test's namespace (events, commands, partner topics and their responses, the
  directory, every dead-letter topic),
* every service's log,
* every span the services exported over OTLP (attributes, events, status, resource),
* every webhook an agency received,
* the answer of every HTTP endpoint of every service — the GET routes enumerated from each service's
  OpenAPI document, minus those the access policy marks as answering with personal data — and of
  every command the flight sent,

after the flight went through every path: announcement, manifest (with a bad line), a desk
registration, a duplicate reviewed and merged, screening and assistance, consent (and a vital-interest
override, a withdrawal, a case without consent), assessments, referrals, partner answers over HTTP and
Kafka (and a refused one), webhooks, follow-ups falling due, a parked message. Zero hits. It also checks
that no special-category code (ADR 0080) travels on any topic.

Real service processes, real Kafka and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from reintegra_contracts import decode, encode
from reintegra_contracts.codelists import ConsentBasis, ConsentPurpose
from reintegra_contracts.events.partner import AcceptReferral
from reintegra_contracts.privacy import special_category_values
from reintegra_kit.auth.policy import load_policy
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header, produce

from .leaks import Canary, Collector, Hit, Scanner, WebhookSink, canary_flight, strip_accents
from .support import ServiceProcess, record_consent, withdraw_consent

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]
AGENCY_CODE = "hn-sesal"
"""The agency whose partner API the scanner reads and answers through."""
WEBHOOK_SECRET = "a-leak-scanner-webhook-secret"
MANIFEST_DEFAULTS = {
    "port_of_entry": "HN-SAP",
    "reception_centre": "HN-CAMR-SPS",
    "country_of_return": "HN",
    "returned_from": "US",
    "return_type": "forced",
    "transport_mode": "air",
}


def arrival_body(person: Canary, arrived_at: datetime, ref: str) -> dict[str, Any]:
    return {
        "person": person.person,
        "sex": person.sex,
        "arrived_at": arrived_at.isoformat(),
        "destination_municipality": person.municipality,
        "manifest_ref": ref,
        **MANIFEST_DEFAULTS,
    }


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], timeout_s: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


def kinds(records: list[Any]) -> set[str]:
    return {(header(r, "ce_type") or "").rsplit(".", 2)[-2] for r in records}


async def topics_of(bootstrap: str, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.close()


async def test_nothing_identifying_leaks_to_topics_logs_spans_webhooks_or_http(
    auth: TestIssuer,
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    service_env: dict[str, str],
) -> None:
    AGENCY = auth.agency(AGENCY_CODE)
    everyone = auth.everyone(agency=AGENCY_CODE)  # the sweep reads every route it may
    today = datetime.now(UTC).date()
    people = canary_flight(today)
    scanner = Scanner.of(people)
    for p in people:  # the control: each person's data, as a request carries it, is found
        sent = json.dumps(p.manifest_line())  # JSON escapes accents (\u00e1)
        found = {h.seed for h in scanner.scan("control", sent)}
        assert {p.document, p.phone, p.birth.isoformat(), json.dumps(p.family_names)[1:-1]} <= found
        assert scanner.scan("control", strip_accents(f"{p.given_names} {p.family_names}").upper())
    scanner.scanned.clear()
    prefix = service_env["REINTEGRA_TOPIC_PREFIX"]
    hits: list[Hit] = []
    answers: list[tuple[str, str]] = []  # (where, text): every HTTP answer to scan
    with Collector() as collector, WebhookSink() as sink:
        otlp = {"REINTEGRA_OTLP_ENDPOINT": collector.url}
        reception, assessment, referral, followup = await asyncio.gather(
            launch("reception", **otlp),
            launch("assessment", **otlp),
            launch("referral", REINTEGRA_WEBHOOK_INTERVAL_S="0.2", **otlp),
            launch(
                "followup",
                REINTEGRA_FIRST_FOLLOWUP_AFTER="PT3S",
                REINTEGRA_REFERRAL_CHECK_AFTER="PT10M",
                **otlp,
            ),
        )
        services = {p.name: p for p in (reception, assessment, referral, followup)}
        every_topic = await topics_of(kafka_bootstrap, prefix)
        async with (
            TopicReader(kafka_bootstrap, *every_topic) as reader,
            httpx.AsyncClient(headers=auth.staff(), timeout=60) as http,
        ):

            async def call(method: str, url: str, **kw: Any) -> httpx.Response:
                response = await http.request(method, url, **kw)
                answers.append((f"http:{method} {url}", response.text))
                return response

            # the seeds are not words the platform writes on its own (else a hit would mean nothing)
            for name, proc in services.items():
                baseline = (await http.get(f"{proc.url}/openapi.json")).text
                assert scanner.scan(f"baseline:{name}", baseline) == []
            exported = (await http.get(f"{referral.url}/v1/directory/export")).text
            assert scanner.scan("baseline:directory", exported) == []

            for agency in ("hn-sesal", "hn-senaeh"):
                hook = await call(
                    "PUT",
                    f"{referral.url}/v1/directory/agencies/{agency}/webhook",
                    json={"url": sink.url, "secret": WEBHOOK_SECRET},
                )
                assert hook.status_code == 204, hook.text

            # announced before landing: three people by reference, the child alone by identity
            arrived_at = datetime.now(UTC) - timedelta(minutes=30)
            child = people[4]
            announced = await call(
                "POST",
                f"{reception.url}/v1/announcements",
                json={
                    "announced_by": "us-ice",
                    "expected_arrival_at": arrived_at.isoformat(),
                    "port_of_entry": "HN-SAP",
                    "country_of_return": "HN",
                    "returned_from": "US",
                    "return_type": "forced",
                    "transport_mode": "air",
                    "persons": [
                        *({"reference": f"A-{i}"} for i in range(1, 4)),
                        {
                            "person": child.person,
                            "vulnerabilities": ["unaccompanied_child", "chronic_illness"],
                        },
                    ],
                },
            )
            assert announced.status_code == 201, announced.text
            announcement_id = announced.json()["announcement_id"]

            # the manifest: nineteen people and a bad line (an impossible date of birth)
            lines = [p.manifest_line() for p in people[:19]]
            for i, line in enumerate(lines[:3]):
                line["announced_ref"] = f"A-{i + 1}"
            bad = {**people[19].manifest_line(), "ref": "L99", "date_of_birth": "1990-02-30"}
            manifest = await call(
                "POST",
                f"{reception.url}/v1/manifests",
                json={
                    "manifest_id": "LEAK-SCAN-1",
                    "defaults": {
                        **MANIFEST_DEFAULTS,
                        "arrived_at": arrived_at.isoformat(),
                        "announcement_id": announcement_id,
                    },
                    "people": [*lines, bad],
                },
            )
            assert manifest.status_code == 201, manifest.text
            report = manifest.json()
            assert (report["registered"], report["rejected_lines"]) == (19, 1)
            cases = {c["line"]: c["case_id"] for c in report["cases"]}  # JSON lines count from 1
            # the twentieth person at the desk; the first registered again the same day: a review
            desk = await call(
                "POST", f"{reception.url}/v1/arrivals", json=arrival_body(people[19], arrived_at, "DESK-20")
            )
            assert desk.status_code == 201, desk.text
            cases[20] = desk.json()["case_id"]
            again = people[0].person | {"given_names": people[0].given_names.upper()}
            dup = await call(
                "POST",
                f"{reception.url}/v1/arrivals",
                json=arrival_body(people[0], arrived_at, "DESK-01") | {"person": again},
            )
            assert dup.status_code == 201, dup.text
            [review] = (await call("GET", f"{reception.url}/v1/reviews")).json()
            decided = await call(
                "POST",
                f"{reception.url}/v1/reviews/{review['review_id']}/decision",
                json={"decision": "merge", "decided_by_role": "case_worker"},
            )
            assert decided.status_code == 200, decided.text

            # screening (trafficking: a special-category concern) and assistance
            survivor = cases[7]  # the survivor of gender-based violence with a chronic illness
            for path, body in (
                (
                    "screening",
                    {"findings": [{"concern": "trafficking"}], "screened_by_role": "reception_officer"},
                ),
                ("assistance", {"assistance": ["food", "hygiene_kit"], "provided_by": "cruz-roja-hn"}),
            ):
                done = await call("POST", f"{reception.url}/v1/cases/{survivor}/{path}", json=body)
                assert done.status_code in (200, 201), done.text

            # consent for all but two; a vital-interest override for one of them; one withdrawal later
            consents = {}
            for line, case_id in cases.items():
                if line in (9, 10):
                    continue
                consents[line] = await record_consent(kafka_bootstrap, topic, case_id)
            await record_consent(
                kafka_bootstrap,
                topic,
                cases[9],
                ConsentPurpose.REFERRAL,
                basis=ConsentBasis.VITAL_INTEREST,
                valid_for=timedelta(hours=72),
            )

            # assessments: each case's needs
            async def assessed() -> list[Any]:
                return list(
                    (await http.get(f"{assessment.url}/v1/assessments", params={"limit": 100})).json()
                )

            await wait_until("every assessment scheduled", lambda: _at_least(assessed, 20))
            for i, a in enumerate(await assessed()):
                if a["status"] != "scheduled":
                    continue
                needs = (
                    [{"category": "health", "priority": "high"}]
                    if i % 2
                    else [
                        {"category": "employment", "priority": "medium"},
                        {"category": "psychosocial_support", "priority": "medium"},
                    ]
                )
                done = await call(
                    "POST",
                    f"{assessment.url}/v1/assessments/{a['assessment_id']}/completion",
                    json={
                        "needs": needs,
                        "scores": {"economic": 0.3, "social": 0.5, "psychosocial": 0.4, "composite": 0.4},
                    },
                )
                assert done.status_code == 200, done.text

            # the agency hn-sesal answers over HTTP; hn-senaeh over Kafka, once about a referral not its own
            async def sesal_inbox() -> list[Any]:
                return list(
                    (await http.get(f"{referral.url}/v1/partner/referrals", headers=AGENCY)).json()["items"]
                )

            await wait_until("referrals in hn-sesal's inbox", lambda: _at_least(sesal_inbox, 3))
            for item in (await sesal_inbox())[:3]:
                rid = item["view"]["referral_id"]
                for what in ("receipt", "acceptance"):
                    answered = await call(
                        "POST",
                        f"{referral.url}/v1/partner/referrals/{rid}/{what}",
                        json={},
                        headers={**AGENCY, "Idempotency-Key": f"{what}-{rid}"},
                    )
                    assert answered.status_code == 200, answered.text
            await reader.wait_for(
                lambda rs: any(r.topic == topic("reintegra.partner.hn-senaeh.v1") for r in rs),
                what="a referral on hn-senaeh's partner topic",
            )
            senaeh = [
                decode(r.headers, r.value).event
                for r in reader.records
                if r.topic == topic("reintegra.partner.hn-senaeh.v1")
                and header(r, "ce_type") == "org.reintegra.partner.referral_requested.v1"
            ]
            now = datetime.now(UTC)
            for referral_id in (senaeh[0].referral_id, uuid4()):
                accept = AcceptReferral(
                    case_id=senaeh[0].case_id, referral_id=referral_id, agency_id="hn-senaeh", accepted_at=now
                )
                record = encode(accept, source="urn:reintegra:agency:hn-senaeh")
                await produce(
                    kafka_bootstrap, topic(record.topic), record.value, key=record.key, headers=record.headers
                )

            # the person of line 11 withdraws consent once referred: cancellations reach the agencies
            await reader.wait_for(
                lambda rs: any(
                    r.key == cases[11].encode()
                    and header(r, "ce_type") == "org.reintegra.referral.referral_requested.v1"
                    for r in rs
                ),
                what="line 11 referred",
            )
            await withdraw_consent(kafka_bootstrap, topic, consents[11])

            # a message parked: an arrival re-sent under another key (the kit parks it)
            def line_2_arrival(records: list[Any]) -> list[Any]:
                return [
                    r
                    for r in records
                    if header(r, "ce_type") == "org.reintegra.reception.arrival_registered.v1"
                    and r.key == cases[2].encode()
                ]

            # the reader follows several partitions: wait for that record rather than assume it is read
            await reader.wait_for(lambda rs: bool(line_2_arrival(rs)), what="line 2's arrival")
            [arrival] = line_2_arrival(reader.records)
            await produce(
                kafka_bootstrap, arrival.topic, arrival.value, key=b"not-its-case", headers=arrival.headers
            )

            needed = {
                "arrival_registered", "return_announced", "consent_recorded", "consent_withdrawn",
                "protection_concern_raised", "immediate_assistance_provided", "possible_duplicate_detected",
                "returnee_records_merged", "assessment_completed", "referral_requested", "referral_held",
                "referral_accepted", "referral_cancelled", "command_refused", "followup_due",
                "followup_cancelled", "agency_changed",
            }  # fmt: skip

            def everything(records: list[Any]) -> bool:
                parked = any(r.topic.endswith(".dlq") for r in records)
                return needed <= kinds(records) and parked and len(sink.bodies) >= 2

            await reader.wait_for(
                everything, what=f"every path of the flight ({sorted(needed)})", timeout_s=120
            )

            # every GET route of every service, as the OpenAPI documents list them
            policy = load_policy()
            values = {
                "case_id": [cases[1], cases[5], survivor],
                "review_id": [review["review_id"]],
                "announcement_id": [announcement_id],
                "assessment_id": [a["assessment_id"] for a in (await assessed())[:3]],
                "referral_id": [i["view"]["referral_id"] for i in (await sesal_inbox())[:3]],
                "agency_id": ["hn-sesal", "hn-senaeh"],
                "service_id": ["HN-SESAL-SPS"],
            }
            skipped: list[str] = []
            swept = 0
            for name, proc in services.items():
                spec = (await http.get(f"{proc.url}/openapi.json")).json()
                for path, operations in spec["paths"].items():
                    if "get" not in operations:
                        continue
                    route = policy.route(name, "GET", path)
                    if route is not None and policy.operations[route.operation].personal_data:
                        skipped.append(f"{name} GET {path}")
                        continue
                    params = re.findall(r"\{([^}]+)\}", path)
                    unknown = [p for p in params if p not in values]
                    assert not unknown, (
                        f"the leak scanner cannot fill {unknown} of {name} GET {path}: add values for them"
                    )
                    urls = [path]
                    for p in params:
                        urls = [u.replace(f"{{{p}}}", str(v)) for u in urls for v in values[p]]
                    for url in urls:
                        for query in ({}, {"case_id": cases[7]}):
                            response = await call("GET", f"{proc.url}{url}", params=query, headers=everyone)
                            assert response.status_code < 500, (
                                f"{url}: {response.status_code} {response.text}"
                            )
                    swept += 1
            assert swept >= 30
            await reader.settle(2.0)
            records = list(reader.records)

        for proc in services.values():
            await asyncio.to_thread(proc.stop)  # flushes the spans still in the batch processor

        # -- read everything -----------------------------------------------------------------------
        for r in records:
            where = f"topic:{r.topic.removeprefix(prefix)}@{r.offset} ({header(r, 'ce_type')})"
            text = "\n".join(
                [
                    (r.key or b"").decode("utf-8", errors="replace"),
                    (r.value or b"").decode("utf-8", errors="replace"),
                    *(f"{k}={v.decode('utf-8', errors='replace')}" for k, v in r.headers or ()),
                ]
            )
            hits += scanner.scan(where, text)
        for name, proc in services.items():
            hits += scanner.scan(f"log:{name}", proc.log_path.read_text(errors="replace"))
        for i, export in enumerate(collector.exports):
            hits += scanner.scan(f"spans:export {i}", export)
        for i, body in enumerate(sink.bodies):
            hits += scanner.scan(f"webhook:{i}", body)
        for where, text in answers:
            hits += scanner.scan(where, text)

    shown = "\n".join(f"  {h.seed!r} in {h.where}: …{h.context}…" for h in hits[:25])
    assert hits == [], f"{len(hits)} leak(s) of the test flight's personal data:\n{shown}"
    # special-category codes (health, survivors of violence, …) never travel on the log (ADR 0080)
    special = []
    for r in records:
        if r.value is None or r.topic.endswith(".dlq"):
            continue
        event = decode(r.headers, r.value).event  # every record but a parked one is ours to read
        special += [
            f"{r.topic.removeprefix(prefix)} {event.event_type}: {v}" for v in special_category_values(event)
        ]
    assert special == []
    # it did read every kind of source, and each topic family
    assert {k for k, n in scanner.scanned.items() if n} >= {"topic", "log", "spans", "webhook", "http"}
    read = {r.topic.removeprefix(prefix) for r in records}
    assert any(".dlq" in t for t in read)
    assert any(t.startswith("reintegra.partner.") and t.endswith(".responses.v1") for t in read)
    assert any(re.fullmatch(r"reintegra\.partner\.[a-z0-9-]+\.v1", t) for t in read)
    assert {"reintegra-reception", "reintegra-assessment", "reintegra-referral", "reintegra-followup"} <= {
        s for s, _, _ in collector.spans
    }
    print(
        f"leak scanner: {len(scanner.seeds)} seeds; characters read {scanner.scanned}; {swept} GET routes, "
        f"skipped as personal by the policy: {skipped or 'none'}"
    )


async def _at_least(fetch: Callable[[], Awaitable[list[Any]]], n: int) -> bool:
    return len(await fetch()) >= n
