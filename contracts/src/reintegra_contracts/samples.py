"""Deterministic example instances of every message, for the docs, the tests and agency developers.

The examples are built from the models themselves (every field filled, optional ones included), with
realistic values for well-known field names, so a new event gets an example without extra work.
"""

from __future__ import annotations

import types
import typing
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from .base import Event, all_event_classes

_NS = UUID("6f1c1c8e-2d4b-4f7e-9a51-0c5b8f0e2a11")
BASE_TIME = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
"""The time every example happens at (deadlines are a few days later)."""

M = TypeVar("M", bound=BaseModel)

_BY_NAME: dict[str, Any] = {
    "port_of_entry": "HN-SAP",
    "reception_centre": "HN-CAMR-SPS",
    "destination_municipality": "0501",
    "country_of_return": "HN",
    "returned_from": "US",
    "service_id": "hn-sne-empleo-0501",
    "instrument": "reintegration-sustainability-survey",
    "instrument_version": "2017.1",
    "preferred_language": "es",
    "information_language": "es",
    "indigenous_people": None,
    "transport_reference": "charter-4521",
    "contact_point": "ventanilla-retornados",
    "agency_id": "hn-sne",
    "category": "employment",
    "dimension": "economic",
    "announced_by": "hn-consulado-houston",
    "provided_by": "cruz-roja-hn",
    "lead_agency": "hn-dinaf",
    "escalated_to": "hn-sgjd-coordinacion",
    "transferred_to": "gt-sbs",
    "agencies": ["hn-sne"],
    "vulnerabilities": ["single_caregiver"],
    "protection_priority": "high",
    "age": 34,
    "persons_expected": 2,
    "previous_returns": 1,
    "travel_group_size": 2,
    "attempts": 2,
    "escalation_level": 1,
    "plan_version": 1,
    "deliveries": 1,
    "match_score": 0.93,
    "is_repeat_return": True,
    "contact_reference_available": True,
    "final": True,
    "referral_without_consent": False,
    "needs_medical_attention": False,
    "has_disability": False,
    "service_received": True,
    "opens": "08:00",
    "closes": "16:00",
    "days": [1, 2, 3, 4, 5],
    "timezone": "America/Tegucigalpa",
    "country": "HN",
    "departments": ["HN-05"],
    "municipalities": ["HN-0501"],
    "label_es": "Servicio Nacional de Empleo de Honduras",
    "label_en": "National Employment Service of Honduras",
    "contact_role": "Ventanilla de atención a personas retornadas",
    "response_time_hours": 16,
    "weekly_capacity": 40,
    "min_age": 18,
    "max_age": 65,
    "national": False,
    "created": True,
    "active": True,
    "command_type": "org.reintegra.partner.accept_referral.v1",
    "command_id": "6a0f3c1e-2b7d-4e59-8c41-0d9e5b7a1f23",
    "detail": "referral is 'cancelled'; it cannot accept",
    "contact_reference": "cref-7Qm2xV9kLp3sT8wZ",
    "candidates_considered": 3,
    "attempt": 1,
}

_LATER = (
    "_by",
    "until",
    "expires_at",
    "expected_",
    "due_at",
    "deliver_by",
    "respond_by",
    "review_by",
    "target_date",
)


def _value(name: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _value(name, args[0])
    if origin in (typing.Union, types.UnionType):
        return _value(name, next(a for a in args if a is not type(None)))
    if origin is list:
        item = _value(name, args[0])
        return item if isinstance(item, list) else [item]
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return example_of(annotation)
        if issubclass(annotation, Enum):
            return next(iter(annotation))
        if annotation is UUID:
            return uuid5(_NS, name.removesuffix("s"))
        if annotation in (datetime, AwareDatetime):
            return BASE_TIME + (timedelta(days=3) if any(k in name for k in _LATER) else timedelta())
        if annotation is date:
            return (BASE_TIME + timedelta(days=90)).date()
        if annotation is bool:
            return False
        if annotation is int:
            return 1
        if annotation is float:
            return 0.62
        if annotation is str:
            return f"sample-{name.replace('_', '-')}"
    raise TypeError(f"no example value for field {name!r} of type {annotation!r}")


def _field_value(name: str, info: FieldInfo) -> Any:
    if name in _BY_NAME:
        return _BY_NAME[name]
    return _value(name, info.annotation)


def example_of(model: type[M]) -> M:
    """A deterministic, fully filled example of ``model`` (an event, a command or a nested model)."""
    data = {name: _field_value(name, info) for name, info in model.model_fields.items()}
    return model.model_validate(data)


def all_examples() -> dict[str, Event]:
    """An example of every registered message, by CloudEvents type."""
    return {cls.event_type: example_of(cls) for cls in all_event_classes()}
