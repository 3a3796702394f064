"""Commands the referral service accepts over HTTP (and builds from agency commands on Kafka)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from reintegra_contracts.codelists import CancellationReason, FailureReason, NeedOutcome, RejectionReason

from .directory import AgencyFacts, ServiceFacts
from .model import Channel


class Action(StrEnum):
    """What an agency does to a referral (one per partner command)."""

    RECEIVE = "receive"
    ACCEPT = "accept"
    REJECT = "reject"
    START = "start"
    DELIVER = "deliver"
    COMPLETE = "complete"
    FAIL = "fail"


@dataclass(frozen=True)
class AnswerReferral:
    """An agency's command about a referral; ``agency_id`` comes from the channel, never from the data."""

    agency_id: str
    referral_id: UUID
    action: Action
    at: datetime
    channel: Channel
    command_type: str
    command_id: str
    claimed_agency_id: str | None = None
    rejection_reason: RejectionReason | None = None
    failure_reason: FailureReason | None = None
    outcome: NeedOutcome | None = None
    deliver_by: datetime | None = None
    contact_point: str | None = None
    delivery_id: UUID | None = None
    service_id: str | None = None
    final: bool = False
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True)
class CancelReferral:
    """A case worker (or a consent withdrawal) cancels a referral."""

    referral_id: UUID
    reason: CancellationReason


@dataclass(frozen=True)
class AssignReferral:
    """The coordinating office sends an unmatched need to a service it chose."""

    referral_id: UUID
    service_id: str
    note: str = ""


@dataclass(frozen=True)
class PutAgency:
    """Add or change an agency of the directory."""

    facts: AgencyFacts


@dataclass(frozen=True)
class RemoveAgency:
    agency_id: str


@dataclass(frozen=True)
class PutService:
    """Add or change a service of the directory."""

    facts: ServiceFacts


@dataclass(frozen=True)
class RemoveService:
    service_id: str


@dataclass(frozen=True)
class SetWebhook:
    """Where partner messages for an agency are pushed, and the secret that signs them."""

    agency_id: str
    url: str | None
    secret: str | None


@dataclass(frozen=True)
class ImportDirectory:
    """Add or change many agencies and services at once: all of them, or none."""

    agencies: tuple[AgencyFacts, ...] = ()
    services: tuple[ServiceFacts, ...] = ()
    dry_run: bool = False
    seed: bool = field(default=False)
