"""Base class and registry of the v1 events."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """An event of the published language.

    Each concrete event declares its CloudEvents ``type`` and its topic; every event carries the
    pseudonymous ``case_id`` that is both the CloudEvents ``subject`` and the Kafka key. Unknown
    fields are ignored on read so that producers can add optional fields without breaking consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    topic: ClassVar[str]
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


def event_class(event_type: str) -> type[Event] | None:
    """The model registered for ``event_type``, if any."""
    return Event.registry.get(event_type)


def all_event_classes() -> list[type[Event]]:
    """Every registered event model, sorted by type."""
    return [Event.registry[t] for t in sorted(Event.registry)]
