"""The partner channel: what an agency receives and what it sends back.

* Views (events) on the agency's own topic ``reintegra.partner.<agency>.v1`` — minimised: only what
  the service needs (age band instead of age, no returnee id); contact details are resolved through
  the reception API with a short-lived, audited reference allowed by the recorded consent.
* Commands on ``reintegra.partner.responses.v1`` — imperative, each may be refused by the referral
  service (e.g. an agency answering for a referral that is not its own).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import AgencyCode, Command, Event
from ..codelists import (
    AgeGroup,
    CancellationReason,
    Dimension,
    Level,
    NeedOutcome,
    Priority,
    RejectionReason,
    ServiceCategory,
    Sex,
    Vulnerability,
)
from ..topics import PARTNER_RESPONSES, PARTNER_TOPIC_TEMPLATE, partner_topic

_AGENCY = ("agency systems",)


class PartnerReferralRequested(Event):
    """Minimised view of a referral, sent to the agency asked to serve it. / Derivación recibida."""

    event_type: ClassVar[str] = "org.reintegra.partner.referral_requested.v1"
    topic: ClassVar[str] = PARTNER_TOPIC_TEMPLATE
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _AGENCY

    referral_id: UUID = Field(description="Id of the referral; quote it in every answer.")
    agency_id: AgencyCode = Field(description="Code of the agency asked to serve (selects the topic).")
    service_id: str = Field(description="Code of the service in the service directory.")
    category: ServiceCategory = Field(description="Service category.")
    dimension: Dimension = Field(description="Dimension of the need.")
    level: Level = Field(default=Level.INDIVIDUAL, description="Level of the service.")
    priority: Priority = Field(description="Priority of the referral.")
    requested_at: AwareDatetime = Field(description="When the referral was made.")
    respond_by: AwareDatetime = Field(description="Accept or reject before this time, or it is escalated.")
    age_group: AgeGroup = Field(description="Age band of the person (never the exact age).")
    sex: Sex | None = Field(default=None, description="Sex, only when the service needs it.")
    destination_municipality: str = Field(description="Code of the municipality where the person lives.")
    preferred_language: str = Field(default="es", description="BCP 47 tag of the preferred language.")
    vulnerabilities: list[Vulnerability] = Field(
        default_factory=list, description="Only the vulnerability flags relevant to this service."
    )
    contact_reference_available: bool = Field(
        default=False,
        description="Whether consent allows the agency to resolve contact details through the reception API.",
    )

    def kafka_topic(self) -> str:
        """The agency's own partner topic."""
        return partner_topic(self.agency_id)


class PartnerReferralCancelled(Event):
    """A referral sent to the agency was cancelled; stop working on it. / Derivación cancelada."""

    event_type: ClassVar[str] = "org.reintegra.partner.referral_cancelled.v1"
    topic: ClassVar[str] = PARTNER_TOPIC_TEMPLATE
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _AGENCY

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency (selects the topic).")
    cancelled_at: AwareDatetime = Field(description="When it was cancelled.")
    reason: CancellationReason = Field(description="Why it was cancelled.")

    def kafka_topic(self) -> str:
        """The agency's own partner topic."""
        return partner_topic(self.agency_id)


class AcceptReferral(Command):
    """Command: the agency accepts a referral. / Aceptar derivación."""

    event_type: ClassVar[str] = "org.reintegra.partner.accept_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral accepted.")
    agency_id: AgencyCode = Field(description="Code of the answering agency (must own the referral).")
    accepted_at: AwareDatetime = Field(description="When the agency accepted.")
    deliver_by: AwareDatetime | None = Field(default=None, description="When the agency expects to deliver.")
    contact_point: str | None = Field(
        default=None,
        max_length=64,
        description="Code of the first point of contact (a desk or role, not a name).",
    )


class RejectReferral(Command):
    """Command: the agency rejects a referral, with a reason. / Rechazar derivación."""

    event_type: ClassVar[str] = "org.reintegra.partner.reject_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral rejected.")
    agency_id: AgencyCode = Field(description="Code of the answering agency (must own the referral).")
    rejected_at: AwareDatetime = Field(description="When the agency rejected it.")
    reason: RejectionReason = Field(description="Why it is rejected.")


class RecordServiceDelivery(Command):
    """Command: the agency records that it delivered (part of) the service. / Registrar servicio prestado."""

    event_type: ClassVar[str] = "org.reintegra.partner.record_service_delivery.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral served.")
    agency_id: AgencyCode = Field(description="Code of the delivering agency (must own the referral).")
    delivery_id: UUID = Field(description="Id chosen by the agency; repeating it is idempotent.")
    service_id: str = Field(description="Code of the service delivered.")
    delivered_at: AwareDatetime = Field(description="When it was delivered.")
    final: bool = Field(default=False, description="Whether this delivery completes the service.")
    outcome: NeedOutcome | None = Field(default=None, description="For a final delivery: was the need met.")
