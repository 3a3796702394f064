"""Code lists of the published language.

Each code list is a ``StrEnum``; :data:`LABELS` (or :func:`label`) gives its Spanish and English
labels, which is what people see. Codes never change meaning; new codes may be added (a compatible
change, see ``docs/adr/0010-contracts-evolution.md``). Every member of every code list in
:data:`ALL_CODELISTS` has both labels; a test keeps it so.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final, Literal, NamedTuple


class ReturnType(StrEnum):
    """How the return came about. / Tipo de retorno."""

    FORCED = "forced"
    VOLUNTARY = "voluntary"
    ASSISTED_VOLUNTARY = "assisted_voluntary"


class TransportMode(StrEnum):
    """How the person travelled back. / Medio de transporte del retorno."""

    AIR = "air"
    LAND = "land"
    SEA = "sea"


class Sex(StrEnum):
    """Sex as declared. / Sexo declarado."""

    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNDISCLOSED = "undisclosed"


class AgeGroup(StrEnum):
    """Age band used where an exact age is not needed (partner views, announcements, reports)."""

    CHILD_0_5 = "0_5"
    CHILD_6_11 = "6_11"
    ADOLESCENT_12_17 = "12_17"
    ADULT_18_29 = "18_29"
    ADULT_30_59 = "30_59"
    OLDER_ADULT_60_PLUS = "60_plus"


class Vulnerability(StrEnum):
    """Vulnerability flags that call for differentiated attention. / Condiciones de vulnerabilidad."""

    UNACCOMPANIED_CHILD = "unaccompanied_child"
    SEPARATED_CHILD = "separated_child"
    CHILD_IN_FAMILY = "child_in_family"
    PREGNANT = "pregnant"
    DISABILITY = "disability"
    CHRONIC_ILLNESS = "chronic_illness"
    OLDER_ADULT = "older_adult"
    SURVIVOR_OF_GBV = "survivor_of_gbv"
    SURVIVOR_OF_TRAFFICKING = "survivor_of_trafficking"
    LGBTIQ = "lgbtiq"
    INDIGENOUS = "indigenous"
    DISPLACEMENT_RISK = "displacement_risk"
    SINGLE_CAREGIVER = "single_caregiver"
    HIV_TREATMENT = "hiv_treatment"
    MENTAL_HEALTH_CONDITION = "mental_health_condition"


SPECIAL_CATEGORY_VULNERABILITIES: Final[frozenset[Vulnerability]] = frozenset(
    {
        Vulnerability.SURVIVOR_OF_GBV,
        Vulnerability.SURVIVOR_OF_TRAFFICKING,
        Vulnerability.CHRONIC_ILLNESS,
        Vulnerability.HIV_TREATMENT,
        Vulnerability.MENTAL_HEALTH_CONDITION,
        Vulnerability.PREGNANT,
        Vulnerability.DISABILITY,
        Vulnerability.LGBTIQ,
        Vulnerability.INDIGENOUS,
    }
)
"""Flags that are special-category data (health, sexual orientation, ethnic origin) or that expose a
survivor of violence: they stay in reception's database and never travel on the log (ADR 0080).
Events carry what a downstream decision needs instead (``arrival_registered.protection_priority``)."""


def disclosed(vulnerabilities: Iterable[Vulnerability | str]) -> list[Vulnerability]:
    """The flags of ``vulnerabilities`` that may travel on the log (sorted, without duplicates)."""
    flags = {Vulnerability(v) for v in vulnerabilities}
    return sorted(flags - SPECIAL_CATEGORY_VULNERABILITIES)


class ConcernType(StrEnum):
    """Kinds of protection concern raised at reception. / Tipos de alerta de protección."""

    UNACCOMPANIED_CHILD = "unaccompanied_child"
    SEPARATED_CHILD = "separated_child"
    GENDER_BASED_VIOLENCE = "gender_based_violence"
    TRAFFICKING = "trafficking"
    THREAT_TO_LIFE = "threat_to_life"
    DISPLACEMENT_RISK = "displacement_risk"
    MEDICAL_EMERGENCY = "medical_emergency"
    MENTAL_HEALTH_EMERGENCY = "mental_health_emergency"
    # Added in 1.3 (ADR 0080): what the log says of a concern whose kind is special-category data.
    UNDISCLOSED = "undisclosed"


SPECIAL_CATEGORY_CONCERNS: Final[frozenset[ConcernType]] = frozenset(
    {
        ConcernType.GENDER_BASED_VIOLENCE,
        ConcernType.TRAFFICKING,
        ConcernType.MEDICAL_EMERGENCY,
        ConcernType.MENTAL_HEALTH_EMERGENCY,
    }
)
"""Concerns whose kind is special-category data: on the log they are ``undisclosed`` (ADR 0080); their
urgency, the service they call for and the lead agency say what to do."""


class Urgency(StrEnum):
    """How fast a protection concern must be acted upon. / Urgencia de la respuesta."""

    IMMEDIATE = "immediate"
    WITHIN_24_HOURS = "within_24_hours"
    WITHIN_72_HOURS = "within_72_hours"
    ROUTINE = "routine"


class Dimension(StrEnum):
    """Dimension of the IOM integrated approach. / Dimensión de la reintegración."""

    ECONOMIC = "economic"
    SOCIAL = "social"
    PSYCHOSOCIAL = "psychosocial"


class Level(StrEnum):
    """Level of the IOM integrated approach. / Nivel de intervención."""

    INDIVIDUAL = "individual"
    COMMUNITY = "community"
    STRUCTURAL = "structural"


class Priority(StrEnum):
    """Priority of a case, need or referral. / Prioridad."""

    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ServiceCategory(StrEnum):
    """Categories of reintegration service, each on the level x dimension grid (:data:`SERVICE_GRID`)."""

    HEALTH = "health"
    MENTAL_HEALTH = "mental_health"
    PSYCHOSOCIAL_SUPPORT = "psychosocial_support"
    EMPLOYMENT = "employment"
    SKILLS_CERTIFICATION = "skills_certification"
    MICROENTERPRISE = "microenterprise"
    FINANCIAL_SERVICES = "financial_services"
    EDUCATION = "education"
    IDENTITY_DOCUMENTS = "identity_documents"
    SHELTER = "shelter"
    LEGAL_AID = "legal_aid"
    CHILD_PROTECTION = "child_protection"
    FAMILY_REUNIFICATION = "family_reunification"
    SOCIAL_PROTECTION = "social_protection"
    PROTECTION = "protection"
    # Added in 1.1 (compatible additions).
    FOOD_ASSISTANCE = "food_assistance"
    TRANSPORT = "transport"
    HOUSING = "housing"
    COMMUNITY_LIVELIHOOD_PROJECT = "community_livelihood_project"
    COMMUNITY_SERVICES_ACCESS = "community_services_access"
    COMMUNITY_SUPPORT_GROUP = "community_support_group"
    PUBLIC_EMPLOYMENT_PROGRAMME = "public_employment_programme"
    SOCIAL_PROGRAMME_ENROLMENT = "social_programme_enrolment"
    PUBLIC_MENTAL_HEALTH_PROGRAMME = "public_mental_health_programme"


SERVICE_GRID: Final[dict[ServiceCategory, tuple[Level, Dimension]]] = {
    ServiceCategory.HEALTH: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.MENTAL_HEALTH: (Level.INDIVIDUAL, Dimension.PSYCHOSOCIAL),
    ServiceCategory.PSYCHOSOCIAL_SUPPORT: (Level.INDIVIDUAL, Dimension.PSYCHOSOCIAL),
    ServiceCategory.EMPLOYMENT: (Level.INDIVIDUAL, Dimension.ECONOMIC),
    ServiceCategory.SKILLS_CERTIFICATION: (Level.INDIVIDUAL, Dimension.ECONOMIC),
    ServiceCategory.MICROENTERPRISE: (Level.INDIVIDUAL, Dimension.ECONOMIC),
    ServiceCategory.FINANCIAL_SERVICES: (Level.INDIVIDUAL, Dimension.ECONOMIC),
    ServiceCategory.EDUCATION: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.IDENTITY_DOCUMENTS: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.SHELTER: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.LEGAL_AID: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.CHILD_PROTECTION: (Level.INDIVIDUAL, Dimension.PSYCHOSOCIAL),
    ServiceCategory.FAMILY_REUNIFICATION: (Level.INDIVIDUAL, Dimension.PSYCHOSOCIAL),
    ServiceCategory.SOCIAL_PROTECTION: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.PROTECTION: (Level.INDIVIDUAL, Dimension.PSYCHOSOCIAL),
    ServiceCategory.FOOD_ASSISTANCE: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.TRANSPORT: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.HOUSING: (Level.INDIVIDUAL, Dimension.SOCIAL),
    ServiceCategory.COMMUNITY_LIVELIHOOD_PROJECT: (Level.COMMUNITY, Dimension.ECONOMIC),
    ServiceCategory.COMMUNITY_SERVICES_ACCESS: (Level.COMMUNITY, Dimension.SOCIAL),
    ServiceCategory.COMMUNITY_SUPPORT_GROUP: (Level.COMMUNITY, Dimension.PSYCHOSOCIAL),
    ServiceCategory.PUBLIC_EMPLOYMENT_PROGRAMME: (Level.STRUCTURAL, Dimension.ECONOMIC),
    ServiceCategory.SOCIAL_PROGRAMME_ENROLMENT: (Level.STRUCTURAL, Dimension.SOCIAL),
    ServiceCategory.PUBLIC_MENTAL_HEALTH_PROGRAMME: (Level.STRUCTURAL, Dimension.PSYCHOSOCIAL),
}
"""Where each service category sits on the level x dimension grid (its usual level)."""

SERVICE_CATEGORY_DIMENSION: Final[dict[ServiceCategory, Dimension]] = {
    category: dimension for category, (_level, dimension) in SERVICE_GRID.items()
}
"""The dimension of the IOM integrated approach that each service category answers."""


def categories_at(level: Level, dimension: Dimension) -> list[ServiceCategory]:
    """The service categories in one cell of the level x dimension grid."""
    return [c for c, cell in SERVICE_GRID.items() if cell == (level, dimension)]


class ImmediateAssistance(StrEnum):
    """Assistance given at the reception centre on arrival. / Asistencia inmediata en recepción."""

    MEDICAL_CARE = "medical_care"
    PSYCHOLOGICAL_FIRST_AID = "psychological_first_aid"
    FOOD = "food"
    HYGIENE_KIT = "hygiene_kit"
    CLOTHING = "clothing"
    LEGAL_GUIDANCE = "legal_guidance"
    PROVISIONAL_DOCUMENTS = "provisional_documents"
    FAMILY_CONTACT = "family_contact"
    TRANSPORT_TO_COMMUNITY = "transport_to_community"
    EMERGENCY_SHELTER_REFERRAL = "emergency_shelter_referral"
    ANTIRETROVIRAL_CONTINUITY = "antiretroviral_continuity"
    CASH_ASSISTANCE = "cash_assistance"


class ConsentPurpose(StrEnum):
    """Purposes a consent can cover (its scope, together with service categories)."""

    REFERRAL = "referral"
    SHARE_WITH_PROVIDER = "share_with_provider"
    CONTACT_BY_PROVIDER = "contact_by_provider"
    FOLLOWUP_CONTACT = "followup_contact"
    FAMILY_CONTACT = "family_contact"
    STATISTICS = "statistics"
    # Added in 1.3 (compatible addition).
    ASSESSMENT = "assessment"
    """The needs assessment: the case worker may interview the person and record what they need."""


class ConsentGiver(StrEnum):
    """Who gave (or withdrew) consent. / Quién otorga el consentimiento."""

    SELF = "self"
    GUARDIAN = "guardian"
    CHILD_PROTECTION_AUTHORITY = "child_protection_authority"
    LEGAL_REPRESENTATIVE = "legal_representative"
    # Added in 1.3 (compatible addition).
    NOT_GIVEN = "not_given"
    """Nobody consented: a vital-interest override (``basis=vital_interest``)."""


class ConsentMethod(StrEnum):
    """How consent was obtained. / Forma de obtener el consentimiento."""

    WRITTEN = "written"
    VERBAL_WITNESSED = "verbal_witnessed"
    DIGITAL = "digital"
    # Added in 1.3 (compatible additions).
    RECORDED = "recorded"
    """Given aloud and kept as an audio or video recording."""
    PROFESSIONAL_ASSESSMENT = "professional_assessment"
    """No consent: a professional's recorded assessment (vital-interest override)."""


class ConsentBasis(StrEnum):
    """Legal basis for processing: consent, or the recorded vital-interest override."""

    CONSENT = "consent"
    VITAL_INTEREST = "vital_interest"


class OverrideJustification(StrEnum):
    """Why a referral goes ahead without consent (vital-interest override). / Justificación."""

    HIGH_SUICIDE_RISK = "high_suicide_risk"
    MENTAL_CONDITION_PREVENTING_CONSENT = "mental_condition_preventing_consent"
    IMMINENT_DANGER_TO_LIFE = "imminent_danger_to_life"


class ErasureReason(StrEnum):
    """Why a person's data was erased. / Motivo de la supresión de los datos."""

    SUBJECT_REQUEST = "subject_request"
    """The person asked for their data to be erased."""
    RETENTION_PERIOD_ENDED = "retention_period_ended"
    """The retention period after the case closed (or went quiet) ended."""


class StaffRole(StrEnum):
    """Role (never the name) of the person who acted. / Rol del personal."""

    RECEPTION_OFFICER = "reception_officer"
    CASE_WORKER = "case_worker"
    HEALTH_PROFESSIONAL = "health_professional"
    MENTAL_HEALTH_PROFESSIONAL = "mental_health_professional"
    CHILD_PROTECTION_OFFICER = "child_protection_officer"
    CONSULAR_OFFICER = "consular_officer"
    DATA_STEWARD = "data_steward"
    # Added in 1.3 (compatible addition).
    PROTECTION_OFFICER = "protection_officer"
    """An officer of a protection authority (child protection, or protection of survivors)."""


class DuplicateMatchBasis(StrEnum):
    """What made two records look like the same person (computed inside reception, never on the log)."""

    DOCUMENT_MATCH = "document_match"
    NAME_AND_BIRTH_DATE_MATCH = "name_and_birth_date_match"
    NAME_SIMILARITY = "name_similarity"
    BIOMETRIC_MATCH = "biometric_match"
    MANUAL_REPORT = "manual_report"


class MigrationDriver(StrEnum):
    """Drivers of migration ("each cause has an answer"). / Causas de la migración."""

    VIOLENCE_OR_EXTORTION = "violence_or_extortion"
    DEBT = "debt"
    POVERTY_OR_UNEMPLOYMENT = "poverty_or_unemployment"
    FAMILY_REUNIFICATION = "family_reunification"
    CLIMATE_OR_DISASTER = "climate_or_disaster"
    LACK_OF_SERVICES = "lack_of_services"
    GENDER_BASED_VIOLENCE = "gender_based_violence"
    OTHER = "other"


class MigrationIntention(StrEnum):
    """Intention to migrate again. / Intención de volver a migrar."""

    NONE = "none"
    CONSIDERING = "considering"
    PLANNING = "planning"
    UNDECIDED = "undecided"
    DECLINED_TO_ANSWER = "declined_to_answer"


class ReassessmentReason(StrEnum):
    """Why a case was assessed again. / Motivo de la reevaluación."""

    PERIODIC = "periodic"
    PLAN_REVIEW = "plan_review"
    CHANGE_IN_CIRCUMSTANCES = "change_in_circumstances"
    TWELVE_MONTH_EVALUATION = "twelve_month_evaluation"
    CASE_REOPENED = "case_reopened"


class ReferralStatus(StrEnum):
    """Status of a referral; each maps to an HL7 FHIR ``Task.status`` (:data:`FHIR_TASK_STATUS`)."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    COMPLETED = "completed"
    # Added in 1.2 (compatible additions).
    RECEIVED = "received"
    SERVICE_DELIVERED = "service_delivered"
    AWAITING_CONSENT = "awaiting_consent"
    UNMATCHED = "unmatched"


FHIR_TASK_STATUS: Final[dict[ReferralStatus, str]] = {
    ReferralStatus.AWAITING_CONSENT: "on-hold",
    ReferralStatus.UNMATCHED: "draft",
    ReferralStatus.REQUESTED: "requested",
    ReferralStatus.RECEIVED: "received",
    ReferralStatus.ACCEPTED: "accepted",
    ReferralStatus.REJECTED: "rejected",
    ReferralStatus.CANCELLED: "cancelled",
    ReferralStatus.IN_PROGRESS: "in-progress",
    ReferralStatus.SERVICE_DELIVERED: "in-progress",
    ReferralStatus.FAILED: "failed",
    ReferralStatus.COMPLETED: "completed",
}
"""HL7 FHIR R4/R5 ``Task.status`` code of each referral status (``service_delivered`` is an
``in-progress`` Task whose ``businessStatus`` says a delivery was recorded)."""


class AgencyKind(StrEnum):
    """Kind of agency in the service directory. / Tipo de institución."""

    GOVERNMENT = "government"
    MUNICIPAL = "municipal"
    NGO = "ngo"
    UN = "un"
    PRIVATE = "private"


class PartnerChannel(StrEnum):
    """How an agency receives referrals and answers them. / Canal de la institución."""

    KAFKA = "kafka"
    HTTP = "http"
    BOTH = "both"


class CostArrangement(StrEnum):
    """Who pays for a service. / Arreglo de costos del servicio."""

    FREE = "free"
    PUBLIC_PROGRAMME = "public_programme"
    PROJECT_FUNDED = "project_funded"
    COPAYMENT = "copayment"
    FEE = "fee"


class MatchReason(StrEnum):
    """Why a service was ranked as it was, or left out, when a need was matched. / Motivo del emparejamiento."""

    LOCAL_COVERAGE = "local_coverage"
    DEPARTMENT_COVERAGE = "department_coverage"
    NATIONAL_COVERAGE = "national_coverage"
    FASTEST_RESPONSE = "fastest_response"
    LOWEST_LOAD = "lowest_load"
    ONLY_CANDIDATE = "only_candidate"
    MANUAL_ASSIGNMENT = "manual_assignment"
    OUTSIDE_COVERAGE = "outside_coverage"
    AGE_NOT_ELIGIBLE = "age_not_eligible"
    SEX_NOT_ELIGIBLE = "sex_not_eligible"
    GROUP_NOT_ELIGIBLE = "group_not_eligible"
    NO_CAPACITY = "no_capacity"
    ALREADY_TRIED = "already_tried"
    INACTIVE = "inactive"


class UnmatchedReason(StrEnum):
    """Why a need could not be referred to any service. / Motivo de necesidad sin servicio."""

    NO_SERVICE_FOR_CATEGORY = "no_service_for_category"
    NONE_COVERS_MUNICIPALITY = "none_covers_municipality"
    NONE_ELIGIBLE = "none_eligible"
    NONE_WITH_CAPACITY = "none_with_capacity"
    ALL_CANDIDATES_TRIED = "all_candidates_tried"
    REROUTE_LIMIT_REACHED = "reroute_limit_reached"


class HoldReason(StrEnum):
    """Why a referral waits before it is shared with the agency. / Motivo de la espera."""

    AWAITING_CONSENT = "awaiting_consent"


class CommandRefusalReason(StrEnum):
    """Why the referral service refused an agency's command. / Motivo del rechazo de un comando."""

    UNKNOWN_REFERRAL = "unknown_referral"
    NOT_SENT_TO_AGENCY = "not_sent_to_agency"
    AGENCY_MISMATCH = "agency_mismatch"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    ILLEGAL_TRANSITION = "illegal_transition"
    INVALID_COMMAND = "invalid_command"


class RejectionReason(StrEnum):
    """Why an agency rejected a referral. / Motivo del rechazo de la derivación."""

    NO_CAPACITY = "no_capacity"
    NOT_ELIGIBLE = "not_eligible"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OUTSIDE_COVERAGE_AREA = "outside_coverage_area"
    INSUFFICIENT_INFORMATION = "insufficient_information"
    DUPLICATE_REFERRAL = "duplicate_referral"
    OTHER = "other"


class CancellationReason(StrEnum):
    """Why the referring side cancelled a referral. / Motivo de la cancelación."""

    NEED_MET_ELSEWHERE = "need_met_elsewhere"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    RETURNEE_DECLINED = "returnee_declined"
    CASE_CLOSED = "case_closed"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    ENTERED_IN_ERROR = "entered_in_error"
    # Added in 1.3 (compatible addition).
    RETURNEE_ERASED = "returnee_erased"
    """The person's data was erased at reception (``returnee_erased``): drop what you hold on them."""


class FailureReason(StrEnum):
    """Why an accepted referral could not be completed. / Motivo del fracaso de la derivación."""

    RETURNEE_DID_NOT_ATTEND = "returnee_did_not_attend"
    LOST_CONTACT = "lost_contact"
    RETURNEE_DECLINED = "returnee_declined"
    SERVICE_UNAVAILABLE = "service_unavailable"
    MOVED_AWAY = "moved_away"
    MIGRATED_AGAIN = "migrated_again"
    OTHER = "other"


class OverdueStage(StrEnum):
    """Which deadline of a referral passed. / Plazo vencido."""

    RESPONSE = "response"
    DELIVERY = "delivery"


class NeedOutcome(StrEnum):
    """Whether the referred need was met. / Resultado respecto a la necesidad."""

    MET = "met"
    PARTIALLY_MET = "partially_met"
    NOT_MET = "not_met"


class FollowupReason(StrEnum):
    """Why a follow-up contact was scheduled. / Motivo del seguimiento."""

    POST_ARRIVAL = "post_arrival"
    REFERRAL_CHECK = "referral_check"
    PERIODIC = "periodic"


class FollowupCancellationReason(StrEnum):
    """Why a scheduled follow-up contact was cancelled. / Motivo de la cancelación del seguimiento."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    CASE_MERGED = "case_merged"
    # Added in 1.3 (compatible addition).
    RETURNEE_ERASED = "returnee_erased"
    """The person's data was erased at reception (``returnee_erased``): nobody contacts them."""


class ContactStatus(StrEnum):
    """Result of an attempt to contact the returnee. / Resultado del intento de contacto."""

    REACHED = "reached"
    REACHED_VIA_THIRD_PARTY = "reached_via_third_party"
    NOT_REACHED = "not_reached"
    CONTACT_DETAILS_INVALID = "contact_details_invalid"
    REFUSED_CONTACT = "refused_contact"


class FollowupOutcome(StrEnum):
    """What a follow-up found. / Resultado del seguimiento."""

    ON_TRACK = "on_track"
    NEEDS_SUPPORT = "needs_support"
    NEW_NEEDS_IDENTIFIED = "new_needs_identified"
    AT_RISK_OF_REMIGRATION = "at_risk_of_remigration"
    READY_TO_CLOSE = "ready_to_close"


class ClosureReason(StrEnum):
    """Why a case was closed. / Motivo de cierre del caso."""

    SUSTAINABLY_REINTEGRATED = "sustainably_reintegrated"
    MIGRATED_AGAIN = "migrated_again"
    LOST_CONTACT = "lost_contact"
    TRANSFERRED = "transferred"
    DECEASED = "deceased"
    DECLINED_ASSISTANCE = "declined_assistance"
    DUPLICATE = "duplicate"


class ReopenReason(StrEnum):
    """Why a closed case was reopened. / Motivo de reapertura."""

    RETURNED_AGAIN = "returned_again"
    NEW_NEEDS = "new_needs"
    CONTACT_REGAINED = "contact_regained"
    CLOSED_IN_ERROR = "closed_in_error"


class Label(NamedTuple):
    """A code's label in Spanish and English."""

    es: str
    en: str


Lang = Literal["es", "en"]

_L = Label

LABELS: Final[dict[type[StrEnum], dict[str, Label]]] = {
    ReturnType: {
        "forced": _L("Retorno forzado (deportación)", "Forced return (deportation)"),
        "voluntary": _L("Retorno voluntario", "Voluntary return"),
        "assisted_voluntary": _L("Retorno voluntario asistido", "Assisted voluntary return"),
    },
    TransportMode: {
        "air": _L("Aéreo", "Air"),
        "land": _L("Terrestre", "Land"),
        "sea": _L("Marítimo", "Sea"),
    },
    Sex: {
        "female": _L("Mujer", "Female"),
        "male": _L("Hombre", "Male"),
        "intersex": _L("Intersexual", "Intersex"),
        "undisclosed": _L("Prefiere no decir", "Undisclosed"),
    },
    AgeGroup: {
        "0_5": _L("0 a 5 años", "0 to 5 years"),
        "6_11": _L("6 a 11 años", "6 to 11 years"),
        "12_17": _L("12 a 17 años", "12 to 17 years"),
        "18_29": _L("18 a 29 años", "18 to 29 years"),
        "30_59": _L("30 a 59 años", "30 to 59 years"),
        "60_plus": _L("60 años o más", "60 years or older"),
    },
    Vulnerability: {
        "unaccompanied_child": _L("Niña, niño o adolescente no acompañado", "Unaccompanied child"),
        "separated_child": _L("Niña, niño o adolescente separado", "Separated child"),
        "child_in_family": _L("Niña, niño o adolescente en unidad familiar", "Child in a family unit"),
        "pregnant": _L("Mujer embarazada", "Pregnant woman"),
        "disability": _L("Persona con discapacidad", "Person with disability"),
        "chronic_illness": _L("Enfermedad crónica", "Chronic illness"),
        "older_adult": _L("Persona adulta mayor", "Older adult"),
        "survivor_of_gbv": _L(
            "Sobreviviente de violencia basada en género", "Survivor of gender-based violence"
        ),
        "survivor_of_trafficking": _L("Sobreviviente de trata de personas", "Survivor of trafficking"),
        "lgbtiq": _L("Persona LGBTIQ+", "LGBTIQ+ person"),
        "indigenous": _L("Persona indígena", "Indigenous person"),
        "displacement_risk": _L("Riesgo de desplazamiento forzado", "Risk of forced displacement"),
        "single_caregiver": _L("Jefa o jefe de hogar a cargo de cuidados", "Single caregiver"),
        "hiv_treatment": _L("En tratamiento antirretroviral", "On antiretroviral treatment"),
        "mental_health_condition": _L("Condición de salud mental", "Mental-health condition"),
    },
    ConcernType: {
        "unaccompanied_child": _L("Niña, niño o adolescente no acompañado", "Unaccompanied child"),
        "separated_child": _L("Niña, niño o adolescente separado", "Separated child"),
        "gender_based_violence": _L("Violencia basada en género", "Gender-based violence"),
        "trafficking": _L("Indicios de trata de personas", "Indications of trafficking"),
        "threat_to_life": _L("Amenaza contra la vida", "Threat to life"),
        "displacement_risk": _L("Riesgo de desplazamiento forzado", "Risk of forced displacement"),
        "medical_emergency": _L("Emergencia médica", "Medical emergency"),
        "mental_health_emergency": _L("Emergencia de salud mental", "Mental-health emergency"),
        "undisclosed": _L(
            "Alerta de protección (tipo reservado a recepción)", "Protection concern (kind kept at reception)"
        ),
    },
    Urgency: {
        "immediate": _L("Inmediata", "Immediate"),
        "within_24_hours": _L("En 24 horas", "Within 24 hours"),
        "within_72_hours": _L("En 72 horas", "Within 72 hours"),
        "routine": _L("Ordinaria", "Routine"),
    },
    Dimension: {
        "economic": _L("Económica", "Economic"),
        "social": _L("Social", "Social"),
        "psychosocial": _L("Psicosocial", "Psychosocial"),
    },
    Level: {
        "individual": _L("Individual", "Individual"),
        "community": _L("Comunitario", "Community"),
        "structural": _L("Estructural", "Structural"),
    },
    Priority: {
        "urgent": _L("Urgente", "Urgent"),
        "high": _L("Alta", "High"),
        "medium": _L("Media", "Medium"),
        "low": _L("Baja", "Low"),
    },
    ServiceCategory: {
        "health": _L("Salud", "Health care"),
        "mental_health": _L("Salud mental", "Mental health"),
        "psychosocial_support": _L("Apoyo psicosocial", "Psychosocial support"),
        "employment": _L("Empleo e intermediación laboral", "Employment and job placement"),
        "skills_certification": _L("Certificación de competencias", "Skills certification"),
        "microenterprise": _L("Emprendimiento", "Microenterprise"),
        "financial_services": _L("Servicios financieros", "Financial services"),
        "education": _L("Educación y revalidación de estudios", "Education and recognition of studies"),
        "identity_documents": _L("Documentos de identidad", "Identity documents"),
        "shelter": _L("Albergue temporal", "Emergency shelter"),
        "legal_aid": _L("Asistencia jurídica", "Legal aid"),
        "child_protection": _L("Protección de la niñez", "Child protection"),
        "family_reunification": _L("Reunificación familiar", "Family reunification"),
        "social_protection": _L("Protección social", "Social protection"),
        "protection": _L("Protección", "Protection"),
        "food_assistance": _L("Asistencia alimentaria", "Food assistance"),
        "transport": _L("Transporte a la comunidad", "Transport to the community"),
        "housing": _L("Vivienda", "Housing"),
        "community_livelihood_project": _L("Proyecto productivo comunitario", "Community livelihood project"),
        "community_services_access": _L("Acceso comunitario a servicios", "Community access to services"),
        "community_support_group": _L("Grupo de apoyo comunitario", "Community support group"),
        "public_employment_programme": _L("Programa público de empleo", "Public employment programme"),
        "social_programme_enrolment": _L(
            "Inscripción en programas sociales", "Enrolment in social programmes"
        ),
        "public_mental_health_programme": _L(
            "Programa público de salud mental", "Public mental-health programme"
        ),
    },
    ImmediateAssistance: {
        "medical_care": _L("Atención médica", "Medical care"),
        "psychological_first_aid": _L("Primeros auxilios psicológicos", "Psychological first aid"),
        "food": _L("Alimentación", "Food"),
        "hygiene_kit": _L("Kit de higiene", "Hygiene kit"),
        "clothing": _L("Ropa", "Clothing"),
        "legal_guidance": _L("Orientación legal", "Legal guidance"),
        "provisional_documents": _L("Documentos provisionales", "Provisional documents"),
        "family_contact": _L("Contacto con familiares", "Family contact"),
        "transport_to_community": _L(
            "Transporte a la comunidad de origen", "Transport to community of origin"
        ),
        "emergency_shelter_referral": _L(
            "Remisión a albergue de emergencia", "Referral to emergency shelter"
        ),
        "antiretroviral_continuity": _L(
            "Continuidad de tratamiento antirretroviral", "Antiretroviral continuity"
        ),
        "cash_assistance": _L("Asistencia en efectivo", "Cash assistance"),
    },
    ConsentPurpose: {
        "referral": _L("Derivación a servicios", "Referral to services"),
        "share_with_provider": _L("Compartir datos con el proveedor", "Share data with the provider"),
        "contact_by_provider": _L("Contacto por el proveedor", "Contact by the provider"),
        "followup_contact": _L("Contacto de seguimiento", "Follow-up contact"),
        "family_contact": _L("Contacto con familiares", "Family contact"),
        "statistics": _L("Uso estadístico anonimizado", "Anonymised statistics"),
        "assessment": _L("Evaluación de necesidades", "Needs assessment"),
    },
    ConsentGiver: {
        "self": _L("La persona misma", "The person themself"),
        "guardian": _L("Madre, padre o tutor", "Parent or guardian"),
        "child_protection_authority": _L("Autoridad de protección de la niñez", "Child-protection authority"),
        "legal_representative": _L("Representante legal", "Legal representative"),
        "not_given": _L("Sin consentimiento (interés vital)", "Not given (vital interest)"),
    },
    ConsentMethod: {
        "written": _L("Por escrito", "Written"),
        "verbal_witnessed": _L("Verbal con testigo", "Verbal, witnessed"),
        "digital": _L("Digital", "Digital"),
        "recorded": _L("Grabación de audio o video", "Audio or video recording"),
        "professional_assessment": _L(
            "Valoración profesional registrada", "Recorded professional assessment"
        ),
    },
    ConsentBasis: {
        "consent": _L("Consentimiento informado", "Informed consent"),
        "vital_interest": _L("Interés vital (riesgo para la vida)", "Vital interest (life at risk)"),
    },
    OverrideJustification: {
        "high_suicide_risk": _L("Alto riesgo de suicidio", "High suicide risk"),
        "mental_condition_preventing_consent": _L(
            "Condición mental que impide consentir", "Mental condition preventing consent"
        ),
        "imminent_danger_to_life": _L("Peligro inminente para la vida", "Imminent danger to life"),
    },
    ErasureReason: {
        "subject_request": _L("Solicitud de la persona", "The person's request"),
        "retention_period_ended": _L("Fin del plazo de conservación", "Retention period ended"),
    },
    StaffRole: {
        "reception_officer": _L("Personal de recepción", "Reception officer"),
        "case_worker": _L("Gestor o gestora de casos", "Case worker"),
        "health_professional": _L("Profesional de salud", "Health professional"),
        "mental_health_professional": _L("Profesional de salud mental", "Mental-health professional"),
        "child_protection_officer": _L("Oficial de protección de la niñez", "Child-protection officer"),
        "consular_officer": _L("Personal consular", "Consular officer"),
        "data_steward": _L("Responsable de datos", "Data steward"),
        "protection_officer": _L("Oficial de protección", "Protection officer"),
    },
    DuplicateMatchBasis: {
        "document_match": _L("Coincidencia de documento", "Document match"),
        "name_and_birth_date_match": _L(
            "Coincidencia de nombre y fecha de nacimiento", "Name and birth-date match"
        ),
        "name_similarity": _L("Nombre similar", "Similar name"),
        "biometric_match": _L("Coincidencia biométrica", "Biometric match"),
        "manual_report": _L("Reporte manual", "Manual report"),
    },
    MigrationDriver: {
        "violence_or_extortion": _L("Violencia o extorsión", "Violence or extortion"),
        "debt": _L("Deudas", "Debt"),
        "poverty_or_unemployment": _L("Pobreza o desempleo", "Poverty or unemployment"),
        "family_reunification": _L("Reunificación familiar", "Family reunification"),
        "climate_or_disaster": _L("Clima o desastres", "Climate or disaster"),
        "lack_of_services": _L("Falta de servicios", "Lack of services"),
        "gender_based_violence": _L("Violencia basada en género", "Gender-based violence"),
        "other": _L("Otra", "Other"),
    },
    MigrationIntention: {
        "none": _L("No piensa migrar", "No intention"),
        "considering": _L("Lo está considerando", "Considering it"),
        "planning": _L("Lo está planificando", "Planning it"),
        "undecided": _L("Indecisa", "Undecided"),
        "declined_to_answer": _L("Prefiere no responder", "Declined to answer"),
    },
    ReassessmentReason: {
        "periodic": _L("Revisión periódica", "Periodic review"),
        "plan_review": _L("Revisión del plan", "Plan review"),
        "change_in_circumstances": _L("Cambio de circunstancias", "Change in circumstances"),
        "twelve_month_evaluation": _L("Evaluación a los 12 meses", "Twelve-month evaluation"),
        "case_reopened": _L("Caso reabierto", "Case reopened"),
    },
    ReferralStatus: {
        "requested": _L("Solicitada", "Requested"),
        "accepted": _L("Aceptada", "Accepted"),
        "rejected": _L("Rechazada", "Rejected"),
        "cancelled": _L("Cancelada", "Cancelled"),
        "in_progress": _L("En curso", "In progress"),
        "failed": _L("Fallida", "Failed"),
        "completed": _L("Completada", "Completed"),
        "received": _L("Recibida por la institución", "Received by the agency"),
        "service_delivered": _L("Servicio prestado", "Service delivered"),
        "awaiting_consent": _L("En espera de consentimiento", "Awaiting consent"),
        "unmatched": _L("Sin servicio disponible", "Unmatched"),
    },
    AgencyKind: {
        "government": _L("Institución de gobierno central", "Central government"),
        "municipal": _L("Gobierno municipal", "Municipal government"),
        "ngo": _L("Organización de la sociedad civil", "Non-governmental organisation"),
        "un": _L("Organismo de las Naciones Unidas", "United Nations agency"),
        "private": _L("Sector privado", "Private sector"),
    },
    PartnerChannel: {
        "kafka": _L("Kafka", "Kafka"),
        "http": _L("HTTP (bandeja y webhooks)", "HTTP (inbox and webhooks)"),
        "both": _L("Kafka y HTTP", "Kafka and HTTP"),
    },
    CostArrangement: {
        "free": _L("Gratuito", "Free of charge"),
        "public_programme": _L("Cubierto por un programa público", "Covered by a public programme"),
        "project_funded": _L("Financiado por un proyecto", "Project-funded"),
        "copayment": _L("Copago", "Co-payment"),
        "fee": _L("Con costo para la persona", "Fee paid by the person"),
    },
    MatchReason: {
        "local_coverage": _L("Atiende en el municipio de la persona", "Serves the person's municipality"),
        "department_coverage": _L(
            "Atiende en el departamento de la persona", "Serves the person's department"
        ),
        "national_coverage": _L("Cobertura nacional", "National coverage"),
        "fastest_response": _L("Responde más rápido", "Fastest response time"),
        "lowest_load": _L("Menor carga de trabajo", "Lowest load"),
        "only_candidate": _L("Único servicio posible", "Only candidate"),
        "manual_assignment": _L("Asignado por coordinación", "Assigned by the coordinating office"),
        "outside_coverage": _L("Fuera de su cobertura", "Outside its coverage"),
        "age_not_eligible": _L("Edad fuera de los requisitos", "Age not eligible"),
        "sex_not_eligible": _L("Sexo fuera de los requisitos", "Sex not eligible"),
        "group_not_eligible": _L("No pertenece al grupo atendido", "Not in the group served"),
        "no_capacity": _L("Sin cupo esta semana", "No capacity left this week"),
        "already_tried": _L("Ya se intentó para esta necesidad", "Already tried for this need"),
        "inactive": _L("Servicio o institución inactiva", "Service or agency inactive"),
    },
    UnmatchedReason: {
        "no_service_for_category": _L("Ningún servicio de esa categoría", "No service of that category"),
        "none_covers_municipality": _L("Ningún servicio cubre el municipio", "None covers the municipality"),
        "none_eligible": _L("La persona no cumple requisitos de ninguno", "Not eligible for any"),
        "none_with_capacity": _L("Ningún servicio con cupo", "None has capacity left"),
        "all_candidates_tried": _L("Se intentaron todos los servicios posibles", "All candidates tried"),
        "reroute_limit_reached": _L("Se alcanzó el límite de reasignaciones", "Re-routing limit reached"),
    },
    HoldReason: {
        "awaiting_consent": _L("Espera el consentimiento de la persona", "Awaiting the person's consent"),
    },
    CommandRefusalReason: {
        "unknown_referral": _L("Derivación desconocida", "Unknown referral"),
        "not_sent_to_agency": _L(
            "La derivación no fue enviada a esta institución", "Not sent to this agency"
        ),
        "agency_mismatch": _L(
            "El código de institución no corresponde al canal", "Agency code differs from the channel's"
        ),
        "referred_elsewhere": _L("La derivación fue reasignada a otra institución", "Referred elsewhere"),
        "illegal_transition": _L("No se permite en el estado actual", "Not allowed in the current status"),
        "invalid_command": _L("Comando inválido", "Invalid command"),
    },
    RejectionReason: {
        "no_capacity": _L("Sin capacidad", "No capacity"),
        "not_eligible": _L("No cumple requisitos", "Not eligible"),
        "service_not_offered": _L("Servicio no ofrecido", "Service not offered"),
        "outside_coverage_area": _L("Fuera del área de cobertura", "Outside coverage area"),
        "insufficient_information": _L("Información insuficiente", "Insufficient information"),
        "duplicate_referral": _L("Derivación duplicada", "Duplicate referral"),
        "other": _L("Otro", "Other"),
    },
    CancellationReason: {
        "need_met_elsewhere": _L("Necesidad atendida por otra vía", "Need met elsewhere"),
        "consent_withdrawn": _L("Consentimiento retirado", "Consent withdrawn"),
        "returnee_declined": _L("La persona no desea el servicio", "Returnee declined"),
        "case_closed": _L("Caso cerrado", "Case closed"),
        "referred_elsewhere": _L("Derivada a otra institución", "Referred elsewhere"),
        "entered_in_error": _L("Registrada por error", "Entered in error"),
        "returnee_erased": _L("Datos de la persona suprimidos", "Returnee's data erased"),
    },
    FailureReason: {
        "returnee_did_not_attend": _L("La persona no se presentó", "Returnee did not attend"),
        "lost_contact": _L("Se perdió el contacto", "Lost contact"),
        "returnee_declined": _L("La persona desistió", "Returnee declined"),
        "service_unavailable": _L("Servicio no disponible", "Service unavailable"),
        "moved_away": _L("Cambió de domicilio", "Moved away"),
        "migrated_again": _L("Volvió a migrar", "Migrated again"),
        "other": _L("Otro", "Other"),
    },
    OverdueStage: {
        "response": _L("Respuesta a la derivación", "Response to the referral"),
        "delivery": _L("Prestación del servicio", "Service delivery"),
    },
    NeedOutcome: {
        "met": _L("Atendida", "Met"),
        "partially_met": _L("Atendida parcialmente", "Partially met"),
        "not_met": _L("No atendida", "Not met"),
    },
    FollowupReason: {
        "post_arrival": _L("Seguimiento posterior a la llegada", "Post-arrival check"),
        "referral_check": _L("Verificación de derivación", "Referral check"),
        "periodic": _L("Seguimiento periódico", "Periodic follow-up"),
    },
    FollowupCancellationReason: {
        "consent_withdrawn": _L("Consentimiento de contacto retirado", "Consent to contact withdrawn"),
        "case_merged": _L("Caso fusionado con otro registro", "Case merged into another registration"),
        "returnee_erased": _L("Datos de la persona suprimidos", "Returnee's data erased"),
    },
    ContactStatus: {
        "reached": _L("Contactada", "Reached"),
        "reached_via_third_party": _L("Contactada por medio de terceros", "Reached via a third party"),
        "not_reached": _L("No contactada", "Not reached"),
        "contact_details_invalid": _L("Datos de contacto no válidos", "Contact details invalid"),
        "refused_contact": _L("Rechazó el contacto", "Refused contact"),
    },
    FollowupOutcome: {
        "on_track": _L("Avanza según el plan", "On track"),
        "needs_support": _L("Requiere apoyo", "Needs support"),
        "new_needs_identified": _L("Nuevas necesidades", "New needs identified"),
        "at_risk_of_remigration": _L("En riesgo de volver a migrar", "At risk of re-migration"),
        "ready_to_close": _L("Lista para cierre", "Ready to close"),
    },
    ClosureReason: {
        "sustainably_reintegrated": _L("Reintegración sostenible", "Sustainably reintegrated"),
        "migrated_again": _L("Volvió a migrar", "Migrated again"),
        "lost_contact": _L("Se perdió el contacto", "Lost contact"),
        "transferred": _L("Transferido a otra institución", "Transferred"),
        "deceased": _L("Fallecida", "Deceased"),
        "declined_assistance": _L("No desea asistencia", "Declined assistance"),
        "duplicate": _L("Registro duplicado", "Duplicate record"),
    },
    ReopenReason: {
        "returned_again": _L("Nuevo retorno", "Returned again"),
        "new_needs": _L("Nuevas necesidades", "New needs"),
        "contact_regained": _L("Se recuperó el contacto", "Contact regained"),
        "closed_in_error": _L("Cerrado por error", "Closed in error"),
    },
}
"""Spanish and English label of every code, by code list and code value."""

ALL_CODELISTS: Final[tuple[type[StrEnum], ...]] = tuple(LABELS)
"""Every code list of the published language."""


def label(code: StrEnum, lang: Lang = "es") -> str:
    """The label of ``code`` in ``lang`` (``"es"`` or ``"en"``); ``KeyError`` if it has none."""
    entry = LABELS[type(code)][code.value]
    return entry.es if lang == "es" else entry.en
