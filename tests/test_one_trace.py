"""One returnee, one trace, read back from a real tracing backend (Jaeger, docs/adr/0020-tracing-backend.md).

The four services run as real processes and export OTLP to Jaeger. An arrival is registered over HTTP,
a case worker completes the assessment over HTTP, the agency answers the referral over referral's
partner HTTP API, and a follow-up timer fires. Jaeger's query API then returns ONE trace — the case's —
with spans of all four services: the arrival's HTTP server span, ``send <topic>`` producer spans,
``process <topic>`` consumer spans, the ``fire timer followup.due`` span, and the ``(case)`` spans
through which the human steps joined the case's trace, each linked to the request's own trace (where its
HTTP server span is). Names and attributes follow the OpenTelemetry messaging conventions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
import pytest
from reintegra_contracts.topics import ALL_EVENT_TOPICS, RECEPTION_EVENTS, partner_topic
from reintegra_kit.testing.auth import HN_CENTRE, TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header

from .support import ServiceProcess, arrival_payload, record_consent

pytestmark = [pytest.mark.connected, pytest.mark.processes, pytest.mark.tracing]

Launch = Callable[..., Awaitable[ServiceProcess]]
Span = dict[str, Any]

SERVER, INTERNAL, PRODUCER, CONSUMER = 2, 1, 4, 5
KINDS = {1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}


class Api:
    """The test's one way to call the services over HTTP, so that credentials (bearer tokens, once
    every route requires them) are added in one place: ``as_`` names who calls."""

    def __init__(self, http: httpx.AsyncClient, auth: TestIssuer) -> None:
        self._http, self._auth = http, auth

    async def call(
        self,
        method: str,
        url: str,
        *,
        as_: str,
        agency: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        expect: int = 200,
    ) -> Any:
        if agency is not None:  # an agency partner: its token names the agency
            headers = {**self._auth.agency(agency), "Idempotency-Key": uuid4().hex}
        else:  # a member of the reception centre's staff with the one role the step needs
            headers = self._auth.headers(as_, centre=HN_CENTRE, country="HN")
        response = await self._http.request(method, url, json=json, params=params, headers=headers)
        assert response.status_code == expect, (
            f"{method} {url} as {as_}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None


# -- Jaeger's query API (/api/v3, OTLP JSON) ---------------------------------------------------------


def read_trace(traces_url: str, trace_id: str) -> list[Span]:
    response = httpx.get(f"{traces_url}/api/v3/traces/{trace_id}", timeout=10)
    assert response.status_code == 200, f"trace {trace_id}: {response.status_code} {response.text[:300]}"
    return [
        {**span, "service": _resource_attribute(rs["resource"], "service.name")}
        for rs in response.json()["result"]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def wait_for_trace(traces_url: str, trace_id: str, done: Callable[[list[Span]], bool]) -> list[Span]:
    deadline = time.monotonic() + 30
    spans: list[Span] = []
    while time.monotonic() < deadline:
        response = httpx.get(f"{traces_url}/api/v3/traces/{trace_id}", timeout=10)
        if response.status_code == 200:
            spans = read_trace(traces_url, trace_id)
            if done(spans):
                return spans
        time.sleep(0.5)
    names = sorted({f"{s['service']}: {s['name']}" for s in spans})
    raise AssertionError(f"trace {trace_id} incomplete after 30 s: {names}")


def _resource_attribute(resource: dict[str, Any], key: str) -> str:
    return str(next(a["value"]["stringValue"] for a in resource["attributes"] if a["key"] == key))


def attrs(span: Span) -> dict[str, str]:
    """A span's attributes as text (OTLP JSON writes 64-bit integers as strings)."""
    return {a["key"]: str(next(iter(a["value"].values()))) for a in span.get("attributes", [])}


def kind(span: Span) -> int:
    value = span["kind"]
    return value if isinstance(value, int) else {v: k for k, v in KINDS.items()}[value]


def typ(record: Any) -> str:
    return header(record, "ce_type") or ""


def named(spans: list[Span], name: str, service: str | None = None) -> list[Span]:
    return [s for s in spans if s["name"] == name and (service is None or s["service"] == service)]


# -- the test ----------------------------------------------------------------------------------------


async def test_one_returnee_is_one_trace_in_jaeger_across_the_four_services(
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    tracing_backend: tuple[str, str],
    auth: TestIssuer,
) -> None:
    otlp, traces_url = tracing_backend
    export = {"REINTEGRA_OTLP_ENDPOINT": otlp}
    reception, assessment, referral, followup = await asyncio.gather(
        launch("reception", **export),
        launch("assessment", **export),
        launch("referral", **export),
        # the check of each referral falls due seconds after it was made: the timer fires in the test
        launch(
            "followup", **export, REINTEGRA_FIRST_FOLLOWUP_AFTER="P90D", REINTEGRA_REFERRAL_CHECK_AFTER="PT8S"
        ),
    )
    agency = "hn-senaeh"
    topics = [topic(t) for t in ALL_EVENT_TOPICS] + [topic(partner_topic(agency))]
    async with TopicReader(kafka_bootstrap, *topics) as reader, httpx.AsyncClient(timeout=15) as http:
        api = Api(http, auth)
        # 1. reception registers the arrival (the case's trace starts here)
        arrival = await api.call(
            "POST",
            f"{reception.url}/v1/arrivals",
            as_="reception_officer",
            json=arrival_payload(),
            expect=201,
        )
        case_id = arrival["case_id"]
        records = await reader.wait_for(
            lambda rs: any(
                typ(r).endswith("assessment_scheduled.v1") for r in rs if r.key == case_id.encode()
            ),
            what="assessment_scheduled",
        )
        [registered] = [r for r in records if typ(r).endswith("arrival_registered.v1")]
        case_trace = (header(registered, "traceparent") or "").split("-")[1]
        await record_consent(kafka_bootstrap, topic, case_id, traceparent=header(registered, "traceparent"))

        # 2. a case worker completes the assessment (a request with a trace of its own)
        [found] = await api.call(
            "GET", f"{assessment.url}/v1/assessments", as_="case_worker", params={"case_id": case_id}
        )
        await api.call(
            "POST",
            f"{assessment.url}/v1/assessments/{found['assessment_id']}/completion",
            as_="case_worker",
            json={
                "needs": [{"category": "employment", "priority": "high"}],
                "scores": {"economic": 0.2, "social": 0.5, "psychosocial": 0.7, "composite": 0.45},
            },
        )

        # 3. the agency receives, accepts, starts and delivers over referral's partner API
        async def shared() -> dict[str, Any] | None:
            listed = await api.call(
                "GET", f"{referral.url}/v1/referrals", as_="case_worker", params={"case_id": case_id}
            )
            return next((r for r in listed if r["agency_id"] == agency and r["status"] == "requested"), None)

        deadline = time.monotonic() + 30
        while (ref := await shared()) is None:
            assert time.monotonic() < deadline, "no referral reached the agency"
            await asyncio.sleep(0.3)
        answers = f"{referral.url}/v1/partner/referrals/{ref['referral_id']}"
        for step, body in (
            ("receipt", {}),
            ("acceptance", {"contact_point": "employment desk"}),
            ("start", {}),
            ("deliveries", {"delivery_id": str(uuid4()), "final": True, "outcome": "met"}),
        ):
            await api.call("POST", f"{answers}/{step}", as_="agency_partner", agency=agency, json=body)

        # 4. the referral check falls due: follow-up's durable timer fires
        def every_step_published(rs: list[Any]) -> bool:
            mine = [typ(r) for r in rs if r.key == case_id.encode()]
            return any(t.endswith("followup_due.v1") for t in mine) and any(
                t.endswith("referral.service_delivered.v1") for t in mine
            )

        records = await reader.wait_for(
            every_step_published, what="the delivery and the due follow-up", timeout_s=45
        )
    for proc in (reception, assessment, referral, followup):
        await asyncio.to_thread(proc.stop)  # SIGTERM flushes the batch span processor

    # Every record of the case carries the case's trace, also as the CloudEvents tracing extension.
    case_records = [r for r in records if r.key == case_id.encode()]
    partner_records = [r for r in case_records if r.topic == topic(partner_topic(agency))]
    assert partner_records, "the agency got nothing on its topic"
    produced = [r for r in case_records if (header(r, "ce_source") or "").startswith("/reintegra/")]
    produced = [r for r in produced if typ(r) != "org.reintegra.reception.consent_recorded.v1"]
    for r in produced:
        assert header(r, "ce_traceparent") == header(r, "traceparent"), header(r, "ce_type")
        assert (header(r, "traceparent") or "").split("-")[1] == case_trace, header(r, "ce_type")
        assert header(r, "correlation_id") is None

    spans = wait_for_trace(
        traces_url,
        case_trace,
        lambda ss: (
            bool(named(ss, "fire timer followup.due"))
            and {s["service"] for s in ss}
            >= {f"reintegra-{n}" for n in ("reception", "assessment", "referral", "followup")}
        ),
    )
    by_id = {s["spanId"]: s for s in spans}
    assert {s["traceId"] for s in spans} == {case_trace}
    assert {s["service"] for s in spans} == {
        "reintegra-reception",
        "reintegra-assessment",
        "reintegra-referral",
        "reintegra-followup",
    }

    # the arrival's HTTP server span is the root
    [root] = named(spans, "POST /v1/arrivals", "reintegra-reception")
    assert kind(root) == SERVER
    assert not root.get("parentSpanId")
    assert attrs(root)["http.route"] == "/v1/arrivals"

    # outbox relay: "send <topic>" PRODUCER spans with the record's key, partition and offset
    reception_topic = topic(RECEPTION_EVENTS)
    sends = named(spans, f"send {reception_topic}", "reintegra-reception")
    assert sends
    for send in sends:
        a = attrs(send)
        assert kind(send) == PRODUCER
        assert a["messaging.system"] == "kafka"
        assert a["messaging.operation.type"] == "send"
        assert a["messaging.operation.name"] == "send"
        assert a["messaging.destination.name"] == reception_topic
        assert a["messaging.kafka.message.key"] == case_id
        assert int(a["messaging.destination.partition.id"]) >= 0
        assert int(a["messaging.kafka.offset"]) >= 0
    # ... the record read from Kafka is the one the span names
    [sent] = [s for s in sends if attrs(s)["messaging.message.id"] == header(registered, "ce_id")]
    assert int(attrs(sent)["messaging.destination.partition.id"]) == registered.partition
    assert int(attrs(sent)["messaging.kafka.offset"]) == registered.offset
    # the agency's partner topic too
    partner_sends = named(spans, f"send {topic(partner_topic(agency))}", "reintegra-referral")
    assert partner_sends
    assert all(kind(s) == PRODUCER for s in partner_sends)

    # consumers: "process <topic>" CONSUMER spans, children of the producer span of their record
    processed = named(spans, f"process {reception_topic}", "reintegra-assessment")
    assert processed
    for process in processed:
        a = attrs(process)
        assert kind(process) == CONSUMER
        assert a["messaging.system"] == "kafka"
        assert a["messaging.operation.type"] == "process"
        assert a["messaging.destination.name"] == reception_topic
        assert a["messaging.consumer.group.name"] == assessment.group  # type: ignore[attr-defined]
        assert int(a["messaging.destination.partition.id"]) >= 0
        assert int(a["messaging.kafka.offset"]) >= 0
        assert a["messaging.kafka.message.key"] == case_id
        parent = by_id[process["parentSpanId"]]
        assert parent["name"] == f"send {reception_topic}"
        assert attrs(parent)["messaging.message.id"] == a["messaging.message.id"]
    for service in ("reintegra-referral", "reintegra-followup"):
        assert any(
            s["name"].startswith("process ") and kind(s) == CONSUMER for s in spans if s["service"] == service
        )

    # the durable timer: one span per firing, in the case's trace, with what fired
    [fired, *_] = named(spans, "fire timer followup.due", "reintegra-followup")
    a = attrs(fired)
    assert kind(fired) == INTERNAL
    assert a["reintegra.timer.kind"] == "followup.due"
    assert a["reintegra.case_id"] == case_id
    assert a["reintegra.timer.key"]
    assert float(a["reintegra.timer.lateness_s"]) >= 0
    assert any(
        s["name"] == f"send {topic('reintegra.followup.events.v1')}" and s.get("parentSpanId") for s in spans
    )

    # the human steps joined the case's trace through "(case)" spans linked to their request's own trace,
    # whose root is the HTTP server span of the request
    def linked_request(service: str, route: str) -> Span:
        for case_span in [s for s in spans if s["service"] == service and s["name"].endswith(" (case)")]:
            for link in case_span.get("links", []):
                own = read_trace(traces_url, link["traceId"])
                assert link["traceId"] != case_trace
                assert any(s["spanId"] == link["spanId"] for s in own)
                for s in own:
                    if kind(s) == SERVER and attrs(s).get("http.route") == route:
                        return s
        raise AssertionError(f"no (case) span of {service} links a request to {route}")

    completion = linked_request("reintegra-assessment", "/v1/assessments/{assessment_id}/completion")
    assert completion["name"] == "POST /v1/assessments/{assessment_id}/completion"
    for step in ("receipt", "acceptance", "start", "deliveries"):
        answer = linked_request("reintegra-referral", f"/v1/partner/referrals/{{referral_id}}/{step}")
        assert answer["service"] == "reintegra-referral"
