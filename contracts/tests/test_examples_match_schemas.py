"""Every sample message, as it goes on the wire, is valid against its committed JSON Schema.

The schemas in ``contracts/schemas/v1`` are what agencies validate against with their own tools; this
checks them with an independent validator (``jsonschema``, draft 2020-12, formats asserted), not with
pydantic, which produced them.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from reintegra_contracts import Event, encode

SCHEMA_DIR: Path = Path(__file__).resolve().parents[1] / "schemas" / "v1"
SCHEMAS: dict[str, dict[str, Any]] = {
    path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(SCHEMA_DIR.glob("*.json"))
}

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339_date_time(value: object) -> bool:
    """RFC 3339 date-time (with a time zone); jsonschema only checks it with an optional extra."""
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError(f"{value!r} has no time")
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")).tzinfo is not None


def _validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[event_type], format_checker=FORMATS)


def test_there_is_a_schema_for_every_example_and_an_example_for_every_schema(
    examples: dict[str, Event],
) -> None:
    assert SCHEMAS, f"no schemas in {SCHEMA_DIR}"
    assert sorted(SCHEMAS) == sorted(examples)


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_the_committed_schema_is_a_valid_json_schema(event_type: str) -> None:
    Draft202012Validator.check_schema(SCHEMAS[event_type])


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_the_example_on_the_wire_matches_its_schema(event_type: str, examples: dict[str, Event]) -> None:
    record = encode(examples[event_type], source="urn:reintegra:test")
    data = json.loads(record.value)
    errors = sorted(_validator(event_type).iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("event_type", sorted(SCHEMAS))
def test_the_schema_rejects_an_example_without_its_case_id(
    event_type: str, examples: dict[str, Event]
) -> None:
    data = json.loads(examples[event_type].model_dump_json())
    del data["case_id"]
    assert not _validator(event_type).is_valid(data)


def test_formats_are_asserted(examples: dict[str, Event]) -> None:
    event_type = "org.reintegra.reception.arrival_registered.v1"
    data = json.loads(examples[event_type].model_dump_json())
    assert _validator(event_type).is_valid(data)
    assert not _validator(event_type).is_valid({**data, "case_id": "not-a-uuid"})
    assert not _validator(event_type).is_valid({**data, "arrived_at": "10/03/2025"})
    assert not _validator(event_type).is_valid({**data, "arrived_at": "2025-03-10T14:30:00"})
