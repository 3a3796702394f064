"""The AsyncAPI documentation helpers, and the committed documents (docs/asyncapi/*.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from reintegra_contracts import all_event_classes
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_contracts.topics import RECEPTION_EVENTS, REFERRAL_EVENTS
from reintegra_kit.asyncapi import documented_body, event_union
from reintegra_kit.registry import ServiceSpec, discover

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "asyncapi"
SPECS = {spec.name: spec for spec in discover(ROOT)}


def _document(service: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{service}.json").read_text(encoding="utf-8"))


def test_the_documented_body_stays_raw_bytes_but_shows_the_events() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(documented_body([ReferralRequested, ArrivalRegistered]))
    assert adapter.validate_python(b"\xff not even json") == b"\xff not even json"
    schema = adapter.json_schema()
    assert [m["$ref"] for m in schema["anyOf"]] == [
        "#/$defs/ArrivalRegistered",
        "#/$defs/ReferralRequested",
    ]
    assert documented_body([]) is bytes
    assert event_union([]) is None


@pytest.mark.timeout(150)  # imports every service in a subprocess: slow on a busy machine
def test_the_committed_documents_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reintegra_kit.asyncapi", "--check", "--dir", str(DOCS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("service", sorted(SPECS))
def test_every_document_shows_what_its_service_emits_and_nothing_it_does_not(service: str) -> None:
    spec: ServiceSpec = SPECS[service]
    doc = _document(service)
    assert doc["asyncapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    [channel] = [c for c in doc["channels"].values() if c["address"] == f"reintegra.{service}.events.v1"]
    [ref] = channel["messages"].values()
    message = doc["components"]["messages"][ref["$ref"].removeprefix("#/components/messages/")]
    name = message["payload"]["$ref"].removeprefix("#/components/schemas/")
    members = schemas[name].get("anyOf", [{"$ref": f"#/components/schemas/{name}"}])
    documented = {m["$ref"].removeprefix("#/components/schemas/") for m in members}
    emitted = spec.produces[channel["address"]]
    produced = [e for e in all_event_classes() if e.event_type in emitted]
    assert documented == {e.__name__ for e in produced}
    planned = {e.__name__ for e in all_event_classes() if e.producer == service} - documented
    assert not planned & documented  # catalogue events not implemented yet are not advertised
    assert all(name in schemas for name in documented)
    assert message["headers"]["properties"]["ce_type"]["enum"] == sorted(e.event_type for e in produced)
    assert message["bindings"]["kafka"]["key"]["format"] == "uuid"


def test_a_consumer_is_documented_per_topic_with_the_events_it_handles() -> None:
    doc = _document("followup")
    receive = {
        doc["channels"][op["channel"]["$ref"].removeprefix("#/channels/")]["address"]: op
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert set(receive) == {RECEPTION_EVENTS, REFERRAL_EVENTS}
    handled = {
        RECEPTION_EVENTS: [
            ArrivalRegistered,
            ConsentRecorded,
            ConsentWithdrawn,
            ReturneeErased,
            ReturneeRecordsMerged,
        ],
        REFERRAL_EVENTS: [ReferralRequested],
    }
    for topic, expected in handled.items():
        [ref] = receive[topic]["messages"]
        channel_key, _, name = ref["$ref"].removeprefix("#/channels/").partition("/messages/")
        component = doc["channels"][channel_key]["messages"][name]["$ref"]
        message = doc["components"]["messages"][component.removeprefix("#/components/messages/")]
        assert message["headers"]["properties"]["ce_type"]["enum"] == sorted(e.event_type for e in expected)
    parked = {c["address"] for c in doc["channels"].values() if c["address"].endswith(".dlq")}
    assert parked == {RECEPTION_EVENTS + ".dlq", REFERRAL_EVENTS + ".dlq"}
