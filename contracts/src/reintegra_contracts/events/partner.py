"""The partner channel: what an agency receives and what it sends back.

* Views (events) on the agency's own topic ``reintegra.partner.<agency>.v1`` — minimised: only what
  the service needs (age band instead of age, no returnee id); contact details are resolved through
  the reception API with a short-lived, audited reference allowed by the recorded consent.
* Commands on the agency's own ``reintegra.partner.<agency>.responses.v1`` — imperative, each may be
  refused by the referral service (e.g. a command about a referral that was not sent to that agency,
  or one its current status does not allow), and a refusal is answered on the agency's partner topic
  with :class:`PartnerCommandRefused`. The agency is the one whose topic the command arrived on (a Kafka
  ACL says who may write it); the ``agency_id`` in the data must agree with it. Until 1.2 every agency
  answered on the shared ``reintegra.partner.responses.v1``, now deprecated (docs/adr/0040).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import AgencyCode, Command, Event
from ..codelists import (
    AgeGroup,
    CancellationReason,
    CommandRefusalReason,
    Dimension,
    FailureReason,
    Level,
    NeedOutcome,
    Priority,
    ReferralStatus,
    RejectionReason,
    ServiceCategory,
    Sex,
    Vulnerability,
)
from ..topics import (
    PARTNER_RESPONSES_TEMPLATE,
    PARTNER_TOPIC_TEMPLATE,
    partner_responses_topic,
    partner_topic,
)

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
    # Added in 1.2 (optional).
    need_id: UUID | None = Field(default=None, description="The need referred (the same need keeps its id).")
    contact_reference: str | None = Field(
        default=None,
        max_length=100,
        description="Opaque reference the agency quotes to obtain contact details where consent allows; "
        "it reveals nothing by itself.",
    )
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="1 for the first agency asked for this need, 2 after one re-routing, …",
    )
    # Added in 1.3 (optional).
    contact_reference_expires_at: AwareDatetime | None = Field(
        default=None, description="When the contact reference stops resolving."
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


class _AgencyCommand(Command):
    """Base of the commands an agency sends on its own responses topic."""

    def kafka_topic(self) -> str:
        """The sending agency's own responses topic (``reintegra.partner.<agency>.responses.v1``)."""
        return partner_responses_topic(self.agency_id)  # type: ignore[attr-defined]


class PartnerReferralOverdue(Event):
    """The agency has not answered a referral by its answer-by time. / Derivación vencida."""

    event_type: ClassVar[str] = "org.reintegra.partner.referral_overdue.v1"
    topic: ClassVar[str] = PARTNER_TOPIC_TEMPLATE
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _AGENCY

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency (selects the topic).")
    due_at: AwareDatetime = Field(description="The answer-by time that passed.")
    reroute_at: AwareDatetime | None = Field(
        default=None, description="When the need goes to another agency if it is still unanswered."
    )

    def kafka_topic(self) -> str:
        """The agency's own partner topic."""
        return partner_topic(self.agency_id)


class PartnerCommandRefused(Event):
    """A command the agency sent was refused and changed nothing. / Comando rechazado."""

    event_type: ClassVar[str] = "org.reintegra.partner.command_refused.v1"
    topic: ClassVar[str] = PARTNER_TOPIC_TEMPLATE
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _AGENCY

    referral_id: UUID = Field(description="The referral the command was about.")
    agency_id: AgencyCode = Field(description="Code of the agency that sent it (selects the topic).")
    command_type: str = Field(max_length=200, description="CloudEvents type of the refused command.")
    command_id: str = Field(
        max_length=200, description="CloudEvents id (or HTTP idempotency key) of the command."
    )
    reason: CommandRefusalReason = Field(description="Why it was refused.")
    detail: str = Field(max_length=1000, description="The refusal in words (names the current status).")
    current_status: ReferralStatus | None = Field(
        default=None, description="The referral's status when the command arrived, if the agency may know it."
    )
    refused_at: AwareDatetime = Field(description="When it was refused.")

    def kafka_topic(self) -> str:
        """The agency's own partner topic."""
        return partner_topic(self.agency_id)


class ReceiveReferral(_AgencyCommand):
    """Command: the agency confirms it received a referral (delivery receipt). / Acusar recibo."""

    event_type: ClassVar[str] = "org.reintegra.partner.receive_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral received.")
    agency_id: AgencyCode = Field(description="Code of the agency (must be the one whose topic carries it).")
    received_at: AwareDatetime = Field(description="When the agency's system received it.")


class AcceptReferral(_AgencyCommand):
    """Command: the agency accepts a referral. / Aceptar derivación."""

    event_type: ClassVar[str] = "org.reintegra.partner.accept_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
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


class RejectReferral(_AgencyCommand):
    """Command: the agency rejects a referral, with a reason. / Rechazar derivación."""

    event_type: ClassVar[str] = "org.reintegra.partner.reject_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral rejected.")
    agency_id: AgencyCode = Field(description="Code of the answering agency (must own the referral).")
    rejected_at: AwareDatetime = Field(description="When the agency rejected it.")
    reason: RejectionReason = Field(description="Why it is rejected.")


class StartService(_AgencyCommand):
    """Command: the agency started serving an accepted referral. / Iniciar la atención."""

    event_type: ClassVar[str] = "org.reintegra.partner.start_service.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral being served.")
    agency_id: AgencyCode = Field(description="Code of the agency (must be the one whose topic carries it).")
    started_at: AwareDatetime = Field(description="When the service started (e.g. the first appointment).")


class RecordServiceDelivery(_AgencyCommand):
    """Command: the agency records that it delivered (part of) the service. / Registrar servicio prestado."""

    event_type: ClassVar[str] = "org.reintegra.partner.record_service_delivery.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral served.")
    agency_id: AgencyCode = Field(description="Code of the delivering agency (must own the referral).")
    delivery_id: UUID = Field(description="Id chosen by the agency; repeating it is idempotent.")
    service_id: str = Field(description="Code of the service delivered.")
    delivered_at: AwareDatetime = Field(description="When it was delivered.")
    final: bool = Field(default=False, description="Whether this delivery completes the service.")
    outcome: NeedOutcome | None = Field(default=None, description="For a final delivery: was the need met.")


class CompleteReferral(_AgencyCommand):
    """Command: the agency closes a served referral, saying whether the need was met. / Completar."""

    event_type: ClassVar[str] = "org.reintegra.partner.complete_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral completed.")
    agency_id: AgencyCode = Field(description="Code of the agency (must be the one whose topic carries it).")
    completed_at: AwareDatetime = Field(description="When it was completed.")
    outcome: NeedOutcome = Field(description="Whether the need was met.")


class FailReferral(_AgencyCommand):
    """Command: the agency declares an accepted referral failed, with a reason. / Declarar fallida."""

    event_type: ClassVar[str] = "org.reintegra.partner.fail_referral.v1"
    topic: ClassVar[str] = PARTNER_RESPONSES_TEMPLATE
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("referral",)

    referral_id: UUID = Field(description="The referral that failed.")
    agency_id: AgencyCode = Field(description="Code of the agency (must be the one whose topic carries it).")
    failed_at: AwareDatetime = Field(description="When it was declared failed.")
    reason: FailureReason = Field(description="Why it failed.")


AGENCY_COMMANDS: tuple[type[Command], ...] = (
    ReceiveReferral,
    AcceptReferral,
    RejectReferral,
    StartService,
    RecordServiceDelivery,
    CompleteReferral,
    FailReferral,
)
"""Every command an agency may send, in lifecycle order."""
