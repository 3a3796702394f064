from __future__ import annotations

import pytest
from reintegra_contracts.topics import (
    PARTNER_RESPONSES,
    agency_of_partner_topic,
    dead_letter_topic,
    is_agency_code,
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
