"""JSON text on the hot path (orjson): the values ``json`` gives back, from text either wrote."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest
from reintegra_kit import jsontext


class Colour(enum.StrEnum):
    RED = "red"


VALUES = [
    {
        "ce_id": "0b7e…",
        "ce_type": "org.reintegra.reception.arrival_registered.v1",
        "ce_time": "2026-11-28T08:00Z",
    },
    ["health", "employment"],
    [
        {
            "purpose": "referral",
            "service_categories": ["health"],
            "agencies": ["HN-CAMR", "Comité de Familiares"],
        }
    ],
    {"similarity": 0.8125, "fields": {"name": 1.0, "born": None}, "caveats": [], "exact": True, "n": 3},
    [],
    "",
]


@pytest.mark.parametrize("value", VALUES)
def test_text_reads_back_as_the_value_and_as_json_reads_it(value: object) -> None:
    text = jsontext.dumps(value)
    assert isinstance(text, str)
    assert jsontext.loads(text) == value
    assert json.loads(text) == value  # anything reading the column with json reads the same
    assert jsontext.loads(json.dumps(value)) == value  # and rows written before read the same


def test_text_is_compact_utf_8_and_enums_and_uuids_are_their_text() -> None:
    case = UUID("4b1f5f0e-3c3a-4c1e-9b1a-2f6d1c7e8a90")
    assert jsontext.dumps({"a": [Colour.RED, case, "ñ"]}) == f'{{"a":["red","{case}","ñ"]}}'
    assert jsontext.loads(b'{"a": 1}') == {"a": 1}


def test_what_json_refuses_is_refused_not_written_in_another_format() -> None:
    @dataclass
    class Point:
        x: int

    for value in (datetime(2026, 11, 28, tzinfo=UTC), Point(1), {1, 2}):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            jsontext.dumps(value)


def test_text_that_is_not_json_is_a_value_error_as_with_json() -> None:
    with pytest.raises(ValueError, match=r"\w"):
        jsontext.loads("{not json")
