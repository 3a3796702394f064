"""The topic catalogue: one topic per bounded context; the key is always the case id.

Each agency has its own partner topic (``reintegra.partner.<agency>.v1``) carrying minimised views
only, and answers on a topic of its own (``reintegra.partner.<agency>.responses.v1``), so that a Kafka
ACL — not a field of the message — says which agency answered (docs/adr/0040-per-agency-response-topics.md).
The service directory's changes travel on ``reintegra.directory.events.v1``.
"""

from __future__ import annotations

import re
from typing import Final

RECEPTION_EVENTS: Final = "reintegra.reception.events.v1"
ASSESSMENT_EVENTS: Final = "reintegra.assessment.events.v1"
REFERRAL_EVENTS: Final = "reintegra.referral.events.v1"
FOLLOWUP_EVENTS: Final = "reintegra.followup.events.v1"

DIRECTORY_EVENTS: Final = "reintegra.directory.events.v1"
"""Changes of the service directory (agencies and services), keyed by the agency's directory stream id."""

ALL_EVENT_TOPICS: Final = (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS, FOLLOWUP_EVENTS)

RECEPTION_COMMANDS: Final = "reintegra.reception.commands.v1"
"""Commands that consulates and host countries send to reception (announce a return)."""

PARTNER_RESPONSES: Final = "reintegra.partner.responses.v1"
"""DEPRECATED: the shared topic on which agencies answered before 1.2. Nothing reads it any more: a
command on a shared topic cannot be attributed to its sender. Agencies answer on
:func:`partner_responses_topic` instead."""

PARTNER_RESPONSES_TEMPLATE: Final = "reintegra.partner.{agency_id}.responses.v1"
"""Template of the topic on which one agency sends its commands; fill it with :func:`partner_responses_topic`."""

PARTNER_TOPIC_TEMPLATE: Final = "reintegra.partner.{agency_id}.v1"
"""Template of an agency's own topic; fill it with :func:`partner_topic`."""

AGENCY_CODE_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
"""An agency code: 1-40 lowercase letters, digits and inner hyphens, e.g. ``hn-senaf``, ``iom-gt``."""

_AGENCY_CODE = re.compile(AGENCY_CODE_PATTERN)
_RESERVED_AGENCY_CODES: Final = frozenset({"responses"})
_PARTNER_TOPIC = re.compile(r"^reintegra\.partner\.(?P<agency>[a-z0-9-]+)\.v1$")
_RESPONSES_TOPIC = re.compile(r"^reintegra\.partner\.(?P<agency>[a-z0-9-]+)\.responses\.v1$")

DEAD_LETTER_SUFFIX: Final = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The topic where messages of ``topic`` that cannot be processed are parked."""
    return topic + DEAD_LETTER_SUFFIX


def is_agency_code(agency_id: str) -> bool:
    """Whether ``agency_id`` is a well-formed agency code that can name a partner topic."""
    return bool(_AGENCY_CODE.fullmatch(agency_id)) and agency_id not in _RESERVED_AGENCY_CODES


def partner_topic(agency_id: str) -> str:
    """The topic on which agency ``agency_id`` receives its minimised referral views.

    Raises ``ValueError`` when the code is not a valid agency code (see :data:`AGENCY_CODE_PATTERN`)
    or is reserved (``responses``), so a typo can never create or read somebody else's topic.
    """
    return PARTNER_TOPIC_TEMPLATE.format(agency_id=_checked(agency_id))


def partner_responses_topic(agency_id: str) -> str:
    """The topic on which agency ``agency_id`` sends its commands (only that agency may write it).

    Raises ``ValueError`` for an invalid or reserved agency code, like :func:`partner_topic`.
    """
    return PARTNER_RESPONSES_TEMPLATE.format(agency_id=_checked(agency_id))


def agency_of_responses_topic(topic: str) -> str | None:
    """The agency whose responses topic ``topic`` is, or ``None`` if it is not one."""
    match = _RESPONSES_TOPIC.fullmatch(topic)
    if match is None or not is_agency_code(match["agency"]):
        return None
    return match["agency"]


def _checked(agency_id: str) -> str:
    if not is_agency_code(agency_id):
        raise ValueError(
            f"invalid agency code {agency_id!r}: expected 1-40 lowercase letters, digits or inner hyphens"
            " (and not a reserved word)"
        )
    return agency_id


def agency_of_partner_topic(topic: str) -> str | None:
    """The agency code of a partner topic, or ``None`` if ``topic`` is not one."""
    match = _PARTNER_TOPIC.fullmatch(topic)
    if match is None or not is_agency_code(match["agency"]):
        return None
    return match["agency"]
