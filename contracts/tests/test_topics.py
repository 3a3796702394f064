from __future__ import annotations

import pytest
from reintegra_contracts import encode
from reintegra_contracts.events.partner import AGENCY_COMMANDS
from reintegra_contracts.samples import example_of
from reintegra_contracts.topics import (
    PARTNER_RESPONSES,
    agency_of_partner_topic,
    agency_of_responses_topic,
    dead_letter_topic,
    is_agency_code,
    partner_responses_topic,
    partner_topic,
)


@pytest.mark.parametrize("agency", ["hn-sne", "iom", "gt-sbs", "mx-sne-tijuana", "a1"])
def test_partner_topic_of_a_valid_agency_code(agency: str) -> None:
    topic = partner_topic(agency)
    assert topic == f"reintegra.partner.{agency}.v1"
    assert agency_of_partner_topic(topic) == agency


@pytest.mark.parametrize(
    "agency", ["", "HN-SNE", "hn_sne", "hn.sne", "-hn", "hn-", "hn sne", "x" * 41, "responses", "hn/sne", "ñ"]
)
def test_partner_topic_rejects_an_invalid_agency_code(agency: str) -> None:
    assert not is_agency_code(agency)
    with pytest.raises(ValueError, match="invalid agency code"):
        partner_topic(agency)


def test_the_responses_topic_is_not_an_agency_topic() -> None:
    assert agency_of_partner_topic(PARTNER_RESPONSES) is None
    assert agency_of_partner_topic("reintegra.referral.events.v1") is None


def test_dead_letter_topic() -> None:
    assert dead_letter_topic("reintegra.reception.events.v1") == "reintegra.reception.events.v1.dlq"


@pytest.mark.parametrize("agency", ["hn-sne", "iom", "gt-sbs", "mx-sne-tijuana", "a1"])
def test_each_agency_answers_on_a_responses_topic_of_its_own(agency: str) -> None:
    topic = partner_responses_topic(agency)
    assert topic == f"reintegra.partner.{agency}.responses.v1"
    assert agency_of_responses_topic(topic) == agency
    assert agency_of_partner_topic(topic) is None  # a responses topic is not a partner view topic
    assert agency_of_responses_topic(partner_topic(agency)) is None


@pytest.mark.parametrize("agency", ["", "HN-SNE", "responses", "hn.sne"])
def test_responses_topic_rejects_an_invalid_agency_code(agency: str) -> None:
    with pytest.raises(ValueError, match="invalid agency code"):
        partner_responses_topic(agency)


@pytest.mark.parametrize("cls", AGENCY_COMMANDS, ids=lambda c: c.__name__)
def test_a_command_is_encoded_on_the_sending_agency_s_own_responses_topic(cls: type) -> None:
    command = example_of(cls)
    assert encode(command, source="urn:x").topic == partner_responses_topic(command.agency_id)


def test_the_deprecated_shared_responses_topic_names_no_agency() -> None:
    assert agency_of_responses_topic(PARTNER_RESPONSES) is None
