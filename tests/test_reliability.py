"""Effectively-once processing, dead letters, crash recovery and timers, on real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from reintegra_contracts import encode
from reintegra_contracts.codelists import ReturnType, Sex, TransportMode
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.topics import ASSESSMENT_EVENTS, FOLLOWUP_EVENTS, RECEPTION_EVENTS, dead_letter_topic
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, consumer_lag, header, produce, wait_until_caught_up
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .support import ServiceProcess, TcpProxy, arrival_payload

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]


def arrival(arrived_at: datetime | None = None, case_id: UUID | None = None) -> ArrivalRegistered:
    now = datetime.now(UTC)
    return ArrivalRegistered(
        case_id=case_id or uuid4(),
        returnee_id=uuid4(),
        arrived_at=arrived_at or now,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        age=31,
        sex=Sex.MALE,
        destination_municipality="HN-0801",
        registered_at=now,
    )


async def send(bootstrap: str, topic: str, event: ArrivalRegistered, event_id: str | None = None) -> str:
    record = encode(event, source="/reintegra/reception", event_id=event_id)
    await produce(bootstrap, topic, record.value, key=record.key, headers=record.headers)
    return dict(record.headers)["ce_id"].decode()


async def scalar(db_url: str, sql: str, **params: Any) -> Any:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()
    finally:
        await engine.dispose()


def of_type(records: list[Any], short_type: str) -> list[Any]:
    return [r for r in records if header(r, "ce_type") == f"org.reintegra.{short_type}.v1"]


async def wait_until(probe: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 45.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def outbox_drained(service: ServiceProcess) -> None:
    """Wait until everything ``service`` committed is published."""
    db = service.db_url  # type: ignore[attr-defined]

    async def empty() -> bool:
        return int(await scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 0

    await wait_until(empty, f"{service.name}'s outbox to drain")


async def nothing_more(
    bootstrap: str, reader: TopicReader, service: ServiceProcess, inputs: list[str]
) -> list[Any]:
    """Everything ``service`` will ever write for what was produced to ``inputs`` so far, read
    deterministically: its group has committed all of it, its outbox is published, and ``reader``
    has read its topics to their end offsets."""
    await wait_until_caught_up(bootstrap, service.group, inputs)  # type: ignore[attr-defined]
    await outbox_drained(service)
    return await reader.read_to_end()


async def test_the_same_event_delivered_twice_changes_nothing_the_second_time(
    launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    # Follow-up has no natural deduplication: without the inbox, a second delivery would schedule
    # a second follow-up.
    followup = await launch("followup")
    event = arrival()
    event_id = await send(kafka_bootstrap, topic(RECEPTION_EVENTS), event)
    await send(kafka_bootstrap, topic(RECEPTION_EVENTS), event, event_id=event_id)

    async with TopicReader(kafka_bootstrap, topic(FOLLOWUP_EVENTS)) as reader:
        await reader.wait_for(lambda rs: bool(of_type(rs, "followup.followup_scheduled")), what="a follow-up")
        await nothing_more(kafka_bootstrap, reader, followup, [topic(RECEPTION_EVENTS)])
        assert len(of_type(reader.records, "followup.followup_scheduled")) == 1
    db = followup.db_url  # type: ignore[attr-defined]
    assert await scalar(db, "SELECT count(*) FROM followups WHERE case_id = :c", c=event.case_id) == 1
    assert await scalar(db, "SELECT count(*) FROM inbox WHERE event_id = :e", e=event_id) == 1


async def test_bad_messages_are_parked_with_the_reason_and_the_partition_moves_on(
    launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    assessment = await launch("assessment", REINTEGRA_HANDLER_ATTEMPTS="3")
    case_id = uuid4()
    key = str(case_id).encode()  # same key: same partition, in this order
    source = topic(RECEPTION_EVENTS)
    # 1. not a CloudEvent at all
    await produce(kafka_bootstrap, source, b"{not json", key=key)
    # 2. a valid event whose handler always fails: its assessment date overflows the calendar
    poison = arrival(arrived_at=datetime(9999, 12, 31, 12, tzinfo=UTC), case_id=case_id)
    poison_id = await send(kafka_bootstrap, source, poison)
    # 3. a good event after both
    good = arrival(case_id=case_id)
    await send(kafka_bootstrap, source, good)

    async with TopicReader(kafka_bootstrap, dead_letter_topic(source), topic(ASSESSMENT_EVENTS)) as reader:
        await reader.wait_for(
            lambda rs: (
                len([r for r in rs if r.topic.endswith(".dlq")]) == 2
                and bool(of_type(rs, "assessment.assessment_scheduled"))
            ),
            what="two parked messages and the good one processed",
            timeout_s=45,
        )
    parked = [r for r in reader.records if r.topic.endswith(".dlq")]
    malformed, failing = parked
    assert malformed.value == b"{not json"
    assert "missing CloudEvents header(s)" in (header(malformed, "reintegra_dlq_reason") or "")
    assert header(malformed, "reintegra_dlq_attempts") == "0"
    assert header(failing, "ce_id") == poison_id
    assert header(failing, "reintegra_dlq_error_type") == "OverflowError"
    assert header(failing, "reintegra_dlq_attempts") == "3"
    assert header(failing, "reintegra_dlq_original_topic") == source
    assert header(failing, "reintegra_dlq_consumer_group") == assessment.group  # type: ignore[attr-defined]
    db = assessment.db_url  # type: ignore[attr-defined]
    assert await scalar(db, "SELECT count(*) FROM assessments WHERE case_id = :c", c=case_id) == 1
    assert await asyncio.to_thread(assessment.stop) == 0


async def test_a_service_killed_after_commit_and_before_publish_publishes_on_restart(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    # The relay is off in the first life, so the arrival is committed but cannot be published
    # before the process is killed.
    reception = await launch("reception", REINTEGRA_RELAY_ENABLED="false")
    assessment = await launch("assessment")
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        response = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
    assert response.status_code == 201
    case_id = response.json()["case_id"]
    reception.kill()
    db = reception.db_url  # type: ignore[attr-defined]
    assert await scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1

    async with TopicReader(kafka_bootstrap, topic(RECEPTION_EVENTS), topic(ASSESSMENT_EVENTS)) as reader:
        await reader.read_to_end()  # reception is dead: nothing more can come
        assert of_type(reader.records, "reception.arrival_registered") == []
        await asyncio.to_thread(reception.start, 60.0, REINTEGRA_RELAY_ENABLED="true")
        await reader.wait_for(
            lambda rs: bool(of_type(rs, "assessment.assessment_scheduled")),
            what="the arrival, published late",
        )
        await outbox_drained(reception)
        await nothing_more(kafka_bootstrap, reader, assessment, [topic(RECEPTION_EVENTS)])
    arrivals = of_type(reader.records, "reception.arrival_registered")
    assert [r.key.decode() for r in arrivals] == [case_id]
    assert len(of_type(reader.records, "assessment.assessment_scheduled")) == 1
    assert await scalar(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    assert await scalar(assessment.db_url, "SELECT count(*) FROM assessments") == 1  # type: ignore[attr-defined]


async def test_a_followup_timer_fires_exactly_once_with_two_followup_processes(
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    shared = await make_database("followup")
    # Small batches and a fast tick make the two timers contend for the same rows many times.
    settings = {
        "REINTEGRA_FIRST_FOLLOWUP_AFTER": "PT4S",
        "REINTEGRA_TIMER_INTERVAL_S": "0.02",
        "REINTEGRA_TIMER_BATCH_SIZE": "3",
    }
    first, _ = await asyncio.gather(
        launch("followup", database_url=shared, **settings),
        launch("followup", database_url=shared, **settings),
    )
    cases = 60
    now = datetime.now(UTC)
    for _ in range(cases):
        await send(kafka_bootstrap, topic(RECEPTION_EVENTS), arrival(arrived_at=now - timedelta(seconds=1)))

    async with TopicReader(kafka_bootstrap, topic(FOLLOWUP_EVENTS)) as reader:
        await reader.wait_for(
            lambda rs: len(of_type(rs, "followup.followup_due")) >= cases,
            what="every follow-up due",
            timeout_s=45,
        )

        async def every_timer_fired() -> bool:
            return int(await scalar(shared, "SELECT count(*) FROM timers WHERE status = 'scheduled'")) == 0

        await wait_until(every_timer_fired, "every timer fired")  # no timer left that could fire again
        await nothing_more(kafka_bootstrap, reader, first, [topic(RECEPTION_EVENTS)])
    due = of_type(reader.records, "followup.followup_due")
    followup_ids = [r.value for r in due]
    assert len(due) == cases
    assert len(set(followup_ids)) == cases
    assert await scalar(shared, "SELECT count(*) FROM followups WHERE status = 'due'") == cases
    assert await scalar(shared, "SELECT count(*) FROM outbox WHERE event_type LIKE '%followup_due%'") == cases


async def test_an_event_that_met_a_database_outage_is_handled_once_the_database_is_back(
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    # The offset of a record whose handling failed on an outage must stay uncommitted, so that the
    # record comes again: committing before the work (at-most-once) would lose it here.
    proxy, via_proxy = TcpProxy.for_url(await make_database("assessment"))
    try:
        assessment = await launch(
            "assessment", database_url=via_proxy, REINTEGRA_INFRASTRUCTURE_RETRY_S="0.5"
        )
        proxy.cut()
        event = arrival()
        await send(kafka_bootstrap, topic(RECEPTION_EVENTS), event)
        await asyncio.to_thread(assessment.wait_for_log, "consumer.infrastructure_error")
        proxy.restore()
        async with TopicReader(kafka_bootstrap, topic(ASSESSMENT_EVENTS)) as reader:
            await reader.wait_for(
                lambda rs: any(r.key == str(event.case_id).encode() for r in rs),
                what="the arrival handled after the outage",
                timeout_s=60,
            )
            await nothing_more(kafka_bootstrap, reader, assessment, [topic(RECEPTION_EVENTS)])
        assert len(of_type(reader.records, "assessment.assessment_scheduled")) == 1
        db = assessment.db_url  # type: ignore[attr-defined]
        assert await scalar(db, "SELECT count(*) FROM assessments WHERE case_id = :c", c=event.case_id) == 1
    finally:
        proxy.close()


async def test_a_consumer_killed_in_the_middle_of_a_handler_handles_the_event_after_restart(
    launch: Launch,
    topic: Callable[[str], str],
    kafka_bootstrap: str,
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    proxy, via_proxy = TcpProxy.for_url(await make_database("followup"))
    try:
        # Only the consumer talks to the database in the first life (no relay, no timers), so the
        # first bytes held by the stalled proxy are the handler's.
        quiet = {"REINTEGRA_RELAY_ENABLED": "false", "REINTEGRA_TIMER_ENABLED": "false"}
        followup = await launch("followup", database_url=via_proxy, **quiet)
        group, inputs = followup.group, [topic(RECEPTION_EVENTS)]  # type: ignore[attr-defined]
        proxy.stall()  # the database hangs: the handler will wait in the middle of its transaction
        event = arrival()
        await send(kafka_bootstrap, topic(RECEPTION_EVENTS), event)
        await wait_until(lambda: _async(bool(proxy.held)), "the handler to start")
        # While the handler waits, its record must stay uncommitted. (An at-most-once consumer commits
        # it within aiokafka's 5 s auto-commit interval: watch a little longer than that.)
        watch_until = time.monotonic() + 7
        while time.monotonic() < watch_until:
            assert sum((await consumer_lag(kafka_bootstrap, group, inputs)).values()) == 1
            await asyncio.sleep(0.5)
        followup.kill()
        proxy.restore()
        await asyncio.to_thread(followup.start, 60.0, REINTEGRA_RELAY_ENABLED="true")
        async with TopicReader(kafka_bootstrap, topic(FOLLOWUP_EVENTS)) as reader:
            await reader.wait_for(
                lambda rs: any(r.key == str(event.case_id).encode() for r in rs),
                what="the event handled after the restart",
                timeout_s=60,
            )
            await nothing_more(kafka_bootstrap, reader, followup, inputs)
        assert len(of_type(reader.records, "followup.followup_scheduled")) == 1
        db = followup.db_url  # type: ignore[attr-defined]
        assert await scalar(db, "SELECT count(*) FROM followups WHERE case_id = :c", c=event.case_id) == 1
    finally:
        proxy.close()


async def _async(value: bool) -> bool:
    return value
