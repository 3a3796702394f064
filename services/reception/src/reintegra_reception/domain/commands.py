"""Commands the reception service accepts (imperative names)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from reintegra_contracts.codelists import (
    AgeGroup,
    ConcernType,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    ErasureReason,
    ImmediateAssistance,
    OverrideJustification,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)


class Relationship(enum.StrEnum):
    """How a member of a travel group is related to the group's head (manifest column ``relationship``)."""

    HEAD = "head"
    SPOUSE_OR_PARTNER = "spouse_or_partner"
    CHILD = "child"
    WARD = "ward"
    """In the head's legal guardianship."""
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    OTHER_RELATIVE = "other_relative"
    NOT_RELATED = "not_related"


@dataclass(frozen=True)
class PersonalData:
    """What identifies the person. It stays in the reception database; it never goes on Kafka."""

    given_names: str
    family_names: str
    date_of_birth: date
    document_number: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ArrivalFacts:
    """What the reception desk records about an arrival, apart from who the person is.

    The names are those of the HTTP request and of ``arrival_registered``, so that the three map onto
    each other field by field without being spelled out again.
    """

    sex: Sex
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str
    country_of_return: str
    returned_from: str
    return_type: ReturnType
    transport_mode: TransportMode
    destination_municipality: str
    preferred_language: str = "es"
    indigenous_people: str | None = None
    has_disability: bool = False
    travelling_with_family: bool = False
    family_group_ref: str | None = None
    previous_returns: int = 0
    announcement_id: UUID | None = None
    vulnerabilities: frozenset[Vulnerability] = field(default_factory=frozenset)
    immediate_needs: tuple[ServiceCategory, ...] = ()
    relationship: Relationship | None = None
    travel_group_size: int | None = None
    announced_ref: str | None = None
    """The announcement's own reference for this person (matched first)."""


@dataclass(frozen=True)
class RegisterArrival:
    """Register a returned person arriving at a reception centre (idempotent by ``manifest_ref``)."""

    person: PersonalData
    facts: ArrivalFacts
    manifest_ref: str | None = None


@dataclass(frozen=True)
class ManifestRow:
    """One good line of a manifest: its line number and the arrival it registers."""

    line: int
    arrival: RegisterArrival


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one line of a manifest (no personal data in ``message``)."""

    line: int
    field: str
    message: str
    type: str = "value_error"


@dataclass(frozen=True)
class RegisterManifest:
    """Register the good lines of a flight or bus manifest in one transaction (idempotent per line).

    ``problems`` are the lines the parser already refused; with ``all_or_nothing`` any problem
    registers nobody. ``dry_run`` checks everything and registers nobody.
    """

    manifest_id: str
    rows: tuple[ManifestRow, ...]
    problems: tuple[RowProblem, ...] = ()
    all_or_nothing: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class AnnouncedPersonIn:
    """One announced person; ``person`` (names, date of birth, document) is optional and is never kept:
    reception keeps only the keys that recognise the person on arrival."""

    reference: str | None = None
    person: PersonalData | None = None
    age_group: AgeGroup | None = None
    sex: Sex | None = None
    family_group_ref: str | None = None
    vulnerabilities: frozenset[Vulnerability] = field(default_factory=frozenset)
    needs_medical_attention: bool = False
    announced_person_id: UUID | None = None


@dataclass(frozen=True)
class AnnounceReturn:
    """Announce a return before it happens (from HTTP, or the ``announce_return`` Kafka command)."""

    announcement_id: UUID
    case_id: UUID
    announced_by: str
    expected_arrival_at: datetime
    port_of_entry: str
    country_of_return: str
    returned_from: str
    return_type: ReturnType
    transport_mode: TransportMode
    persons: tuple[AnnouncedPersonIn, ...]
    reception_centre: str | None = None
    transport_reference: str | None = None


@dataclass(frozen=True)
class ProvideAssistance:
    """Record immediate assistance given at the reception centre."""

    case_id: UUID
    assistance: tuple[ImmediateAssistance, ...]
    provided_at: datetime | None = None
    """Default: when it is recorded."""
    provided_by: str | None = None


@dataclass(frozen=True)
class Finding:
    """One answer of the protection screening that raises a concern; ``urgency`` overrides the default."""

    concern: ConcernType
    urgency: Urgency | None = None


@dataclass(frozen=True)
class ScreenProtection:
    """Record the protection screening of a case: each finding raises a concern once."""

    case_id: UUID
    findings: tuple[Finding, ...]
    screened_by_role: StaffRole


class Decision(enum.StrEnum):
    MERGE = "merge"
    """The same person: the newer record is merged into the one known before."""
    DISTINCT = "distinct"
    """Not the same person."""


@dataclass(frozen=True)
class DecideReview:
    """A person's decision on a possible duplicate."""

    review_id: UUID
    decision: Decision
    decided_by_role: StaffRole


# ----------------------------------------------------------------------------- consent and personal data


@dataclass(frozen=True)
class Actor:
    """Who acts, as the access token says (filled by the HTTP layer from the verified token, or by an
    operator's command): the rules about who may consent, override or look up are domain rules."""

    subject: str
    roles: frozenset[str]
    agency: str | None = None
    centre: str | None = None
    country: str | None = None

    def has_any(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)

    def acting_as(self, allowed: tuple[str, ...]) -> str | None:
        """The first of ``allowed`` (in that order of preference) the actor holds."""
        return next((r for r in allowed if r in self.roles), None)


class ChildView(enum.StrEnum):
    """The child's own view of the consent a guardian or the authority gives (kept at reception only)."""

    AGREES = "agrees"
    DISAGREES = "disagrees"
    NO_OPINION = "no_opinion"
    """Asked, and expressed no view."""
    NOT_ABLE_TO_EXPRESS = "not_able_to_express"
    """Too young, or not able to express a view now."""


@dataclass(frozen=True)
class Scope:
    """One purpose, for some service categories and agencies (each empty: all)."""

    purpose: ConsentPurpose
    service_categories: frozenset[ServiceCategory] = frozenset()
    agencies: frozenset[str] = frozenset()

    def covers(
        self, purpose: ConsentPurpose, agency: str | None = None, category: ServiceCategory | None = None
    ) -> bool:
        return (
            self.purpose is purpose
            and (agency is None or not self.agencies or agency in self.agencies)
            and (category is None or not self.service_categories or category in self.service_categories)
        )


@dataclass(frozen=True)
class RecordConsent:
    """Record the person's informed consent (or their guardian's, or the authority's) for a case."""

    case_id: UUID
    given_by: ConsentGiver
    method: ConsentMethod
    scopes: tuple[Scope, ...]
    actor: Actor
    information_language: str = "es"
    valid_until: datetime | None = None
    child_view: ChildView | None = None
    child_view_note: str | None = None
    """The child's words, if any (encrypted under the person's key; never published)."""


@dataclass(frozen=True)
class RecordOverride:
    """Record a vital-interest override: sharing without consent because the person's life is at risk."""

    case_id: UUID
    justification: OverrideJustification
    note: str
    """The professional's assessment in their words (encrypted; never published)."""
    scopes: tuple[Scope, ...]
    valid_until: datetime
    actor: Actor


@dataclass(frozen=True)
class WithdrawConsent:
    """Withdraw a consent (or every active consent of the case), whole or for some purposes."""

    case_id: UUID
    withdrawn_by: ConsentGiver
    actor: Actor
    consent_id: UUID | None = None
    """None: every active consent of the case (not an override; end one by naming it)."""
    purposes: frozenset[ConsentPurpose] = frozenset()
    """Empty: the whole consent."""


@dataclass(frozen=True)
class LookUpContact:
    """An agency resolves a contact reference into the person's name and phone."""

    reference: str
    actor: Actor


class PersonalDataPurpose(enum.StrEnum):
    """Why a member of staff reads a person's personal data (written to the audit log)."""

    IDENTITY_VERIFICATION = "identity_verification"
    DUPLICATE_REVIEW = "duplicate_review"
    CASE_MANAGEMENT = "case_management"
    FAMILY_TRACING = "family_tracing"
    PROTECTION_RESPONSE = "protection_response"


@dataclass(frozen=True)
class ReadPersonalData:
    """Read the personal data of a case's person, for a stated purpose (audited)."""

    case_id: UUID
    purpose: PersonalDataPurpose
    actor: Actor


@dataclass(frozen=True)
class EraseReturnee:
    """Erase a person (the one of ``case_id``): crypto-shred their data, tell every service."""

    case_id: UUID
    reason: ErasureReason
    actor: Actor
