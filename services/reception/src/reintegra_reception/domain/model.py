"""Reception's aggregates: the case (one arrival), the returnee (one person), the announcement of a
return, and the review of a possible duplicate.

Registration derives what the desk did not have to declare — age, the vulnerabilities that follow
from it and from the person's company, the immediate needs a child alone always has, earlier returns
found by identity matching — and records ``arrival_registered`` (and ``protection_concern_raised`` for
a child alone or separated, led by the country's child-protection authority). The case holds no
personal data; the person is a :class:`Returnee` that never leaves reception.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    SPECIAL_CATEGORY_CONCERNS,
    AgeGroup,
    ConcernType,
    DuplicateMatchBasis,
    ErasureReason,
    ImmediateAssistance,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
    disclosed,
)
from reintegra_contracts.events.reception import (
    AnnouncedPerson,
    ArrivalRegistered,
    ImmediateAssistanceProvided,
    PossibleDuplicateDetected,
    ProtectionConcernRaised,
    ReturnAnnounced,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_kit.domain import AggregateRoot, ConflictError, DomainError, Lifecycle

from .commands import (
    AnnounceReturn,
    ArrivalFacts,
    Decision,
    PersonalData,
    ProvideAssistance,
    RegisterArrival,
    Relationship,
    ScreenProtection,
)
from .identity import BlindIndex, Identity, identity_of
from .matching import Comparison
from .rules import (
    CONCERN_FLAG,
    CONCERN_SERVICE,
    DEFAULT_URGENCY,
    age_at,
    concerns_on_arrival,
    immediate_needs_of,
    lead_agency_of,
    protection_priority,
    vulnerabilities_of,
)


class ArrivalRejectedError(DomainError):
    """The arrival cannot be registered as given."""

    code = "arrival-rejected"
    title = "The arrival cannot be registered as given"


class CaseStatus(enum.StrEnum):
    REGISTERED = "registered"
    MERGED = "merged"
    """A duplicate registration of an arrival, merged into the case registered first."""


CASE_LIFECYCLE: Lifecycle[CaseStatus] = Lifecycle("case", {CaseStatus.REGISTERED: {CaseStatus.MERGED}})


@dataclass(frozen=True)
class Assistance:
    assistance_id: UUID
    provided_at: datetime
    items: tuple[ImmediateAssistance, ...]
    provided_by: str | None = None


@dataclass(frozen=True)
class Concern:
    concern_id: UUID
    concern_type: ConcernType
    urgency: Urgency
    raised_at: datetime
    raised_by_role: StaffRole
    lead_agency: str | None
    service_category: ServiceCategory | None


@dataclass(frozen=True)
class Registration:
    """What registration learnt around the command: who the person is, their travel group and the
    announcement they match (found by the handler; pure values)."""

    case_id: UUID
    returnee_id: UUID
    now: datetime
    previous_returns: int = 0
    travel_group_id: UUID | None = None
    travel_group_size: int | None = None
    adults_in_group: list[Relationship | None] | None = None
    announcement_id: UUID | None = None
    announced_person_id: UUID | None = None


@dataclass(eq=False)
class Case(AggregateRoot):
    """One arrival of one returned person, from reception onwards."""

    case_id: UUID
    returnee_id: UUID
    travel_group_id: UUID | None
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str
    destination_municipality: str
    age: int
    return_type: ReturnType
    transport_mode: TransportMode
    vulnerabilities: list[Vulnerability]
    immediate_needs: list[ServiceCategory]
    is_repeat_return: bool
    registered_at: datetime
    country_of_return: str | None = None
    sex: Sex | None = None
    status: CaseStatus = CaseStatus.REGISTERED
    merged_into: UUID | None = None
    previous_returns: int = 0
    declared_previous_returns: int = 0
    travel_group_size: int | None = None
    announcement_id: UUID | None = None
    announced_person_id: UUID | None = None
    assistance: list[Assistance] = field(default_factory=list)
    concerns: list[Concern] = field(default_factory=list)
    version: int = 0

    @classmethod
    def register(cls, cmd: RegisterArrival, reg: Registration) -> Case:
        """Register an arrival: ``arrival_registered``, and a concern for a child alone or separated."""
        facts = cmd.facts
        age = age_at(cmd.person.date_of_birth, facts.arrived_at.date())
        if age < 0:
            raise ArrivalRejectedError("date_of_birth is after the arrival")
        vulnerabilities = vulnerabilities_of(facts, age, reg.adults_in_group)
        needs = immediate_needs_of(facts, vulnerabilities)
        derived: dict[str, Any] = {
            "case_id": reg.case_id,
            "returnee_id": reg.returnee_id,
            "travel_group_id": reg.travel_group_id,
            "travel_group_size": reg.travel_group_size,
            "age": age,
            "vulnerabilities": vulnerabilities,
            "immediate_needs": needs,
            "previous_returns": reg.previous_returns,
            "is_repeat_return": reg.previous_returns > 0,
            "announcement_id": reg.announcement_id or facts.announcement_id,
            "announced_person_id": reg.announced_person_id,
            "registered_at": reg.now,
        }
        names = _names(cls)
        case = cls(
            **_shared(facts, cls),
            **{k: v for k, v in derived.items() if k in names},
            declared_previous_returns=facts.previous_returns,
        )
        case.record(
            ArrivalRegistered(**{**_facts_for(ArrivalRegistered, facts), **derived, **_on_the_log(case)})
        )
        for concern in concerns_on_arrival(vulnerabilities):
            case._raise(concern, DEFAULT_URGENCY[concern], StaffRole.RECEPTION_OFFICER, reg.now)
        return case

    def _check_open(self, attempted: str) -> None:
        if self.status is not CaseStatus.REGISTERED:
            CASE_LIFECYCLE.check(self.status, CaseStatus.REGISTERED, attempted)

    def provide_assistance(self, cmd: ProvideAssistance, now: datetime) -> Assistance:
        """Record immediate assistance given at the centre (``immediate_assistance_provided``)."""
        self._check_open("receive assistance")
        provided_at = cmd.provided_at or now
        if provided_at < self.arrived_at:
            raise DomainError("provided_at is before the arrival")
        if provided_at > now:
            raise DomainError("provided_at is in the future")
        given = Assistance(uuid4(), provided_at, tuple(dict.fromkeys(cmd.assistance)), cmd.provided_by)
        self.assistance.append(given)
        self.record(
            ImmediateAssistanceProvided(
                case_id=self.case_id,
                returnee_id=self.returnee_id,
                reception_centre=self.reception_centre,
                provided_at=given.provided_at,
                assistance=list(given.items),
                provided_by=given.provided_by,
            )
        )
        return given

    def screen(self, cmd: ScreenProtection, now: datetime) -> list[Concern]:
        """Record the protection screening: each finding not raised before raises a concern
        (``protection_concern_raised``, with its severity and the service to refer to at once)."""
        self._check_open("be screened")
        raised = []
        for finding in cmd.findings:
            if any(c.concern_type is finding.concern for c in self.concerns):
                continue  # raised before (at registration or an earlier screening)
            urgency = finding.urgency or DEFAULT_URGENCY[finding.concern]
            raised.append(self._raise(finding.concern, urgency, cmd.screened_by_role, now))
            flag = CONCERN_FLAG.get(finding.concern)
            if flag is not None and flag not in self.vulnerabilities:
                self.vulnerabilities = sorted({*self.vulnerabilities, flag})
        return raised

    def _raise(self, concern: ConcernType, urgency: Urgency, role: StaffRole, now: datetime) -> Concern:
        raised = Concern(
            concern_id=uuid4(),
            concern_type=concern,
            urgency=urgency,
            raised_at=now,
            raised_by_role=role,
            lead_agency=lead_agency_of(concern, self.country_of_return),
            service_category=CONCERN_SERVICE.get(concern),
        )
        self.concerns.append(raised)
        self.record(
            ProtectionConcernRaised(
                case_id=self.case_id,
                concern_id=raised.concern_id,
                returnee_id=self.returnee_id,
                # a kind that is special-category data stays here (ADR 0080)
                concern_type=ConcernType.UNDISCLOSED if concern in SPECIAL_CATEGORY_CONCERNS else concern,
                urgency=urgency,
                raised_at=now,
                raised_by_role=role,
                lead_agency=raised.lead_agency,
                service_category=raised.service_category,
                destination_municipality=self.destination_municipality,
            )
        )
        return raised

    def belong_to(self, returnee_id: UUID, previous_returns: int) -> None:
        """The person of this case turned out to be ``returnee_id`` (a merge decided by a person)."""
        self.returnee_id = returnee_id
        self.previous_returns = previous_returns
        self.is_repeat_return = previous_returns > 0

    def merge_into(self, case_id: UUID) -> None:
        """This registration duplicates ``case_id`` (the same arrival registered twice)."""
        self.status = CASE_LIFECYCLE.check(self.status, CaseStatus.MERGED, "be merged")
        self.merged_into = case_id


class PersonErasedError(DomainError):
    """The person's data was erased: it cannot be read or used any more."""

    http_status = 410
    code = "person-erased"
    title = "The person's data was erased"


@dataclass(eq=False)
class Returnee(AggregateRoot):
    """A returned person as reception knows them: their personal data (encrypted at rest under a data
    key of their own, which erasure destroys) and, stored apart, the blind indexes that find them."""

    returnee_id: UUID
    person: PersonalData | None
    """None once erased (the data key is destroyed; the ciphertexts no longer decrypt)."""
    sex: Sex
    country: str
    created_at: datetime
    merged_into: UUID | None = None
    erased_at: datetime | None = None
    version: int = 0

    @property
    def data(self) -> PersonalData:
        """The person's data; :class:`PersonErasedError` once erased."""
        if self.person is None:
            raise PersonErasedError(f"returnee {self.returnee_id} was erased")
        return self.person

    @property
    def identity(self) -> Identity:
        return identity_of(self.data, sex=self.sex.value, country=self.country)

    def erase(self, case_ids: list[UUID], reason: ErasureReason, now: datetime) -> None:
        """Erase the person: their data is gone for good (the repository destroys the data key), and
        ``returnee_erased`` tells every service, once per case, to drop what it holds on them."""
        if self.erased_at is not None:
            raise ConflictError(f"returnee {self.returnee_id} was erased on {self.erased_at.isoformat()}")
        self.person = None
        self.erased_at = now
        for case_id in case_ids:
            self.record(
                ReturneeErased(case_id=case_id, returnee_id=self.returnee_id, erased_at=now, reason=reason)
            )


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    MERGED = "merged"
    DISTINCT = "distinct"


REVIEW_LIFECYCLE: Lifecycle[ReviewStatus] = Lifecycle(
    "review", {ReviewStatus.PENDING: {ReviewStatus.MERGED, ReviewStatus.DISTINCT}}
)


@dataclass(eq=False)
class DuplicateReview(AggregateRoot):
    """A possible duplicate waiting for a person's decision (never decided by the machine)."""

    review_id: UUID
    case_id: UUID
    returnee_id: UUID
    candidate_returnee_id: UUID
    candidate_case_id: UUID
    score: float
    comparison: dict[str, Any]
    status: ReviewStatus
    detected_at: datetime
    decided_at: datetime | None = None
    decided_by_role: StaffRole | None = None
    version: int = 0

    @classmethod
    def raise_for(
        cls, case: Case, comparison: Comparison, candidate_case_id: UUID, now: datetime
    ) -> DuplicateReview:
        """Queue a borderline match (``possible_duplicate_detected``)."""
        review = cls(
            review_id=uuid4(),
            case_id=case.case_id,
            returnee_id=case.returnee_id,
            candidate_returnee_id=comparison.returnee_id,
            candidate_case_id=candidate_case_id,
            score=comparison.score,
            comparison={
                "basis": [b.value for b in comparison.basis],
                "given_names": comparison.given,
                "family_names": comparison.family,
                "date_of_birth": comparison.birth,
                "document": comparison.document,
                "caveats": list(comparison.caveats),
            },
            status=ReviewStatus.PENDING,
            detected_at=now,
        )
        review.record(
            PossibleDuplicateDetected(
                case_id=case.case_id,
                returnee_id=case.returnee_id,
                candidate_returnee_id=comparison.returnee_id,
                candidate_case_id=candidate_case_id,
                match_score=comparison.score,
                match_basis=list(comparison.basis),
                detected_at=now,
            )
        )
        return review

    @property
    def basis(self) -> list[DuplicateMatchBasis]:
        return [DuplicateMatchBasis(b) for b in self.comparison.get("basis", [])]

    def decide(self, decision: Decision, role: StaffRole, now: datetime) -> None:
        target = ReviewStatus.MERGED if decision is Decision.MERGE else ReviewStatus.DISTINCT
        self.status = REVIEW_LIFECYCLE.check(self.status, target, f"be decided ({decision.value})")
        self.decided_at = now
        self.decided_by_role = role

    def merged(self, surviving_case: UUID, merged_cases: list[UUID], now: datetime) -> None:
        """Announce the merge decided (``returnee_records_merged``) so that every service re-keys."""
        if self.status is not ReviewStatus.MERGED or self.decided_by_role is None:
            raise ConflictError("only a merge decision merges records")
        self.record(
            ReturneeRecordsMerged(
                case_id=surviving_case,
                surviving_returnee_id=self.candidate_returnee_id,
                merged_returnee_ids=[self.returnee_id],
                merged_case_ids=merged_cases,
                merged_at=now,
                decided_by_role=self.decided_by_role,
            )
        )


@dataclass(eq=False)
class AnnouncedPersonRecord:
    announced_person_id: UUID
    position: int
    reference: str | None
    age_group: AgeGroup | None
    sex: Sex | None
    travel_group_id: UUID | None
    vulnerabilities: list[Vulnerability]
    needs_medical_attention: bool
    keys: frozenset[str] = frozenset()
    case_id: UUID | None = None


@dataclass(eq=False)
class Announcement(AggregateRoot):
    """A return announced before it happens; its persons are matched by the arrivals."""

    announcement_id: UUID
    case_id: UUID
    announced_by: str
    announced_at: datetime
    expected_arrival_at: datetime
    port_of_entry: str
    reception_centre: str | None
    country_of_return: str
    returned_from: str
    return_type: ReturnType
    transport_mode: TransportMode
    transport_reference: str | None
    persons: list[AnnouncedPersonRecord]
    version: int = 0

    @classmethod
    def announce(
        cls, cmd: AnnounceReturn, groups: dict[str, UUID], now: datetime, blind: BlindIndex
    ) -> Announcement:
        """Record an announcement (``return_announced``); ``groups`` maps family references to
        pseudonymous travel-group ids; announced people given with names keep only the blind indexes
        of their sure keys."""
        refs = [p.reference for p in cmd.persons if p.reference]
        if len(refs) != len(set(refs)):
            raise DomainError("persons: a reference is given to two persons")
        persons = [
            AnnouncedPersonRecord(
                announced_person_id=p.announced_person_id or uuid4(),
                position=i,
                reference=p.reference,
                age_group=p.age_group,
                sex=p.sex,
                travel_group_id=groups.get(p.family_group_ref) if p.family_group_ref else None,
                vulnerabilities=sorted(p.vulnerabilities),
                needs_medical_attention=p.needs_medical_attention,
                keys=blind.sure_keys(
                    identity_of(p.person, sex=(p.sex or Sex.UNDISCLOSED).value, country=cmd.country_of_return)
                )
                if p.person
                else frozenset(),
            )
            for i, p in enumerate(cmd.persons)
        ]
        announcement = cls(
            announcement_id=cmd.announcement_id,
            case_id=cmd.case_id,
            announced_by=cmd.announced_by,
            announced_at=now,
            expected_arrival_at=cmd.expected_arrival_at,
            port_of_entry=cmd.port_of_entry,
            reception_centre=cmd.reception_centre,
            country_of_return=cmd.country_of_return,
            returned_from=cmd.returned_from,
            return_type=cmd.return_type,
            transport_mode=cmd.transport_mode,
            transport_reference=cmd.transport_reference,
            persons=persons,
        )
        announcement.record(
            ReturnAnnounced(
                case_id=cmd.case_id,
                announcement_id=cmd.announcement_id,
                announced_by=cmd.announced_by,
                announced_at=now,
                expected_arrival_at=cmd.expected_arrival_at,
                port_of_entry=cmd.port_of_entry,
                reception_centre=cmd.reception_centre,
                country_of_return=cmd.country_of_return,
                returned_from=cmd.returned_from,
                return_type=cmd.return_type,
                transport_mode=cmd.transport_mode,
                transport_reference=cmd.transport_reference,
                persons_expected=len(persons),
                persons=[
                    AnnouncedPerson(
                        announced_person_id=p.announced_person_id,
                        age_group=p.age_group,
                        sex=p.sex,
                        travel_group_id=p.travel_group_id,
                        vulnerabilities=disclosed(p.vulnerabilities),  # ADR 0080
                        needs_medical_attention=p.needs_medical_attention,
                        reference=p.reference,
                    )
                    for p in persons
                ],
            )
        )
        return announcement

    def same_as(self, cmd: AnnounceReturn) -> bool:
        """Whether ``cmd`` repeats this announcement (a re-sent command changes nothing)."""
        return (
            cmd.case_id == self.case_id
            and cmd.announced_by == self.announced_by
            and len(cmd.persons) == len(self.persons)
            and [p.reference for p in cmd.persons] == [p.reference for p in self.persons]
        )

    def find(self, reference: str | None, keys: frozenset[str]) -> AnnouncedPersonRecord | None:
        """The announced person an arrival is: by the announcement's reference first, then by identity
        (the blind index of a sure key), among those who have not arrived yet."""
        waiting = [p for p in self.persons if p.case_id is None]
        if reference:
            for p in waiting:
                if p.reference == reference:
                    return p
        for p in waiting:
            if p.keys & keys:
                return p
        return None

    def arrived(self, person: AnnouncedPersonRecord, case_id: UUID) -> None:
        person.case_id = case_id


def _on_the_log(case: Case) -> dict[str, Any]:
    """What ``arrival_registered`` may say of the person's vulnerabilities (ADR 0080): the flags that
    are not special-category data, and the protection priority reception decided from all of them."""
    return {
        "vulnerabilities": disclosed(case.vulnerabilities),
        "protection_priority": protection_priority(case.vulnerabilities, case.immediate_needs),
        "has_disability": False,
        "indigenous_people": None,
    }


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _shared(facts: ArrivalFacts, cls: type) -> dict[str, Any]:
    """The facts that ``cls`` (a dataclass) also holds, under the same names."""
    names = _names(cls)
    return {
        f.name: getattr(facts, f.name) for f in fields(facts) if f.name in names and f.name not in _DERIVED
    }


def _facts_for(event: type[ArrivalRegistered], facts: ArrivalFacts) -> dict[str, Any]:
    """The facts the event carries as declared, under the same names."""
    return {
        f.name: getattr(facts, f.name)
        for f in fields(facts)
        if f.name in event.model_fields and f.name not in _DERIVED
    }


_DERIVED = frozenset(
    {
        "vulnerabilities",
        "immediate_needs",
        "previous_returns",
        "travel_group_size",
        "announcement_id",
    }
)
"""Declared facts that registration completes or finds out (the case and the event carry the result)."""
