"""Base class and registry of the v1 messages (events, partner views and partner commands)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .topics import AGENCY_CODE_PATTERN

MessageKind = Literal["event", "command"]

AgencyCode = Annotated[str, StringConstraints(pattern=AGENCY_CODE_PATTERN)]
"""An agency code, e.g. ``hn-senaf`` (see :data:`reintegra_contracts.topics.AGENCY_CODE_PATTERN`)."""

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""An ISO 3166-1 alpha-2 country code, e.g. ``HN``."""


class Event(BaseModel):
    """An event of the published language.

    Each concrete event declares its CloudEvents ``type``, its topic, its producer and its known
    consumers (catalogue metadata, rendered in ``docs/events.md``); every event carries the
    pseudonymous ``case_id`` that is both the CloudEvents ``subject`` and the Kafka key. Unknown
    fields are ignored on read so that producers can add optional fields without breaking consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    producer: ClassVar[str]
    consumers: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[MessageKind] = "event"
    registry: ClassVar[dict[str, type[Event]]] = {}

    case_id: UUID = Field(description="Pseudonymous id of the case (Kafka key and CloudEvents subject).")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:
            return
        if event_type in Event.registry:
            raise TypeError(f"event type {event_type!r} is declared twice")
        Event.registry[event_type] = cls

    def kafka_topic(self) -> str:
        """The topic this message is published on (per agency for partner views)."""
        return self.topic


class Command(Event):
    """A request sent to Reintegra (imperative name, e.g. ``AcceptReferral``); it may be refused.

    Commands share the envelope, the registry and :func:`reintegra_contracts.decode` with events.
    """

    kind: ClassVar[MessageKind] = "command"


def event_class(event_type: str) -> type[Event] | None:
    """The model registered for ``event_type``, if any."""
    return Event.registry.get(event_type)


def all_event_classes() -> list[type[Event]]:
    """Every registered message model (events and commands), sorted by type."""
    return [Event.registry[t] for t in sorted(Event.registry)]
