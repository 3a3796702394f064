"""Reintegra's published language: the CloudEvents envelope, the v1 events, topics and code lists.

Agency systems can ``pip install`` this package alone to read and write Reintegra events.
"""

from . import codelists, events, topics
from .base import Command, Event, all_event_classes, event_class
from .envelope import (
    CloudEventAttributes,
    DecodedEvent,
    KafkaRecord,
    attributes_to_headers,
    decode,
    decode_data,
    encode,
    headers_to_attributes,
)
from .errors import ContractError, EnvelopeError, EventValidationError, UnknownEventTypeError

__all__ = [
    "CloudEventAttributes",
    "Command",
    "ContractError",
    "DecodedEvent",
    "EnvelopeError",
    "Event",
    "EventValidationError",
    "KafkaRecord",
    "UnknownEventTypeError",
    "all_event_classes",
    "attributes_to_headers",
    "codelists",
    "decode",
    "decode_data",
    "encode",
    "event_class",
    "events",
    "headers_to_attributes",
    "topics",
]
