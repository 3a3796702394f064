"""CloudEvents binary mode: round trips, interop with the CloudEvents SDK, and typed errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from reintegra_contracts import (
    EnvelopeError,
    Event,
    EventValidationError,
    UnknownEventTypeError,
    all_event_classes,
    decode,
    decode_data,
    encode,
    headers_to_attributes,
)
from reintegra_contracts.events.partner import PartnerReferralRequested
from reintegra_contracts.events.reception import ArrivalRegistered

SOURCE = "urn:reintegra:service:test"
ARRIVAL = "org.reintegra.reception.arrival_registered.v1"


@pytest.mark.parametrize("cls", all_event_classes(), ids=lambda c: c.__name__)
def test_every_message_round_trips_through_kafka_binary_mode(
    cls: type[Event], examples: dict[str, Event]
) -> None:
    event = examples[cls.event_type]
    record = encode(event, source=SOURCE, time=datetime(2025, 3, 10, 15, 0, tzinfo=UTC))
    headers = dict(record.headers)
    assert headers["ce_type"] == cls.event_type.encode()
    assert headers["ce_subject"] == record.key == str(event.case_id).encode()
    assert headers["content-type"] == b"application/json"
    assert headers["ce_time"] == b"2025-03-10T15:00:00Z"
    decoded = decode(record.headers, record.value)
    assert decoded.event == event
    assert decoded.attributes.source == SOURCE


def test_partner_views_go_to_the_agency_topic(examples: dict[str, Event]) -> None:
    view = examples["org.reintegra.partner.referral_requested.v1"]
    assert isinstance(view, PartnerReferralRequested)
    assert encode(view, source=SOURCE).topic == f"reintegra.partner.{view.agency_id}.v1"


def test_the_cloudevents_sdk_reads_our_records(examples: dict[str, Event]) -> None:
    from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
    from cloudevents.core.formats.json import JSONFormat

    event = examples[ARRIVAL]
    record = encode(
        event, source=SOURCE, extensions={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    )
    ce = from_binary(
        KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value), JSONFormat()
    )
    assert ce.get_type() == ARRIVAL
    assert ce.get_subject() == str(event.case_id)
    assert ArrivalRegistered.model_validate(ce.get_data()) == event


def test_we_read_records_written_by_the_cloudevents_sdk(examples: dict[str, Event]) -> None:
    from cloudevents.core.bindings.kafka import to_binary
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    event = examples[ARRIVAL]
    ce = CloudEvent(
        attributes={
            "type": ARRIVAL,
            "source": "urn:agency:x",
            "id": str(uuid4()),
            "subject": str(event.case_id),
            "datacontenttype": "application/json",
            "time": datetime.now(UTC),
        },
        data=json.loads(event.model_dump_json()),
    )
    message = to_binary(ce, JSONFormat())
    assert decode(list(message.headers.items()), message.value).event == event


# --- bad input: each gives a typed error naming the problem ------------------------------------


def _record(examples: dict[str, Event]) -> tuple[list[tuple[str, bytes]], dict[str, object]]:
    record = encode(examples[ARRIVAL], source=SOURCE)
    return list(record.headers), json.loads(record.value)


def test_unknown_event_type(examples: dict[str, Event]) -> None:
    headers, data = _record(examples)
    headers = [(k, b"org.reintegra.reception.teleported.v1" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(UnknownEventTypeError, match="teleported") as info:
        decode(headers, json.dumps(data).encode())
    assert info.value.event_type == "org.reintegra.reception.teleported.v1"


def test_missing_field_is_named(examples: dict[str, Event]) -> None:
    headers, data = _record(examples)
    del data["returnee_id"]
    with pytest.raises(EventValidationError) as info:
        decode(headers, json.dumps(data).encode())
    assert info.value.event_type == ARRIVAL
    assert info.value.errors == ["returnee_id: Field required"]


def test_wrong_types_are_named(examples: dict[str, Event]) -> None:
    headers, data = _record(examples)
    data["age"] = "thirty"
    data["return_type"] = "teleported"
    data["vulnerabilities"] = ["chronic_illness", 7]
    with pytest.raises(EventValidationError) as info:
        decode(headers, json.dumps(data).encode())
    paths = sorted(e.split(":")[0] for e in info.value.errors)
    assert paths == ["age", "return_type", "vulnerabilities.1"]
    assert "age" in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("age", True), ("arrived_at", 42.5), ("age", "31")])
def test_values_of_another_json_type_are_refused_not_converted(
    examples: dict[str, Event], field: str, value: object
) -> None:
    headers, data = _record(examples)
    data[field] = value  # true is not an age, 42.5 is not a date, "31" is text
    with pytest.raises(EventValidationError) as info:
        decode(headers, json.dumps(data).encode())
    assert [e.split(":")[0] for e in info.value.errors] == [field]


def test_data_that_is_not_json(examples: dict[str, Event]) -> None:
    headers, _data = _record(examples)
    with pytest.raises(EventValidationError, match="not JSON") as info:
        decode(headers, b"\x00not json")
    assert info.value.errors == ["data is not JSON: expected value at line 1 column 1"]
    with pytest.raises(EventValidationError) as info:  # JSON, but not an object: no "not JSON"
        decode(headers, b"[1, 2]")
    assert info.value.errors == ["<root>: Input should be an object"]


def test_data_decoded_with_the_attributes_already_read_is_the_same_event(examples: dict[str, Event]) -> None:
    record = encode(examples[ARRIVAL], source=SOURCE)
    attributes = headers_to_attributes(record.headers)
    assert decode_data(attributes, record.value) == decode(record.headers, record.value)
    with pytest.raises(EventValidationError, match="not JSON"):
        decode_data(attributes, b"{")


def test_missing_cloudevents_headers_are_named(examples: dict[str, Event]) -> None:
    headers, data = _record(examples)
    headers = [(k, v) for k, v in headers if k not in {"ce_id", "ce_type"}]
    with pytest.raises(EnvelopeError, match="ce_id, ce_type"):
        decode(headers, json.dumps(data).encode())


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("ce_specversion", b"0.3", "ce_specversion"),
        ("content-type", b"application/avro", "content-type"),
        ("ce_time", b"yesterday", "ce_time"),
        ("ce_subject", b"not-the-case", "differs from data.case_id"),
        ("ce_source", b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_envelope_is_named(
    examples: dict[str, Event], header: str, value: bytes, message: str
) -> None:
    headers, data = _record(examples)
    headers = [(k, value if k == header else v) for k, v in headers]
    with pytest.raises(EnvelopeError, match=message):
        decode(headers, json.dumps(data).encode())


def test_unknown_fields_are_ignored_so_producers_can_add_optional_fields(examples: dict[str, Event]) -> None:
    headers, data = _record(examples)
    data["added_in_v1_9"] = {"anything": True}
    assert decode(headers, json.dumps(data).encode()).event == examples[ARRIVAL]
