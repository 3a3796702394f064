"""The compatibility gate, in both directions, on synthetic schema pairs and on the real models."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field
from reintegra_contracts.tools.compat import compare_catalogues, compare_schemas


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Inner(BaseModel):
    model_config = ConfigDict(extra="ignore")
    score: float = Field(ge=0, le=1)


class V1(BaseModel):
    case_id: UUID
    count: int = Field(ge=0)
    colour: Colour
    note: str | None = None
    code: str = Field(max_length=10)
    inner: Inner
    tags: list[Colour] = []


BASE: dict[str, Any] = V1.model_json_schema()


def _mutated(fn: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    fn(schema)
    return schema


def _problems(new: dict[str, Any]) -> list[str]:
    return [f"{p.path}: {p.problem}" for p in compare_schemas(BASE, new, "t")]


def test_identical_schemas_are_compatible() -> None:
    assert compare_schemas(BASE, copy.deepcopy(BASE)) == []


# --- compatible changes ------------------------------------------------------------------------


def test_new_optional_field_is_compatible() -> None:
    class V2(V1):
        extra_flag: bool = False

    assert compare_schemas(BASE, V2.model_json_schema()) == []


def test_new_enum_member_is_compatible() -> None:
    new = _mutated(lambda s: s["$defs"]["Colour"]["enum"].append("blue"))
    assert _problems(new) == []


def test_required_field_made_optional_is_compatible() -> None:
    new = _mutated(lambda s: s["required"].remove("count"))
    assert _problems(new) == []


def test_loosened_constraint_and_widened_type_are_compatible() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["code"]["maxLength"] = 20
        s["properties"]["count"] = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}

    assert _problems(_mutated(change)) == []


def test_new_event_type_is_compatible() -> None:
    assert compare_catalogues({"a.v1": BASE}, {"a.v1": BASE, "b.v1": BASE}) == []


# --- breaking changes --------------------------------------------------------------------------


def test_removed_field_is_breaking() -> None:
    def change(s: dict[str, Any]) -> None:
        del s["properties"]["note"]

    assert _problems(_mutated(change)) == ["note: field removed or renamed"]


def test_renamed_field_is_breaking() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["remark"] = s["properties"].pop("note")

    assert _problems(_mutated(change)) == ["note: field removed or renamed"]


def test_optional_made_required_is_breaking() -> None:
    new = _mutated(lambda s: s["required"].append("note"))
    assert _problems(new) == ["note: optional field made required"]


def test_new_required_field_is_breaking() -> None:
    class V2(V1):
        mandatory: str

    assert [p.problem for p in compare_schemas(BASE, V2.model_json_schema())] == [
        "new required field (new fields must be optional)"
    ]


def test_removed_enum_member_is_breaking_also_inside_lists() -> None:
    new = _mutated(lambda s: s["$defs"]["Colour"]["enum"].remove("green"))
    assert _problems(new) == [
        "colour: enum member(s) removed: green",
        "tags[]: enum member(s) removed: green",
    ]


def test_type_narrowed_is_breaking() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["note"] = {"type": "string"}  # null no longer accepted
        s["$defs"]["Inner"]["properties"]["score"]["type"] = "integer"

    assert sorted(_problems(_mutated(change))) == [
        "inner.score: type narrowed: no longer accepts number",
        "note: type narrowed: null is no longer accepted",
    ]


def test_tightened_constraints_are_breaking() -> None:
    def change(s: dict[str, Any]) -> None:
        s["properties"]["code"]["maxLength"] = 5
        s["properties"]["count"]["minimum"] = 1
        s["properties"]["code"]["pattern"] = "^[A-Z]+$"

    assert sorted(_problems(_mutated(change))) == [
        "code: constraint tightened: maxLength 10 -> 5",
        "code: constraint tightened: pattern None -> '^[A-Z]+$'",
        "count: constraint tightened: minimum 0 -> 1",
    ]


def test_removed_event_type_is_breaking() -> None:
    problems = compare_catalogues({"a.v1": BASE, "b.v1": BASE}, {"a.v1": BASE})
    assert [(p.event_type, p.problem) for p in problems] == [("b.v1", "event type removed")]


def test_real_model_change_is_caught_end_to_end() -> None:
    """Removing a field from a copy of a real event is reported by the same checker CI runs."""
    from reintegra_contracts.events.referral import ReferralRejected

    class Trimmed(BaseModel):
        event_type: ClassVar[str] = "x"
        case_id: UUID
        referral_id: UUID

    problems = compare_schemas(ReferralRejected.model_json_schema(), Trimmed.model_json_schema(), "x")
    assert {p.path for p in problems} == {"agency_id", "rejected_at", "reason"}


@pytest.mark.parametrize("bad", [{"$ref": "http://elsewhere/x.json"}])
def test_non_local_refs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="local"):
        compare_schemas({"properties": {"a": bad}}, {"properties": {"a": bad}})
