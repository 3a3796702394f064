"""JSON Schema (draft 2020-12) of every v1 message, with its catalogue metadata under ``x-reintegra``."""

from __future__ import annotations

import json
from typing import Any

from ..base import Event, all_event_classes

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:reintegra:schema:v1:"


def schema_for(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of the ``data`` of one message type (what a consumer must accept)."""
    body = cls.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{SCHEMA_ID_BASE}{cls.event_type}",
        **body,
        "x-reintegra": {
            "type": cls.event_type,
            "kind": cls.kind,
            "topic": cls.topic,
            "key": "case_id",
            "producer": cls.producer,
            "consumers": list(cls.consumers),
        },
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """The schema of every registered message, by CloudEvents type."""
    return {cls.event_type: schema_for(cls) for cls in all_event_classes()}


def render(schema: dict[str, Any]) -> str:
    """The committed text form of a schema (stable, UTF-8, trailing newline)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
