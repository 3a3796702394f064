"""Events of the referral context (topic ``reintegra.referral.events.v1``).

A referral follows the HL7 FHIR ``Task`` life cycle: requested -> accepted | rejected | cancelled;
accepted -> in-progress (service delivered) -> completed | failed. See
:data:`reintegra_contracts.codelists.FHIR_TASK_STATUS`.
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
    Level,
    NeedOutcome,
    OverdueStage,
    Priority,
    RejectionReason,
    ServiceCategory,
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


class ReferralCancelled(Event):
    """The referring side cancelled the referral. / Derivación cancelada (FHIR Task: cancelled)."""

    event_type: ClassVar[str] = "org.reintegra.referral.referral_cancelled.v1"
    topic: ClassVar[str] = REFERRAL_EVENTS
    producer: ClassVar[str] = "referral"
    consumers: ClassVar[tuple[str, ...]] = _CONSUMERS_ALL

    referral_id: UUID = Field(description="Id of the referral.")
    agency_id: AgencyCode = Field(description="Code of the agency.")
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
