"""The example agency consumer's core logic: one record in, the answer records out."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from reintegra_contracts import Event, decode, encode
from reintegra_contracts.codelists import RejectionReason, ServiceCategory
from reintegra_contracts.events.partner import (
    AcceptReferral,
    CompleteReferral,
    PartnerReferralRequested,
    ReceiveReferral,
    RecordServiceDelivery,
    RejectReferral,
    StartService,
)
from reintegra_contracts.topics import FOLLOWUP_EVENTS, partner_responses_topic

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "agency_consumer.py"
NOW = datetime(2025, 3, 11, 9, 0, tzinfo=UTC)
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def agency() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agency_consumer_example", EXAMPLE)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _view(examples: dict[str, Event], **changes: object) -> PartnerReferralRequested:
    view = examples["org.reintegra.partner.referral_requested.v1"]
    assert isinstance(view, PartnerReferralRequested)
    return view.model_copy(update=changes)


def _policy(agency: ModuleType, *categories: ServiceCategory) -> object:
    return agency.AgencyPolicy(agency_id="hn-sne", categories=frozenset(categories))


def test_it_reads_its_partner_topic_and_the_case_events(agency: ModuleType) -> None:
    assert _policy(agency).topics() == ["reintegra.partner.hn-sne.v1", FOLLOWUP_EVENTS]


def test_a_referral_it_can_serve_is_accepted_in_binary_mode(
    agency: ModuleType, examples: dict[str, Event]
) -> None:
    view = _view(examples, category=ServiceCategory.EMPLOYMENT)
    record = encode(view, source="urn:reintegra:service:referral")
    headers = [*record.headers, ("traceparent", TRACEPARENT)]
    [receipt, out] = agency.handle_record(
        record.value, headers, policy=_policy(agency, ServiceCategory.EMPLOYMENT), now=NOW
    )
    assert isinstance(decode(receipt.headers, receipt.value).event, ReceiveReferral)
    assert out.topic == receipt.topic == partner_responses_topic("hn-sne")  # its own responses topic
    assert out.key == str(view.case_id).encode()
    assert ("traceparent", TRACEPARENT) in out.headers
    command = decode(out.headers, out.value)
    assert command.attributes.source == "urn:reintegra:agency:hn-sne"
    assert isinstance(command.event, AcceptReferral)
    assert command.event.referral_id == view.referral_id
    assert command.event.accepted_at == NOW


def test_a_referral_outside_its_catalogue_is_rejected(agency: ModuleType, examples: dict[str, Event]) -> None:
    record = encode(_view(examples, category=ServiceCategory.HOUSING), source="urn:x")
    [_receipt, out] = agency.handle_record(record.value, record.headers, policy=_policy(agency), now=NOW)
    command = decode(out.headers, out.value).event
    assert isinstance(command, RejectReferral)
    assert command.reason is RejectionReason.SERVICE_NOT_OFFERED


def test_a_referral_for_another_agency_gets_no_answer(agency: ModuleType, examples: dict[str, Event]) -> None:
    record = encode(_view(examples, agency_id="gt-sbs"), source="urn:x")
    assert agency.handle_record(record.value, record.headers, policy=_policy(agency), now=NOW) == []


def test_case_events_and_invalid_records_get_no_answer(
    agency: ModuleType, examples: dict[str, Event]
) -> None:
    closed = encode(examples["org.reintegra.followup.case_closed.v1"], source="urn:x")
    assert agency.handle_record(closed.value, closed.headers, policy=_policy(agency), now=NOW) == []
    broken = replace(closed, value=b"{}")
    assert agency.handle_record(broken.value, broken.headers, policy=_policy(agency), now=NOW) == []


def test_serving_at_once_sends_the_whole_loop_in_order(
    agency: ModuleType, examples: dict[str, Event]
) -> None:
    record = encode(_view(examples, category=ServiceCategory.EMPLOYMENT), source="urn:x")
    policy = agency.AgencyPolicy(
        agency_id="hn-sne", categories=frozenset({ServiceCategory.EMPLOYMENT}), serve_at_once=True
    )
    out = agency.handle_record(record.value, record.headers, policy=policy, now=NOW)
    kinds = [type(decode(r.headers, r.value).event) for r in out]
    assert kinds == [ReceiveReferral, AcceptReferral, StartService, RecordServiceDelivery, CompleteReferral]
