"""The topic catalogue: one topic per bounded context; the key is always the case id."""

from __future__ import annotations

from typing import Final

RECEPTION_EVENTS: Final = "reintegra.reception.events.v1"
ASSESSMENT_EVENTS: Final = "reintegra.assessment.events.v1"
REFERRAL_EVENTS: Final = "reintegra.referral.events.v1"
FOLLOWUP_EVENTS: Final = "reintegra.followup.events.v1"

ALL_EVENT_TOPICS: Final = (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS, FOLLOWUP_EVENTS)

DEAD_LETTER_SUFFIX: Final = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The topic where messages of ``topic`` that cannot be processed are parked."""
    return topic + DEAD_LETTER_SUFFIX
