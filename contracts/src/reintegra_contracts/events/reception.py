"""Events of the reception context (topic ``reintegra.reception.events.v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..base import AgencyCode, Command, CountryCode, Event
from ..codelists import (
    AgeGroup,
    ConcernType,
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    DuplicateMatchBasis,
    ErasureReason,
    ImmediateAssistance,
    OverrideJustification,
    Priority,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)
from ..topics import RECEPTION_COMMANDS, RECEPTION_EVENTS

_COUNTRY = r"^[A-Z]{2}$"


class AnnouncedPerson(BaseModel):
    """Non-identifying attributes of one person on an announced return."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    announced_person_id: UUID = Field(
        description="Pseudonymous id of the announced person, echoed by the arrival that matches it."
    )
    age_group: AgeGroup | None = Field(default=None, description="Age band, if known.")
    sex: Sex | None = Field(default=None, description="Sex as reported by the announcing authority.")
    travel_group_id: UUID | None = Field(
        default=None, description="Pseudonymous id shared by persons travelling together as a family."
    )
    vulnerabilities: list[Vulnerability] = Field(
        default_factory=list, description="Vulnerability flags known before arrival."
    )
    needs_medical_attention: bool = Field(default=False, description="Medical attention needed on arrival.")
    # Added in 1.1 (optional).
    reference: str | None = Field(
        default=None,
        max_length=100,
        description="The announcing authority's own reference for the person (e.g. its case or line "
        "number); an arrival quoting it is matched to this person first.",
    )


class ReturnAnnounced(Event):
    """A consulate or host country announced a return before it happens. / Retorno anunciado."""

    event_type: ClassVar[str] = "org.reintegra.reception.return_announced.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = (
        "reception (centre planning)",
        "agency systems (reception centres)",
    )

    case_id: UUID = Field(
        description="Pseudonymous id of the pre-arrival case opened for this announcement (Kafka key)."
    )
    announcement_id: UUID = Field(description="Id of the announcement; arrivals that match it carry it.")
    announced_by: AgencyCode = Field(description="Agency code of the consulate or host-country authority.")
    announced_at: AwareDatetime = Field(description="When the announcement was received.")
    expected_arrival_at: AwareDatetime = Field(description="Expected time of arrival at the port of entry.")
    port_of_entry: str = Field(description="Code of the port of entry (see reference data).")
    reception_centre: str | None = Field(default=None, description="Code of the expected reception centre.")
    country_of_return: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country of return.")
    returned_from: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country returning from.")
    return_type: ReturnType = Field(description="Forced, voluntary or assisted voluntary return.")
    transport_mode: TransportMode = Field(description="Air, land or sea.")
    transport_reference: str | None = Field(
        default=None, max_length=40, description="Flight or convoy reference, e.g. a charter flight number."
    )
    persons_expected: int = Field(ge=1, description="Number of persons announced.")
    persons: list[AnnouncedPerson] = Field(
        default_factory=list, description="Non-identifying attributes of each announced person, when shared."
    )


class AnnounceReturn(Command):
    """Command: a consulate or host country announces a return before it happens. / Anunciar retorno.

    Reception answers with ``return_announced``; the same ``announcement_id`` sent again changes
    nothing. Announced persons are described without personal data (the log never carries it): an
    arrival is matched to them by their ``reference``; identity matching needs the reception API.
    """

    event_type: ClassVar[str] = "org.reintegra.reception.announce_return.v1"
    topic: ClassVar[str] = RECEPTION_COMMANDS
    producer: ClassVar[str] = "agency systems"
    consumers: ClassVar[tuple[str, ...]] = ("reception",)

    case_id: UUID = Field(
        description="Pseudonymous id of the pre-arrival case, chosen by the sender (Kafka key); "
        "``return_announced`` carries it."
    )
    announcement_id: UUID = Field(description="Id of the announcement, chosen by the sender (idempotency).")
    announced_by: AgencyCode = Field(description="Agency code of the consulate or host-country authority.")
    expected_arrival_at: AwareDatetime = Field(description="Expected time of arrival at the port of entry.")
    port_of_entry: str = Field(description="Code of the port of entry (see reference data).")
    reception_centre: str | None = Field(default=None, description="Code of the expected reception centre.")
    country_of_return: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country of return.")
    returned_from: CountryCode = Field(description="ISO 3166-1 alpha-2 code of the country returning from.")
    return_type: ReturnType = Field(description="Forced, voluntary or assisted voluntary return.")
    transport_mode: TransportMode = Field(description="Air, land or sea.")
    transport_reference: str | None = Field(
        default=None, max_length=40, description="Flight or convoy reference, e.g. a charter flight number."
    )
    persons: list[AnnouncedPerson] = Field(
        min_length=1, max_length=500, description="The persons announced (no personal data)."
    )


class ArrivalRegistered(Event):
    """A returned person was registered at a reception centre. / Persona retornada registrada."""

    event_type: ClassVar[str] = "org.reintegra.reception.arrival_registered.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "followup", "agency systems (statistics)")

    returnee_id: UUID = Field(description="Pseudonymous id of the returned person.")
    arrived_at: AwareDatetime = Field(description="When the person arrived at the port of entry.")
    port_of_entry: str = Field(description="Code of the port of entry (see reference data).")
    reception_centre: str = Field(description="Code of the reception centre.")
    country_of_return: str = Field(
        description="ISO 3166-1 alpha-2 code of the country the person returned to.",
        pattern=_COUNTRY,
    )
    returned_from: str = Field(
        description="ISO 3166-1 alpha-2 code of the country the person was returned from.",
        pattern=_COUNTRY,
    )
    return_type: ReturnType = Field(description="Forced, voluntary or assisted voluntary return.")
    transport_mode: TransportMode = Field(description="How the person travelled back.")
    travel_group_id: UUID | None = Field(
        default=None, description="Pseudonymous id shared by persons who travelled together as a family."
    )
    age: int = Field(ge=0, le=120, description="Age in completed years at arrival.")
    sex: Sex = Field(description="Sex as declared.")
    preferred_language: str = Field(default="es", description="BCP 47 tag of the preferred language.")
    indigenous_people: str | None = Field(
        default=None,
        description="DEPRECATED since 1.3, always absent: ethnic origin is special-category data that "
        "stays at reception (ADR 0080).",
    )
    has_disability: bool = Field(
        default=False,
        description="DEPRECATED since 1.3, always false: a disability is health data that stays at "
        "reception (ADR 0080); ``protection_priority`` says how urgent the case is.",
    )
    destination_municipality: str = Field(description="Code of the municipality the person is going to.")
    is_repeat_return: bool = Field(default=False, description="Whether the person was returned before.")
    previous_returns: int = Field(default=0, ge=0, description="How many earlier returns are known.")
    announcement_id: UUID | None = Field(default=None, description="The pre-arrival announcement matched.")
    vulnerabilities: list[Vulnerability] = Field(
        default_factory=list,
        description="Vulnerability flags that are not special-category data (since 1.3 never one of "
        "codelists.SPECIAL_CATEGORY_VULNERABILITIES: health, survivors of violence, sexual orientation, "
        "ethnic origin stay at reception; ADR 0080).",
    )
    immediate_needs: list[ServiceCategory] = Field(
        default_factory=list, description="Needs to be met at once, before the assessment."
    )
    registered_at: datetime = Field(description="When the registration was recorded.")
    # Added in 1.1 (optional).
    travel_group_size: int | None = Field(
        default=None, ge=1, description="Number of persons in the travel group, this person included."
    )
    announced_person_id: UUID | None = Field(
        default=None, description="The announced person this arrival matched, if any."
    )
    # Added in 1.3 (optional; ADR 0080).
    protection_priority: Priority | None = Field(
        default=None,
        description="How urgently the person needs protection and assessment, decided at reception from "
        "every flag it holds (special-category ones included) without saying which: urgent for a child "
        "alone or separated, a survivor of trafficking or gender-based violence, a risk of displacement; "
        "high for any other vulnerability or an immediate need; medium otherwise. Absent from producers "
        "before 1.3.",
    )


class ImmediateAssistanceProvided(Event):
    """Immediate assistance was given at the reception centre. / Asistencia inmediata brindada."""

    event_type: ClassVar[str] = "org.reintegra.reception.immediate_assistance_provided.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "followup", "agency systems (statistics)")

    returnee_id: UUID = Field(description="Pseudonymous id of the returned person.")
    reception_centre: str = Field(description="Code of the reception centre.")
    provided_at: AwareDatetime = Field(description="When the assistance was given.")
    assistance: list[ImmediateAssistance] = Field(min_length=1, description="What was given.")
    provided_by: AgencyCode | None = Field(
        default=None, description="Agency code of the provider, if not reception."
    )


class ConsentScope(BaseModel):
    """What a consent covers: one purpose, for some service categories and agencies.

    A scope covers an agency's service when its purpose is the one asked for, its categories are empty
    or include the service's category, and its agencies are empty or include the agency.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    purpose: ConsentPurpose = Field(description="Purpose the consent covers.")
    service_categories: list[ServiceCategory] = Field(
        default_factory=list, description="Service categories covered; empty means every category."
    )
    agencies: list[AgencyCode] = Field(
        default_factory=list, description="Agency codes covered; empty means any agency in the network."
    )


class ConsentRecorded(Event):
    """The returnee's informed consent (or a vital-interest override) was recorded. / Consentimiento.

    Each consent is one record (``consent_id``); a case may have several, and what they cover adds up
    until each is withdrawn (``consent_withdrawn``) or expires (``valid_until``). A vital-interest
    override is a record with ``basis=vital_interest``, ``given_by=not_given`` and a justification
    code; its free-text reasons stay in reception's database.
    """

    event_type: ClassVar[str] = "org.reintegra.reception.consent_recorded.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("referral", "followup", "assessment")

    consent_id: UUID = Field(description="Id of the consent record.")
    returnee_id: UUID = Field(description="Pseudonymous id of the returned person.")
    recorded_at: AwareDatetime = Field(description="When the consent was recorded.")
    basis: ConsentBasis = Field(
        default=ConsentBasis.CONSENT,
        description="Consent, or vital-interest override (life at risk, assessed by a mental-health professional).",
    )
    given_by: ConsentGiver = Field(description="Who consented: the person, a guardian or an authority.")
    method: ConsentMethod = Field(description="How the consent was obtained.")
    scopes: list[ConsentScope] = Field(min_length=1, description="Purposes and service categories covered.")
    valid_from: AwareDatetime = Field(description="Start of validity.")
    valid_until: AwareDatetime | None = Field(
        default=None, description="End of validity; none = until withdrawn."
    )
    recorded_by_role: StaffRole = Field(description="Role of the staff member who recorded it.")
    information_language: str = Field(
        default="es", description="BCP 47 tag of the language in which the person was informed."
    )
    # Added in 1.3 (optional).
    override_justification: OverrideJustification | None = Field(
        default=None,
        description="Why a vital-interest override was recorded (only with basis=vital_interest); the "
        "professional's own words stay in reception's database.",
    )


class ConsentWithdrawn(Event):
    """A consent was withdrawn, in whole or in part. / Consentimiento retirado.

    ``scopes`` lists the scopes that no longer hold (as the consent recorded them); empty means the
    whole consent. Sharing, contact and follow-up under it stop at ``withdrawn_at``.
    """

    event_type: ClassVar[str] = "org.reintegra.reception.consent_withdrawn.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("referral", "followup", "assessment")

    consent_id: UUID = Field(description="The consent withdrawn.")
    returnee_id: UUID = Field(description="Pseudonymous id of the returned person.")
    withdrawn_at: AwareDatetime = Field(description="When it was withdrawn.")
    withdrawn_by: ConsentGiver = Field(description="Who withdrew it.")
    scopes: list[ConsentScope] = Field(
        default_factory=list, description="Scopes withdrawn; empty means the whole consent."
    )


class ProtectionConcernRaised(Event):
    """A protection concern was raised and must be acted upon. / Alerta de protección."""

    event_type: ClassVar[str] = "org.reintegra.reception.protection_concern_raised.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "followup")

    concern_id: UUID = Field(description="Id of the concern.")
    returnee_id: UUID = Field(description="Pseudonymous id of the person concerned.")
    concern_type: ConcernType = Field(
        description="Kind of concern; since 1.3 ``undisclosed`` when the kind is special-category data "
        "(gender-based violence, trafficking, a medical or mental-health emergency), which stays at "
        "reception (ADR 0080)."
    )
    urgency: Urgency = Field(description="How fast it must be acted upon.")
    raised_at: AwareDatetime = Field(description="When it was raised.")
    raised_by_role: StaffRole = Field(description="Role of the staff member who raised it.")
    lead_agency: AgencyCode | None = Field(
        default=None,
        description="Agency code of the authority that leads (e.g. the child-protection authority).",
    )
    referral_without_consent: bool = Field(
        default=False,
        description="Whether a vital-interest referral without consent is justified (recorded override).",
    )
    # Added in 1.1 (optional): what referral needs to act at once, without waiting for the assessment.
    service_category: ServiceCategory | None = Field(
        default=None, description="Service to refer the person to at once for this concern."
    )
    destination_municipality: str | None = Field(
        default=None, description="Code of the municipality the person is going to (where to refer)."
    )


class PossibleDuplicateDetected(Event):
    """Two registrations may be the same person; a person must decide. / Posible duplicado."""

    event_type: ClassVar[str] = "org.reintegra.reception.possible_duplicate_detected.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "followup")

    returnee_id: UUID = Field(description="Pseudonymous id of the newer record.")
    candidate_returnee_id: UUID = Field(description="Pseudonymous id of the record it may duplicate.")
    candidate_case_id: UUID = Field(description="Case of the candidate record.")
    match_score: float = Field(ge=0, le=1, description="Similarity score, 1 = certain.")
    match_basis: list[DuplicateMatchBasis] = Field(
        min_length=1, description="What matched (the compared data never leaves reception)."
    )
    detected_at: AwareDatetime = Field(description="When the match was found.")


class ReturneeRecordsMerged(Event):
    """Duplicate records were merged; the merged cases live on in the surviving one. / Registros fusionados."""

    event_type: ClassVar[str] = "org.reintegra.reception.returnee_records_merged.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "followup")

    case_id: UUID = Field(description="The surviving case (Kafka key).")
    surviving_returnee_id: UUID = Field(description="Pseudonymous id kept.")
    merged_returnee_ids: list[UUID] = Field(min_length=1, description="Pseudonymous ids merged into it.")
    merged_case_ids: list[UUID] = Field(
        default_factory=list, description="Cases merged into the surviving case (to be closed as duplicate)."
    )
    merged_at: AwareDatetime = Field(description="When the merge was decided.")
    decided_by_role: StaffRole = Field(description="Role of the person who confirmed the merge.")


class ReturneeErased(Event):
    """A person's data was erased at reception; drop anything you hold about them. / Datos suprimidos.

    Published once per case of the person (key = the case). Reception destroyed the person's data key,
    so every copy of their personal data is unreadable; services drop the free text they hold on the
    case and keep only what anonymous statistics need. Kafka is never rewritten: no event ever
    carried the person's identity.
    """

    event_type: ClassVar[str] = "org.reintegra.reception.returnee_erased.v1"
    topic: ClassVar[str] = RECEPTION_EVENTS
    producer: ClassVar[str] = "reception"
    consumers: ClassVar[tuple[str, ...]] = ("assessment", "referral", "followup")

    returnee_id: UUID = Field(description="Pseudonymous id of the person erased.")
    erased_at: AwareDatetime = Field(description="When the data was erased.")
    reason: ErasureReason = Field(description="Why it was erased.")
