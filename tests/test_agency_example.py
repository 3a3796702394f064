"""The example agency consumer (contracts/examples/agency_consumer.py) against a real Kafka broker.

It reads its partner topic and the follow-up case events, answers each referral with CloudEvents
commands (a receipt, then an acceptance) on its own responses topic that both our decoder and the
official CloudEvents SDK read,
and survives records that are not valid Reintegra messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import ConsumerRecord
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event
from reintegra_contracts import decode, encode
from reintegra_contracts.codelists import ServiceCategory
from reintegra_contracts.events.followup import CaseClosed
from reintegra_contracts.events.partner import AcceptReferral, PartnerReferralRequested
from reintegra_contracts.samples import example_of
from reintegra_contracts.topics import FOLLOWUP_EVENTS, partner_responses_topic, partner_topic
from reintegra_kit.testing.kafka import TopicReader, header, produce, wait_until_caught_up

pytestmark = [pytest.mark.connected]

EXAMPLE = Path(__file__).resolve().parents[1] / "contracts" / "examples" / "agency_consumer.py"
AGENCY = "hn-sne"
REFERRAL_SOURCE = "/reintegra/referral"
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

Records = list[ConsumerRecord[Any, Any]]


@pytest.fixture(scope="module")
def agency() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agency_consumer_example_connected", EXAMPLE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def prefix(topic_prefix: str) -> str:
    """A topic namespace (and consumer group) of this test alone."""
    return f"{topic_prefix}agency-{uuid4().hex[:6]}."


@pytest.fixture
async def running_agency(
    agency: ModuleType, kafka_bootstrap: str, prefix: str
) -> AsyncIterator[Callable[[], asyncio.Task[None]]]:
    """Starts the example consumer as a task (after the test has produced what it wants) and stops it."""
    tasks: list[asyncio.Task[None]] = []
    policy = agency.AgencyPolicy(agency_id=AGENCY, categories=frozenset({ServiceCategory.EMPLOYMENT}))

    def start() -> asyncio.Task[None]:
        task = asyncio.create_task(agency.run(kafka_bootstrap, policy, topic_prefix=prefix))
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _nothing_more(bootstrap: str, prefix: str, reader: TopicReader) -> None:
    """Deterministically, every answer the agency will give to what was produced so far: its group
    has committed every input record (it commits only after its answers are acknowledged), then the
    answers are read to the end of their topic."""
    inputs = [prefix + partner_topic(AGENCY), prefix + FOLLOWUP_EVENTS]
    await wait_until_caught_up(bootstrap, f"{prefix}agency-{AGENCY}", inputs)
    await reader.read_to_end()


def _referral(category: ServiceCategory = ServiceCategory.EMPLOYMENT) -> PartnerReferralRequested:
    view = example_of(PartnerReferralRequested)
    return view.model_copy(
        update={"case_id": uuid4(), "referral_id": uuid4(), "agency_id": AGENCY, "category": category}
    )


async def _send_view(bootstrap: str, prefix: str, view: PartnerReferralRequested) -> None:
    record = encode(view, source=REFERRAL_SOURCE)
    assert record.topic == partner_topic(AGENCY)
    headers = [*record.headers, ("traceparent", TRACEPARENT)]
    await produce(bootstrap, prefix + record.topic, record.value, key=record.key, headers=headers)


async def _wait_for_answers(
    reader: TopicReader, task: asyncio.Task[None], referral_ids: set[UUID], *, timeout_s: float = 45.0
) -> Records:
    """The answers to ``referral_ids``, failing at once if the consumer task died."""

    def answered(records: Records) -> bool:
        if task.done():
            raise AssertionError(f"the agency consumer stopped: {task.exception()!r}")
        seen = {decode(r.headers, r.value).event.referral_id for r in records}  # type: ignore[attr-defined]
        return referral_ids <= seen

    await reader.wait_for(answered, timeout_s=timeout_s, what=f"answers to {len(referral_ids)} referral(s)")
    return reader.records


def _check_cloudevent(record: ConsumerRecord[Any, Any], view: PartnerReferralRequested) -> AcceptReferral:
    """The answer is a valid CloudEvents Kafka record for our decoder and for the official SDK."""
    case_id = str(view.case_id)
    assert record.key == case_id.encode()
    assert header(record, "ce_specversion") == "1.0"
    assert header(record, "ce_type") == AcceptReferral.event_type
    assert header(record, "ce_source") == f"urn:reintegra:agency:{AGENCY}"
    assert header(record, "ce_subject") == case_id
    assert header(record, "content-type") == "application/json"
    assert header(record, "traceparent") == TRACEPARENT.decode()  # the answer continues the trace

    decoded = decode(record.headers, record.value)
    assert isinstance(decoded.event, AcceptReferral)
    assert decoded.event.referral_id == view.referral_id
    assert decoded.event.agency_id == AGENCY
    assert decoded.event.case_id == view.case_id

    event = from_kafka_event(KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value))
    assert event.get_type() == AcceptReferral.event_type
    assert event.get_subject() == case_id
    assert event.get_source() == f"urn:reintegra:agency:{AGENCY}"
    assert event.get_id() == header(record, "ce_id")
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["referral_id"] == str(view.referral_id)
    return decoded.event


async def test_the_example_agency_accepts_a_referral_over_kafka(
    kafka_bootstrap: str, prefix: str, running_agency: Callable[[], asyncio.Task[None]]
) -> None:
    view = _referral()
    await _send_view(kafka_bootstrap, prefix, view)
    closed = example_of(CaseClosed).model_copy(update={"case_id": uuid4()})
    case_record = encode(closed, source="/reintegra/followup")
    assert case_record.topic == FOLLOWUP_EVENTS
    await produce(
        kafka_bootstrap,
        prefix + case_record.topic,
        case_record.value,
        key=case_record.key,
        headers=case_record.headers,
    )

    async with TopicReader(kafka_bootstrap, prefix + partner_responses_topic(AGENCY)) as reader:
        task = running_agency()
        await _wait_for_answers(reader, task, {view.referral_id})
        await _nothing_more(kafka_bootstrap, prefix, reader)  # the case event is read, answered by nothing
        receipt, answer = reader.records
        assert header(receipt, "ce_type") == "org.reintegra.partner.receive_referral.v1"
        _check_cloudevent(answer, view)
        assert not task.done()


async def test_malformed_records_do_not_stop_the_example_agency(
    kafka_bootstrap: str, prefix: str, running_agency: Callable[[], asyncio.Task[None]]
) -> None:
    topic = prefix + partner_topic(AGENCY)
    first = _referral()
    good = encode(first, source=REFERRAL_SOURCE)
    bad_headers = [(k, v) for k, v in good.headers if k != "ce_type"] + [("ce_type", b"\xff")]
    malformed: list[tuple[bytes, list[tuple[str, bytes]]]] = [
        (b"not json at all", []),  # no CloudEvents headers
        (b"\xff\xfe{", list(good.headers)),  # valid headers, data not JSON
        (b'{"case_id": "nope"}', list(good.headers)),  # JSON that is not the event
        (good.value, bad_headers),  # ce_type not UTF-8
    ]
    for value, headers in malformed:
        await produce(kafka_bootstrap, topic, value, key=good.key, headers=headers)
    await produce(kafka_bootstrap, topic, b"", key=None)  # an empty record

    async with TopicReader(kafka_bootstrap, prefix + partner_responses_topic(AGENCY)) as reader:
        task = running_agency()
        # The malformed records sit before the first good one: it is answered only if they were skipped.
        await _send_view(kafka_bootstrap, prefix, first)
        await _wait_for_answers(reader, task, {first.referral_id})
        # More bad data, then another referral, while the consumer runs.
        await produce(kafka_bootstrap, topic, b"\x00garbage", key=b"x", headers=[("ce_type", b"nope")])
        second = _referral()
        await _send_view(kafka_bootstrap, prefix, second)
        records = await _wait_for_answers(reader, task, {first.referral_id, second.referral_id})
        await _nothing_more(kafka_bootstrap, prefix, reader)

    assert not task.done()
    assert len(reader.records) == 4, [
        header(r, "ce_type") for r in reader.records
    ]  # receipt + acceptance each
    accepted = [r for r in records if header(r, "ce_type") == AcceptReferral.event_type]
    by_referral = {decode(r.headers, r.value).event.referral_id: r for r in accepted}  # type: ignore[attr-defined]
    _check_cloudevent(by_referral[first.referral_id], first)
    _check_cloudevent(by_referral[second.referral_id], second)
