"""CloudEvents 1.0 in Kafka *binary* content mode.

The event's data is the JSON value of the record; every other attribute travels as a ``ce_<name>``
header (UTF-8); ``content-type`` says ``application/json``; the record key is the case id, which is
also the CloudEvents ``subject``. Any CloudEvents SDK can read these records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import ValidationError

from .base import Event, event_class
from .errors import EnvelopeError, EventValidationError, UnknownEventTypeError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_ATTRIBUTES = ("id", "source", "specversion", "type")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class CloudEventAttributes:
    """The CloudEvents context attributes of one message."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE
    extensions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on Kafka for one event: key, value and headers."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class DecodedEvent:
    """An event read from Kafka: its attributes and its typed data."""

    attributes: CloudEventAttributes
    event: Event


def new_event_id() -> str:
    """A fresh, globally unique CloudEvents id."""
    return str(uuid4())


def encode(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    extensions: Mapping[str, str] | None = None,
) -> KafkaRecord:
    """Encode ``event`` as a Kafka record in CloudEvents binary mode.

    The topic is the event's own (``event.kafka_topic()``: per agency for partner views), the key and
    ``ce_subject`` are the case id, and ``ce_type`` is the event's type.
    """
    attrs = CloudEventAttributes(
        id=event_id or new_event_id(),
        source=source,
        type=event.event_type,
        subject=str(event.case_id),
        time=time or datetime.now(UTC),
        extensions=dict(extensions or {}),
    )
    return KafkaRecord(
        topic=event.kafka_topic(),
        key=attrs.subject.encode(),
        value=event.model_dump_json().encode(),
        headers=attributes_to_headers(attrs),
    )


def attributes_to_headers(attrs: CloudEventAttributes) -> Headers:
    """The Kafka headers that carry ``attrs`` in binary mode."""
    headers: Headers = [
        ("ce_specversion", attrs.specversion.encode()),
        ("ce_id", attrs.id.encode()),
        ("ce_source", attrs.source.encode()),
        ("ce_type", attrs.type.encode()),
        ("ce_subject", attrs.subject.encode()),
        ("ce_time", attrs.time.astimezone(UTC).isoformat().replace("+00:00", "Z").encode()),
        ("content-type", attrs.datacontenttype.encode()),
    ]
    headers.extend((f"ce_{name}", value.encode()) for name, value in attrs.extensions.items())
    return headers


def headers_to_attributes(
    headers: Iterable[tuple[str, bytes | str]] | Mapping[str, bytes | str],
) -> CloudEventAttributes:
    """Read the CloudEvents attributes from Kafka headers; raise :class:`EnvelopeError` if incomplete."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    values: dict[str, str] = {}
    content_type = CONTENT_TYPE
    for name, raw in items:
        try:
            text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"header {name!r} is not UTF-8") from exc
        if name.lower() == "content-type":
            content_type = text
        elif name.startswith("ce_"):
            values[name[3:]] = text
    missing = [a for a in REQUIRED_ATTRIBUTES if not values.get(a)]
    if missing:
        raise EnvelopeError("missing CloudEvents header(s): " + ", ".join(f"ce_{m}" for m in missing))
    if values["specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {values['specversion']!r} (expected {SPEC_VERSION})")
    if not content_type.startswith(CONTENT_TYPE):
        raise EnvelopeError(f"unsupported content-type {content_type!r} (expected {CONTENT_TYPE})")
    raw_time = values.get("time")
    try:
        time = datetime.fromisoformat(raw_time) if raw_time else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time {raw_time!r} is not an RFC 3339 timestamp") from exc
    known = {"id", "source", "specversion", "type", "subject", "time"}
    return CloudEventAttributes(
        id=values["id"],
        source=values["source"],
        type=values["type"],
        subject=values.get("subject", ""),
        time=time,
        datacontenttype=content_type,
        extensions={k: v for k, v in values.items() if k not in known},
    )


def decode(
    headers: Iterable[tuple[str, bytes | str]] | Mapping[str, bytes | str], value: bytes
) -> DecodedEvent:
    """Decode a Kafka record into its attributes and typed event.

    Raises :class:`EnvelopeError`, :class:`UnknownEventTypeError` or :class:`EventValidationError`,
    each naming what is wrong.
    """
    return decode_data(headers_to_attributes(headers), value)


def decode_data(attrs: CloudEventAttributes, value: bytes) -> DecodedEvent:
    """Decode a record's data into its typed event, its attributes already read from its headers
    (:func:`headers_to_attributes`; a consumer that looked at them first reads them once).

    Raises :class:`EnvelopeError`, :class:`UnknownEventTypeError` or :class:`EventValidationError`,
    each naming what is wrong.
    """
    model = event_class(attrs.type)
    if model is None:
        raise UnknownEventTypeError(attrs.type)
    try:
        # Strict: JSON's own types only (``true`` is not an age, ``42.5`` is not a date), as at the
        # HTTP edge; text stays text for dates, ids and codes, as JSON has no other way to carry them.
        # The data is parsed once, here: pydantic's parser says when it is not JSON at all.
        event = model.model_validate_json(value, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors and errors[0]["type"] == "json_invalid":
            detail = errors[0].get("ctx", {}).get("error", errors[0]["msg"])
            raise EventValidationError(attrs.type, [f"data is not JSON: {detail}"]) from exc
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in errors]
        raise EventValidationError(attrs.type, problems) from exc
    if attrs.subject and attrs.subject != str(event.case_id):
        raise EnvelopeError(f"ce_subject {attrs.subject!r} differs from data.case_id {event.case_id}")
    return DecodedEvent(attributes=attrs, event=event)


def case_id_of(record_key: bytes | None) -> UUID | None:
    """The case id carried by a record key, if it is one."""
    if not record_key:
        return None
    try:
        return UUID(record_key.decode())
    except (ValueError, UnicodeDecodeError):
        return None
