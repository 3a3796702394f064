"""Events of the referral context (topic ``reintegra.referral.events.v1``).

A referral follows the HL7 FHIR ``Task`` life cycle: (on hold awaiting consent ->) requested ->
received -> accepted | rejected; accepted -> in progress -> service delivered -> completed | failed;
cancelled by the referring side at any point before the end. A need no service can take is
``unmatched``. See :data:`reintegra_contracts.codelists.FHIR_TASK_STATUS`. One referral is one need
sent to one agency: when the agency rejects it or stays silent past its answer-by time, the need is
re-routed as a new referral (``attempt`` + 1, ``previous_referral_id``) to the next candidate.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from ..base import AgencyCode, Event
from ..codelists import (
    CancellationReason,
    Dimension,
    FailureReason,
    HoldReason,
    Level,
    MatchReason,
    NeedOutcome,
    OverdueStage,
    Priority,
    RejectionReason,
    ServiceCategory,
    UnmatchedReason,
)
from ..topics import REFERRAL_EVENTS

_CONSUMERS_ALL: tuple[str, ...] = ("followup", "assessment", "agency systems (statistics)")


class ReferralRequested(Event):
    """A need was referred to a service of an agency. / Derivación solicitada (FHIR Task: requested)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_requested.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    assessment_id: UUID = Field(description="The assessment that found the need.")
    need_id: UUID = Field(description="The need referred.")
    category: ServiceCategory = Field(description="Service category.")
    dimension: Dimension = Field(description="Dimension of the need.")
    level: Level = Field(description="Level of the service.")
    priority: Priority = Field(description="Priority of the referral.")
    service_id: str = Field(description="Code of the service in the service directory.")
    agency_id: str = Field(description="Code of the agency that provides the service.")
    requested_at: AwareDatetime = Field(description="When the referral was made.")
    respond_by: AwareDatetime = Field(description="When the agency must have accepted or rejected it.")
    # Added in 1.1 (optional).
    consent_id: UUID | None = Field(
        default=None,
        description="The consent that allows the referral (absent under a vital-interest override).",
    )
    # Added in 1.2 (optional).
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="1 for the first agency asked for this need, 2 after one re-routing, …",
    )
    previous_referral_id: UUID | None = Field(
        default=None, description="The referral of the same need this one re-routes (rejected or overdue)."
    )
    candidates_considered: int | None = Field(
        default=None, ge=0, description="How many services of the directory were considered for the need."
    )
    match_reasons: list[MatchReason] = Field(
        default_factory=list,
        description="Why this service was chosen (the full ranking is kept by referral).",
    )
    # Added in 1.3 (optional; ADR 0081).
    contact_reference: str | None = Field(
        default=None,
        max_length=100,
        description="The opaque reference the agency quotes to reception (POST /v1/contact-lookups) for the "
        "person's contact details; reception answers only while consent covers the agency and the referral "
        "is active. It reveals nothing by itself.",
    )
    contact_reference_expires_at: AwareDatetime | None = Field(
        default=None, description="When the contact reference stops being valid."
    )


class ReferralHeld(Event):
    """A referral waits before it is shared with the agency. / Derivación en espera (FHIR Task: on-hold)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_held.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    need_id: UUID = Field(description="The need referred.")
    agency_id: AgencyCode = Field(description="Code of the agency it will be sent to.")
    service_id: str = Field(description="Code of the service in the service directory.")
    category: ServiceCategory = Field(description="Service category.")
    held_at: AwareDatetime = Field(description="When it was put on hold.")
    reason: HoldReason = Field(description="What it waits for.")


class ReferralUnmatched(Event):
    """No service of the directory can take a need; it waits in the unmatched queue. / Necesidad sin servicio."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_unmatched.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the unmatched referral (the queue entry).")
    assessment_id: UUID = Field(description="The assessment that found the need.")
    need_id: UUID = Field(description="The need that could not be referred.")
    category: ServiceCategory = Field(description="Service category needed.")
    priority: Priority = Field(description="Priority of the need.")
    reason: UnmatchedReason = Field(description="Why no service could take it.")
    candidates_considered: int = Field(ge=0, description="How many services of the category were considered.")
    attempt: int = Field(default=1, ge=1, description="How many agencies were asked before, plus one.")
    previous_referral_id: UUID | None = Field(
        default=None, description="The last referral of the need, when it was re-routed here."
    )
    unmatched_at: AwareDatetime = Field(description="When it went to the queue.")


class ReferralReceived(Event):
    """The agency's system received the referral. / Derivación recibida (FHIR Task: received)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_received.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    received_at: AwareDatetime = Field(description="When the agency received it.")


class ReferralAccepted(Event):
    """The agency accepted the referral. / Derivación aceptada (FHIR Task: accepted)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_accepted.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    accepted_at: AwareDatetime = Field(description="When the agency accepted.")
    deliver_by: AwareDatetime | None = Field(default=None, description="When the agency expects to deliver.")
    contact_point: str | None = Field(
        default=None,
        max_length=64,
        description="Code of the agency's first point of contact (a desk or role, never a person's name).",
    )


class ReferralRejected(Event):
    """The agency rejected the referral. / Derivación rechazada (FHIR Task: rejected)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_rejected.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    rejected_at: AwareDatetime = Field(description="When the agency rejected it.")
    reason: RejectionReason = Field(description="Why it was rejected.")


class ReferralOverdue(Event):
    """A referral passed its deadline and was escalated. / Derivación vencida (escalamiento)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_overdue.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = ("followup", "agency systems (coordination)")

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency that has not answered or delivered.")
    stage: OverdueStage = Field(description="Which deadline passed: response or delivery.")
    due_at: AwareDatetime = Field(description="The deadline that passed.")
    detected_at: AwareDatetime = Field(description="When the timer fired.")
    escalation_level: int = Field(
        ge=1,
        le=3,
        description="1 = reminder to the agency, 2 = agency supervisor, 3 = inter-agency coordination.",
    )
    escalated_to: AgencyCode | None = Field(default=None, description="Agency code escalated to, if any.")


class ReferralEscalated(Event):
    """An overdue referral was escalated to the coordinating office. / Derivación escalada a coordinación."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_escalated.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = ("followup", "agency systems (coordination)")

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency that has not answered.")
    escalated_to: AgencyCode | None = Field(
        default=None, description="Coordinating office of the agency's country, if the directory names one."
    )
    stage: OverdueStage = Field(description="Which deadline passed.")
    escalated_at: AwareDatetime = Field(description="When it was escalated.")
    reroute_at: AwareDatetime | None = Field(
        default=None, description="When the need goes to the next candidate if the agency is still silent."
    )


class ServiceStarted(Event):
    """The agency started serving the referral. / Atención iniciada (FHIR Task: in-progress)."""

    event_type: ClassVar[str] = "org.reintegra.referral.service_started.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    started_at: AwareDatetime = Field(description="When the service started.")


class ReferralCancelled(Event):
    """The referring side cancelled the referral. / Derivación cancelada (FHIR Task: cancelled)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_cancelled.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode | None = Field(
        default=None, description="Code of the agency (absent for a need cancelled while unmatched)."
    )
    cancelled_at: AwareDatetime = Field(description="When it was cancelled.")
    reason: CancellationReason = Field(description="Why it was cancelled.")


class ServiceDelivered(Event):
    """The agency delivered (part of) the service. / Servicio prestado (FHIR Task: in-progress)."""

    event_type: ClassVar[str] = "org.reintegra.referral.service_delivered.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    delivery_id: UUID = Field(description="Id of this delivery (a referral may have several).")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    service_id: str = Field(description="Code of the service delivered.")
    category: ServiceCategory = Field(description="Service category.")
    delivered_at: AwareDatetime = Field(description="When it was delivered.")
    final: bool = Field(default=False, description="Whether this delivery completes the service.")


class ReferralCompleted(Event):
    """The referral was completed. / Derivación completada (FHIR Task: completed)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_completed.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    need_id: UUID = Field(description="The need referred.")
    completed_at: AwareDatetime = Field(description="When it was completed.")
    outcome: NeedOutcome = Field(description="Whether the need was met.")
    deliveries: int = Field(default=1, ge=0, description="Number of deliveries recorded.")


class ReferralFailed(Event):
    """An accepted referral could not be completed. / Derivación fallida (FHIR Task: failed)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_failed.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
    need_id: UUID = Field(description="The need referred.")
    failed_at: AwareDatetime = Field(description="When it was declared failed.")
    reason: FailureReason = Field(description="Why it failed.")
