"""Closed-loop referrals over real Kafka and PostgreSQL, with the referral service as a real process and
the example agency systems of contracts/examples/ answering over Kafka and over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from reintegra_contracts import Event, decode, encode
from reintegra_contracts.codelists import Dimension, Level, Priority, ServiceCategory, Sex
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.partner import AcceptReferral
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.samples import example_of
from reintegra_contracts.topics import (
    DIRECTORY_EVENTS,
    REFERRAL_EVENTS,
    partner_responses_topic,
    partner_topic,
)
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header, produce

from .support import ServiceProcess, record_consent

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]
EXAMPLES = Path(__file__).resolve().parents[1] / "contracts" / "examples"
ALWAYS = [{"days": [1, 2, 3, 4, 5, 6, 7], "opens": "00:00", "closes": "24:00"}]
SECRET = "a-test-secret-of-some-length"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"referral_loop_{name}", EXAMPLES / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def agency(code: str, hours: float, *, channel: str = "kafka", coordinator: bool = False) -> dict[str, Any]:
    return {
        "agency_id": code,
        "label_es": code,
        "label_en": code,
        "agency_kind": "government",
        "country": "HN",
        "contact_role": "Ventanilla de prueba (test desk)",
        "office_hours": ALWAYS,
        "response_time_hours": hours,
        "channel": channel,
        "coordinator": coordinator,
    }


def service(sid: str, code: str, category: str, **coverage: Any) -> dict[str, Any]:
    return {
        "service_id": sid,
        "agency_id": code,
        "label_es": sid,
        "label_en": sid,
        "category": category,
        "country": "HN",
        **(coverage if coverage else {"national": True}),
    }


def directory(tmp_path: Path, *, silent_hours: float = 8.0) -> str:
    """A small directory: hn-senaeh (Kafka) offers employment and skills; hn-infop skills; hn-umar-sps
    (HTTP) local psychosocial support answering within ``silent_hours``; hn-cruz-roja national."""
    doc = {
        "agencies": [
            agency("hn-sreci", 8, coordinator=True),
            agency("hn-senaeh", 8),
            agency("hn-infop", 8),
            agency("hn-umar-sps", silent_hours, channel="http"),
            agency("hn-cruz-roja", 8),
        ],
        "services": [
            service("HN-SENAEH-EMP", "hn-senaeh", "employment"),
            service("HN-SENAEH-CERT", "hn-senaeh", "skills_certification", municipalities=["HN-0501"]),
            service("HN-INFOP-CERT", "hn-infop", "skills_certification"),
            service("HN-UMAR-SPS-PSS", "hn-umar-sps", "psychosocial_support", municipalities=["HN-0501"]),
            service("HN-CRUZROJA-PSS", "hn-cruz-roja", "psychosocial_support"),
        ],
    }
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(doc))
    return str(path)


async def send_case(
    bootstrap: str, topic: Callable[[str], str], *categories: ServiceCategory, age: int = 34
) -> tuple[UUID, dict[ServiceCategory, UUID]]:
    """What reception and assessment would publish for one person with these needs."""
    case_id = uuid4()
    arrival = example_of(ArrivalRegistered).model_copy(
        update={
            "case_id": case_id,
            "age": age,
            "sex": Sex.FEMALE,
            "destination_municipality": "HN-0501",
            "vulnerabilities": [],
            "immediate_needs": [],  # reception's triage is referred at once; here only the assessment's needs
        }
    )
    needs = {c: uuid4() for c in categories}
    assessed = AssessmentCompleted(
        case_id=case_id,
        assessment_id=uuid4(),
        completed_at=arrival.arrived_at,
        instrument="rss",
        instrument_version="1",
        priority=Priority.MEDIUM,
        destination_municipality="HN-0501",
        needs=[
            Need(
                need_id=n,
                category=c,
                dimension=Dimension.SOCIAL,
                level=Level.INDIVIDUAL,
                priority=Priority.MEDIUM,
            )
            for c, n in needs.items()
        ],
    )
    record = encode(arrival, source="/test")
    await produce(bootstrap, topic(record.topic), record.value, key=record.key, headers=record.headers)
    await record_consent(bootstrap, topic, case_id)  # referral to any agency
    record = encode(assessed, source="/test")
    await produce(bootstrap, topic(record.topic), record.value, key=record.key, headers=record.headers)
    return case_id, needs


def events_of(records: list[Any], case_id: UUID) -> list[Event]:
    return [decode(r.headers, r.value).event for r in records if r.key == str(case_id).encode()]


def types(events: list[Event], referral_id: UUID) -> list[str]:
    """The referral's event types; a first ``referral_held`` is dropped: the consent (reception's topic)
    and the assessment (assessment's topic) race, so referral may hold the need until the consent
    arrives a moment later — the same referral, released at once (tests/test_consent_sharing.py and
    services/referral/tests/test_consent.py check holding itself)."""
    found = [e.event_type.split(".")[3] for e in events if getattr(e, "referral_id", None) == referral_id]
    return found[1:] if found[:1] == ["referral_held"] else found


@contextlib.asynccontextmanager
async def kafka_agency(
    bootstrap: str, prefix: str, code: str, *categories: ServiceCategory
) -> AsyncIterator[None]:
    module = example("agency_consumer")
    policy = module.AgencyPolicy(agency_id=code, categories=frozenset(categories), serve_at_once=True)
    task = asyncio.create_task(module.run(bootstrap, policy, topic_prefix=prefix))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_need_is_served_over_kafka_end_to_end_and_a_rejection_goes_to_the_next_candidate(
    auth: TestIssuer,
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    service_env: dict[str, str],
    tmp_path: Path,
) -> None:
    referral = await launch("referral", REINTEGRA_DIRECTORY_FILE=directory(tmp_path))
    prefix = service_env["REINTEGRA_TOPIC_PREFIX"]
    async with (
        TopicReader(kafka_bootstrap, topic(REFERRAL_EVENTS), topic(partner_topic("hn-cruz-roja"))) as reader,
        kafka_agency(kafka_bootstrap, prefix, "hn-senaeh", ServiceCategory.EMPLOYMENT),
        httpx.AsyncClient(headers=auth.staff(), timeout=10) as http,
    ):
        case_id, needs = await send_case(
            kafka_bootstrap, topic, ServiceCategory.EMPLOYMENT, ServiceCategory.SKILLS_CERTIFICATION
        )

        def served(records: list[Any]) -> bool:
            names = [e.event_type for e in events_of(records, case_id)]
            return (
                "org.reintegra.referral.referral_completed.v1" in names
                and names.count("org.reintegra.referral.referral_requested.v1") == 3
            )

        records = await reader.wait_for(served, what="a completed referral and a re-routed one", timeout_s=90)
        events = events_of(records, case_id)
        listed = (await http.get(f"{referral.url}/v1/referrals", params={"case_id": str(case_id)})).json()
        by_need = {(r["need_id"], r["attempt"]): r for r in listed}
        employment = by_need[(str(needs[ServiceCategory.EMPLOYMENT]), 1)]
        assert employment["agency_id"] == "hn-senaeh"
        assert types(events, UUID(employment["referral_id"])) == [
            "referral_requested",
            "referral_received",
            "referral_accepted",
            "service_started",
            "service_delivered",
            "referral_completed",
        ]
        detail = (await http.get(f"{referral.url}/v1/referrals/{employment['referral_id']}")).json()
        assert detail["status"] == "completed"
        assert detail["fhir_status"] == "completed"
        history = [(h["from_status"], h["to_status"], h["channel"]) for h in detail["history"]]
        if history[:1] == [(None, "awaiting_consent", "event")]:  # held until the consent came (see types)
            history = [(None, history[1][1], history[1][2]), *history[2:]]
        assert history == [
            (None, "requested", "event"),
            ("requested", "received", "kafka"),
            ("received", "accepted", "kafka"),
            ("accepted", "in_progress", "kafka"),
            ("in_progress", "service_delivered", "kafka"),
            ("service_delivered", "completed", "kafka"),
        ]
        assert {c["service_id"] for c in detail["candidates"]} == {"HN-SENAEH-EMP"}
        # skills: hn-senaeh's local service came first, was rejected, and the need went to hn-infop
        first = by_need[(str(needs[ServiceCategory.SKILLS_CERTIFICATION]), 1)]
        second = by_need[(str(needs[ServiceCategory.SKILLS_CERTIFICATION]), 2)]
        assert (first["agency_id"], first["status"]) == ("hn-senaeh", "rejected")
        assert (second["agency_id"], second["status"], second["previous_referral_id"]) == (
            "hn-infop",
            "requested",
            first["referral_id"],
        )

        # hn-cruz-roja, on its own topic, about hn-senaeh's referral: refused, answered, nothing changes
        intruder = AcceptReferral(
            case_id=case_id,
            referral_id=UUID(employment["referral_id"]),
            agency_id="hn-cruz-roja",
            accepted_at=next(e for e in events if hasattr(e, "requested_at")).model_dump()["requested_at"],
        )
        record = encode(intruder, source="urn:reintegra:agency:hn-cruz-roja")
        assert record.topic == partner_responses_topic("hn-cruz-roja")
        await produce(
            kafka_bootstrap, topic(record.topic), record.value, key=record.key, headers=record.headers
        )
        refused = await reader.wait_for(
            lambda rs: any(header(r, "ce_type") == "org.reintegra.partner.command_refused.v1" for r in rs),
            what="the refusal on hn-cruz-roja's partner topic",
        )
        [refusal] = [
            decode(r.headers, r.value).event
            for r in refused
            if header(r, "ce_type") == "org.reintegra.partner.command_refused.v1"
        ]
        assert refusal.model_dump()["reason"] == "not_sent_to_agency"
        after = (await http.get(f"{referral.url}/v1/referrals/{employment['referral_id']}")).json()
        assert after["history"] == detail["history"]
        status = (await http.get(f"{referral.url}/v1/partner/agencies/hn-senaeh/status")).json()
        assert (status["sent"], status["answered"], status["rerouted"]) == (2, 2, 0)


async def test_silence_fires_overdue_once_across_two_processes_escalates_reroutes_and_refuses_a_late_answer(
    auth: TestIssuer,
    launch: Launch,
    make_database: Callable[[str], Awaitable[str]],
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    shared = await make_database("referral")
    settings = {
        "REINTEGRA_DIRECTORY_FILE": directory(tmp_path, silent_hours=0.001),  # 3.6 s of (24/7) working time
        "REINTEGRA_REROUTE_GRACE": "PT3S",
        "REINTEGRA_TIMER_INTERVAL_S": "0.2",
    }
    first = await launch("referral", database_url=shared, **settings)
    await launch("referral", database_url=shared, **settings)
    async with (
        TopicReader(
            kafka_bootstrap,
            topic(REFERRAL_EVENTS),
            topic(partner_topic("hn-umar-sps")),
            topic(partner_topic("hn-cruz-roja")),
        ) as reader,
        httpx.AsyncClient(headers=auth.staff(), timeout=10) as http,
    ):
        case_id, _ = await send_case(kafka_bootstrap, topic, ServiceCategory.PSYCHOSOCIAL_SUPPORT)

        def rerouted(records: list[Any]) -> bool:
            return any(
                header(r, "ce_type") == "org.reintegra.partner.referral_requested.v1"
                and b"hn-cruz-roja" in r.value
                for r in records
            )

        records = await reader.wait_for(rerouted, what="the need re-routed to hn-cruz-roja", timeout_s=60)
        await reader.settle(2.0)
        events = events_of(reader.records, case_id)
        names = [e.event_type.split(".")[2] + "." + e.event_type.split(".")[3] for e in events]
        assert names.count("referral.referral_overdue") == 1  # once, with two processes racing
        assert names.count("referral.referral_escalated") == 1
        assert names.count("partner.referral_overdue") == 1
        escalated = next(e for e in events if e.event_type.endswith("referral_escalated.v1"))
        assert escalated.model_dump()["escalated_to"] == "hn-sreci"
        cancelled = next(e for e in events if e.event_type == "org.reintegra.partner.referral_cancelled.v1")
        assert cancelled.model_dump()["reason"] == "referred_elsewhere"
        [queue_entry] = (await http.get(f"{first.url}/v1/escalations", params={"status": "resolved"})).json()
        assert queue_entry["resolution"] == "rerouted"

        # the first agency answers late, over HTTP: a clear refusal, not a second service
        silent = cancelled.model_dump()["referral_id"]
        late = await http.post(
            f"{first.url}/v1/partner/referrals/{silent}/acceptance",
            json={},
            headers={**auth.agency("hn-umar-sps"), "Idempotency-Key": "late-answer-1"},
        )
        assert late.status_code == 409
        assert "re-routed" in late.json()["detail"]
        status = (await http.get(f"{first.url}/v1/partner/agencies/hn-umar-sps/status")).json()
        assert (status["overdue"], status["rerouted"], status["answered"]) == (1, 1, 0)
        assert len(records) >= 1


async def test_an_http_agency_gets_signed_webhooks_after_being_down_and_answers_through_the_partner_api(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    referral = await launch(
        "referral",
        REINTEGRA_DIRECTORY_FILE=directory(tmp_path),
        REINTEGRA_WEBHOOK_RETRY_S="0.3",
        REINTEGRA_WEBHOOK_RETRY_MAX_S="1",
        REINTEGRA_WEBHOOK_INTERVAL_S="0.2",
    )
    module = example("agency_http")
    receiver = module.WebhookReceiver(SECRET)
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        # the receiver's port is taken, and the receiver is down: deliveries fail and are retried
        receiver.start()
        url = receiver.url
        receiver.stop()
        put = await http.put(
            f"{referral.url}/v1/directory/agencies/hn-umar-sps/webhook", json={"url": url, "secret": SECRET}
        )
        assert put.status_code == 204, put.text
        case_id, needs = await send_case(kafka_bootstrap, topic, ServiceCategory.PSYCHOSOCIAL_SUPPORT)

        async def attempts() -> list[dict[str, Any]]:
            return list(
                (await http.get(f"{referral.url}/v1/partner/agencies/hn-umar-sps/webhook-attempts")).json()
            )

        for _ in range(100):
            if len(await attempts()) >= 2:
                break
            await asyncio.sleep(0.2)
        failed = await attempts()
        assert len(failed) >= 2
        assert all(a["error"] for a in failed)
        status = (await http.get(f"{referral.url}/v1/partner/agencies/hn-umar-sps/status")).json()
        assert status["webhook_pending"] == 1
        assert status["last_delivery_error"]["error"]

        # the receiver comes back on the same port; the next retry delivers, signed
        receiver.start()
        try:
            message_id, message = await asyncio.to_thread(receiver.received.get, True, 30)
            assert message.referral_id is not None
            agency = module.HttpAgency(
                referral.url,
                "hn-umar-sps",
                frozenset({ServiceCategory.PSYCHOSOCIAL_SUPPORT}),
                auth.agency("hn-umar-sps")["Authorization"].removeprefix("Bearer "),
            )
            answers = await asyncio.to_thread(agency.handle, message_id, message)
            assert [a.status_code for a in answers] == [200, 200]
            again = await asyncio.to_thread(agency.handle, message_id, message)  # a retry: same keys
            assert [a.status_code for a in again] == [200, 200]
        finally:
            receiver.stop()
        assert receiver.rejected == 0

        inbox = (
            await http.get(f"{referral.url}/v1/partner/referrals", headers=auth.agency("hn-umar-sps"))
        ).json()
        [item] = inbox["items"]
        assert item["status"] == "accepted"
        assert item["view"]["need_id"] == str(needs[ServiceCategory.PSYCHOSOCIAL_SUPPORT])
        later = (
            await http.get(
                f"{referral.url}/v1/partner/referrals",
                params={"since": inbox["next_since"]},
                headers=auth.agency("hn-umar-sps"),
            )
        ).json()
        assert later["items"] == []
        detail = (await http.get(f"{referral.url}/v1/referrals/{message.referral_id}")).json()
        actions = [h["action"] for h in detail["history"]]
        # held first when the assessment reached referral before the consent did (both arrive on Kafka)
        held = 1 if actions[:1] == ["hold"] else 0
        assert actions[held:] == ["request", "receive", "accept"]
        assert [h["channel"] for h in detail["history"][held + 1 :]] == ["http", "http"]
        final = (await http.get(f"{referral.url}/v1/partner/agencies/hn-umar-sps/status")).json()
        assert (final["webhook_pending"], final["webhook_delivered"]) == (0, 1)
        # no agency, no inbox
        anonymous = {"Authorization": ""}
        assert (await http.get(f"{referral.url}/v1/partner/referrals", headers=anonymous)).status_code == 401
        # a staff member is no agency: refused by the policy (the inbox is an agency partner's)
        assert (await http.get(f"{referral.url}/v1/partner/referrals")).status_code == 403
        # another agency may not act on it
        other = await http.post(
            f"{referral.url}/v1/partner/referrals/{message.referral_id}/start",
            json={},
            headers={**auth.agency("hn-cruz-roja"), "Idempotency-Key": "intruder-1"},
        )
        assert other.status_code == 403
        assert case_id


async def test_the_directory_is_managed_over_http_and_a_new_agency_answers_on_its_new_topic(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    referral = await launch("referral", REINTEGRA_DIRECTORY_FILE=directory(tmp_path))
    async with (
        httpx.AsyncClient(headers=auth.staff(), timeout=10) as http,
        TopicReader(kafka_bootstrap, topic(DIRECTORY_EVENTS), topic(REFERRAL_EVENTS)) as reader,
    ):
        before = (await http.get(f"{referral.url}/v1/directory/export")).json()
        bad_csv = (
            "agency_id,label_es,label_en,agency_kind,country,contact_role,office_hours,response_time_hours\n"
            "hn-good,Buena,Good,ngo,HN,Mesa,1-5 08:00-16:00,8\n"
            "HN BAD,Mala,Bad,ngo,HN,Mesa,1-5 08:00-16:00,8\n"
            "hn-late,Tarde,Late,ngo,HN,Mesa,monday mornings,8\n"
        )
        refused = await http.post(
            f"{referral.url}/v1/directory/import/agencies.csv",
            content=bad_csv,
            headers={"Content-Type": "text/csv"},
        )
        assert refused.status_code == 422, refused.text
        assert "agencies.csv row 3" in refused.json()["detail"]
        assert "agencies.csv row 4" in refused.json()["detail"]
        assert (await http.get(f"{referral.url}/v1/directory/export")).json() == before  # nothing half-way

        new = agency("hn-inj", 8)
        created = await http.put(
            f"{referral.url}/v1/directory/agencies/hn-inj",
            json={k: v for k, v in new.items() if k != "agency_id"},
        )
        assert created.status_code == 201, created.text
        unchanged = await http.put(
            f"{referral.url}/v1/directory/agencies/hn-inj",
            json={k: v for k, v in new.items() if k != "agency_id"},
        )
        assert unchanged.status_code == 200
        svc = {
            k: v
            for k, v in service("HN-INJ-YOUTH", "hn-inj", "education", municipalities=["HN-0501"]).items()
            if k != "service_id"
        }
        assert (
            await http.put(f"{referral.url}/v1/directory/services/HN-INJ-YOUTH", json=svc)
        ).status_code == 201
        found = (
            await http.get(
                f"{referral.url}/v1/directory/services",
                params={"municipality": "HN-0501", "category": "education", "age": 30},
            )
        ).json()
        assert [s["service_id"] for s in found] == ["HN-INJ-YOUTH"]

        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
        finally:
            await admin.close()
        assert {topic(partner_topic("hn-inj")), topic(partner_responses_topic("hn-inj"))} <= existing

        await reader.wait_for(
            lambda rs: (
                sum(
                    1
                    for r in rs
                    if header(r, "ce_type") == "org.reintegra.directory.agency_changed.v1"
                    and b"hn-inj" in r.value
                )
                == 1
                and any(
                    header(r, "ce_type") == "org.reintegra.directory.service_changed.v1"
                    and b"HN-INJ-YOUTH" in r.value
                    for r in rs
                )
            ),
            what="one agency_changed (the unchanged PUT adds none) and one service_changed",
        )

        # a need for the new service; the new agency answers on its new topic (picked up by pattern)
        async with kafka_agency(
            kafka_bootstrap, referral.env["REINTEGRA_TOPIC_PREFIX"], "hn-inj", ServiceCategory.EDUCATION
        ):
            case_id, _ = await send_case(kafka_bootstrap, topic, ServiceCategory.EDUCATION)
            await reader.wait_for(
                lambda rs: any(
                    header(r, "ce_type") == "org.reintegra.referral.referral_completed.v1"
                    and r.key == str(case_id).encode()
                    for r in rs
                ),
                what="the new agency's answers consumed from its new responses topic",
                timeout_s=90,
            )
