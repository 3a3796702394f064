"""The topic catalogue: one topic per bounded context; the key is always the case id.

Each agency has its own partner topic (``reintegra.partner.<agency>.v1``) carrying minimised views
only, and every agency answers on the shared ``reintegra.partner.responses.v1``.
"""

from __future__ import annotations

import re
from typing import Final

RECEPTION_EVENTS: Final = "reintegra.reception.events.v1"
ASSESSMENT_EVENTS: Final = "reintegra.assessment.events.v1"
REFERRAL_EVENTS: Final = "reintegra.referral.events.v1"
FOLLOWUP_EVENTS: Final = "reintegra.followup.events.v1"

ALL_EVENT_TOPICS: Final = (RECEPTION_EVENTS, ASSESSMENT_EVENTS, REFERRAL_EVENTS, FOLLOWUP_EVENTS)

RECEPTION_COMMANDS: Final = "reintegra.reception.commands.v1"
"""Commands that consulates and host countries send to reception (announce a return)."""

PARTNER_RESPONSES: Final = "reintegra.partner.responses.v1"
"""Commands that agencies send back (accept, reject, record delivery)."""

PARTNER_TOPIC_TEMPLATE: Final = "reintegra.partner.{agency_id}.v1"
"""Template of an agency's own topic; fill it with :func:`partner_topic`."""

AGENCY_CODE_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
"""An agency code: 1-40 lowercase letters, digits and inner hyphens, e.g. ``hn-senaf``, ``iom-gt``."""

_AGENCY_CODE = re.compile(AGENCY_CODE_PATTERN)
_RESERVED_AGENCY_CODES: Final = frozenset({"responses"})
_PARTNER_TOPIC = re.compile(r"^reintegra\.partner\.(?P<agency>[a-z0-9-]+)\.v1$")

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
    if not is_agency_code(agency_id):
        raise ValueError(
            f"invalid agency code {agency_id!r}: expected 1-40 lowercase letters, digits or inner hyphens"
            " (and not a reserved word)"
        )
    return PARTNER_TOPIC_TEMPLATE.format(agency_id=agency_id)


def agency_of_partner_topic(topic: str) -> str | None:
    """The agency code of a partner topic, or ``None`` if ``topic`` is not one."""
    match = _PARTNER_TOPIC.fullmatch(topic)
    if match is None or not is_agency_code(match["agency"]):
        return None
    return match["agency"]
