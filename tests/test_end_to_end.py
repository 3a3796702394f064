"""An arrival posted over HTTP flows through all four services over real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from reintegra_contracts import decode
from reintegra_contracts.topics import ALL_EVENT_TOPICS
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .support import PERSONAL_VALUES, ServiceProcess, arrival_payload, record_consent
from .test_reliability import outbox_drained

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]


def of_type(records: list[Any], short_type: str, case_id: str) -> list[Any]:
    return [
        r
        for r in records
        if header(r, "ce_type") == f"org.reintegra.{short_type}.v1" and r.key == case_id.encode()
    ]


async def rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def test_an_arrival_reaches_all_four_services(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception, assessment, referral, followup = await asyncio.gather(
        launch("reception"),
        launch("assessment"),
        launch("referral"),
        launch("followup", REINTEGRA_FIRST_FOLLOWUP_AFTER="PT1S", REINTEGRA_REFERRAL_CHECK_AFTER="P14D"),
    )
    async with (
        TopicReader(kafka_bootstrap, *[topic(t) for t in ALL_EVENT_TOPICS]) as reader,
        httpx.AsyncClient(headers=auth.staff(), timeout=10) as http,
    ):
        response = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
        assert response.status_code == 201, response.text
        case_id = response.json()["case_id"]

        await reader.wait_for(
            lambda rs: bool(of_type(rs, "assessment.assessment_scheduled", case_id)),
            what="assessment_scheduled",
        )
        # the person consents to referral (published as reception publishes it, in the case's trace)
        [registered] = of_type(reader.records, "reception.arrival_registered", case_id)
        await record_consent(kafka_bootstrap, topic, case_id, traceparent=header(registered, "traceparent"))
        [found] = (await http.get(f"{assessment.url}/v1/assessments", params={"case_id": case_id})).json()
        completion = await http.post(
            f"{assessment.url}/v1/assessments/{found['assessment_id']}/completion",
            json={
                "needs": [
                    {"category": "employment", "priority": "high"},
                    {"category": "health", "priority": "medium"},
                ],
                "scores": {"economic": 0.2, "social": 0.5, "psychosocial": 0.7, "composite": 0.45},
            },
        )
        assert completion.status_code == 200, completion.text

        def complete(rs: list[Any]) -> bool:
            return (
                len(of_type(rs, "referral.referral_requested", case_id)) == 2
                and len(of_type(rs, "followup.followup_scheduled", case_id)) == 3
                and len(of_type(rs, "followup.followup_due", case_id)) == 1
            )

        records = await reader.wait_for(complete, what="referrals and follow-ups", timeout_s=45)

        # What SRE dashboards read: each service's /metrics agrees with what was sent.
        scraped = {
            p.name: (await http.get(f"{p.url}/metrics")).text for p in (reception, assessment, followup)
        }

    case_records = [r for r in records if r.key == case_id.encode()]
    types = sorted(header(r, "ce_type") or "" for r in case_records)
    assert types == sorted(
        [
            "org.reintegra.reception.arrival_registered.v1",
            "org.reintegra.reception.consent_recorded.v1",
            "org.reintegra.assessment.assessment_scheduled.v1",
            "org.reintegra.assessment.assessment_completed.v1",
            "org.reintegra.referral.referral_requested.v1",
            "org.reintegra.referral.referral_requested.v1",
            "org.reintegra.followup.followup_scheduled.v1",
            "org.reintegra.followup.followup_scheduled.v1",
            "org.reintegra.followup.followup_scheduled.v1",
            "org.reintegra.followup.followup_due.v1",
        ]
    )
    for r in case_records:
        # Our own reader and the official CloudEvents SDK both accept every message.
        decoded = decode(r.headers, r.value)
        assert str(decoded.event.case_id) == case_id
        event = from_kafka_event(KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value))
        assert event.get_type() == header(r, "ce_type")
        assert event.get_subject() == case_id
        assert event.get_source().startswith("/reintegra/")
        assert r.topic == topic(type(decoded.event).topic)
        # No personal data on the log.
        for value in PERSONAL_VALUES:
            assert value not in r.value.decode()

    # The arrival, and what it caused in assessment and follow-up, is one trace.
    def trace_of(short_type: str) -> str:
        [r] = of_type(case_records, short_type, case_id)[:1]
        return (header(r, "traceparent") or "").split("-")[1]

    arrival_trace = trace_of("reception.arrival_registered")
    assert trace_of("assessment.assessment_scheduled") == arrival_trace
    post_arrival = [
        r
        for r in of_type(case_records, "followup.followup_scheduled", case_id)
        if b'"post_arrival"' in r.value
    ]
    assert (header(post_arrival[0], "traceparent") or "").split("-")[1] == arrival_trace
    # ... and so is the follow-up that fell due later, fired by the durable timer, and what the case
    # worker's completion over HTTP caused: the command joined the case's trace (linked to its own).
    assert trace_of("followup.followup_due") == arrival_trace
    assert trace_of("assessment.assessment_completed") == arrival_trace
    assert trace_of("referral.referral_requested") == arrival_trace

    # Each service holds its own state in its own database.
    db = {p.name: p.db_url for p in (reception, assessment, referral, followup)}  # type: ignore[attr-defined]
    [case] = await rows(
        db["reception"], "SELECT age, destination_municipality FROM cases WHERE case_id = :c", c=case_id
    )
    assert tuple(case) == (32, "HN-0501")
    [person] = await rows(db["reception"], "SELECT given_names_enc FROM returnees")
    # personal data stays in reception, encrypted at rest (ADR 0070): the name is not in the column
    assert person[0]
    assert b"Marta" not in bytes(person[0])
    [a] = await rows(
        db["assessment"], "SELECT status, priority FROM assessments WHERE case_id = :c", c=case_id
    )
    assert tuple(a) == ("completed", "high")
    refs = await rows(
        db["referral"],
        "SELECT category, status, service_id FROM referrals WHERE case_id = :c ORDER BY category",
        c=case_id,
    )
    assert [tuple(r) for r in refs] == [
        ("employment", "requested", "HN-SENAEH-EMP"),
        ("health", "requested", "HN-SESAL-SPS"),
    ]
    fus = await rows(
        db["followup"], "SELECT reason, status FROM followups WHERE case_id = :c ORDER BY reason", c=case_id
    )
    assert [tuple(f) for f in fus] == [
        ("post_arrival", "due"),
        ("referral_check", "scheduled"),
        ("referral_check", "scheduled"),
    ]
    assert (
        metric(scraped["reception"], "reintegra_http_requests_total", route="/v1/arrivals", status="201") == 1
    )
    assert (
        metric(
            scraped["assessment"],
            "reintegra_events_consumed_total",
            event_type="org.reintegra.reception.arrival_registered.v1",
            outcome="processed",
        )
        == 1
    )
    assert (
        metric(
            scraped["followup"],
            "reintegra_events_consumed_total",
            event_type="org.reintegra.referral.referral_requested.v1",
            outcome="processed",
        )
        == 2
    )
    assert metric(scraped["followup"], "reintegra_timers_pending", kind="followup.due") >= 0
    for p in (reception, assessment, referral, followup):
        # Everything committed is published. Eventually: the reader waited for the events above, not
        # for those on topics it does not follow (referral's partner views), which may still be in
        # the relay's batch, whose rows are marked after the broker acknowledged all of it.
        await outbox_drained(p)
        # No personal data in any service's logs either.
        log = p.log_path.read_text()
        assert '"service": "' in log
        for value in PERSONAL_VALUES:
            assert value not in log, f"{p.name} logged {value!r}"


def metric(exposition: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus metric's samples whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def test_bad_http_input_gets_422_naming_each_field_and_nothing_is_published(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception = await launch("reception")
    body = arrival_payload(sex="unknown", country_of_return="Honduras")
    body["person"] = {"given_names": "", "family_names": "X", "date_of_birth": "2999-01-01"}
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        response = await http.post(f"{reception.url}/v1/arrivals", json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"sex", "country_of_return", "person.given_names", "person.date_of_birth"}
    assert (await rows(reception.db_url, "SELECT count(*) FROM outbox"))[0][0] == 0  # type: ignore[attr-defined]


async def test_a_repeated_manifest_line_registers_one_case_even_when_retries_race(
    auth: TestIssuer, launch: Launch
) -> None:
    reception = await launch("reception")
    body = arrival_payload(manifest_ref="FLIGHT-2026-11-20-017")
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        responses = await asyncio.gather(
            *[http.post(f"{reception.url}/v1/arrivals", json=body) for _ in range(6)]
        )
        later = await http.post(f"{reception.url}/v1/arrivals", json=body)
    statuses = sorted(r.status_code for r in [*responses, later])
    assert statuses == [200] * 6 + [201]
    assert len({r.json()["case_id"] for r in [*responses, later]}) == 1
    assert (await rows(reception.db_url, "SELECT count(*) FROM outbox"))[0][0] == 1  # type: ignore[attr-defined]


async def test_members_of_one_family_registered_at_once_share_one_travel_group(
    auth: TestIssuer, launch: Launch
) -> None:
    reception = await launch("reception")
    members = [
        arrival_payload(family_group_ref="FAM-042", travelling_with_family=True, manifest_ref=f"F-{i}")
        for i in range(5)
    ]
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        responses = await asyncio.gather(
            *[http.post(f"{reception.url}/v1/arrivals", json=m) for m in members]
        )
    assert [r.status_code for r in responses] == [201] * 5
    groups = {r.json()["travel_group_id"] for r in responses}
    assert len(groups) == 1
    assert None not in groups


async def test_sigterm_stops_a_service_gracefully(launch: Launch) -> None:
    reception = await launch("reception")
    assert await asyncio.to_thread(reception.stop) == 0
    assert '"runtime.stopped"' in reception.log_tail()
