"""Handlers of consent and of reads of personal data (docs/adr/0012-handler-contract.md).

Every read of personal data and every refusal writes a row to the audit log. A refusal must leave its
row even though the command is refused, so these handlers do the work in a savepoint: on a
:class:`~reintegra_kit.domain.DomainError` the savepoint rolls back (nothing half-done stays), the
audit row is written, and the handler returns an :class:`Audited` carrying the refusal, which the
HTTP layer raises after the unit of work committed (a problem-details answer, as usual).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar
from uuid import UUID

from reintegra_contracts.codelists import ConsentPurpose, Vulnerability
from reintegra_contracts.events import followup as followup_events
from reintegra_contracts.events import referral as referral_events
from reintegra_kit.clock import Clock
from reintegra_kit.domain import ConflictError, DomainError, NotFoundError

from .audit import AuditAction, AuditEntry, AuditRow, Outcome
from .domain import Case, CaseStatus, PersonalData
from .domain.commands import (
    Actor,
    LookUpContact,
    ReadPersonalData,
    RecordConsent,
    RecordOverride,
    WithdrawConsent,
)
from .domain.consent import CaseConsent, ConsentRecord, ConsentSubject
from .domain.contact import (
    ContactNotAllowedError,
    ContactReference,
    ContactReferenceGoneError,
    UnknownContactReferenceError,
    reference_hash,
)
from .repository import ReceptionUnitOfWork

T = TypeVar("T")
D = TypeVar("D")

PERSONAL_FIELDS = ("given_names", "family_names", "date_of_birth", "document_number", "phone")
CONTACT_FIELDS = ("given_names", "family_names", "phone")


@dataclass(frozen=True)
class Audited(Generic[T]):
    """A handler's result, or the refusal it recorded in the audit log (raised by :meth:`unwrap`)."""

    value: T | None = None
    refusal: DomainError | None = None

    def unwrap(self) -> T:
        if self.refusal is not None:
            raise self.refusal
        assert self.value is not None
        return self.value


async def _audited(
    uow: ReceptionUnitOfWork,
    now: datetime,
    entry: Callable[[Outcome, str | None], AuditEntry],
    work: Callable[[], Awaitable[T]],
) -> Audited[T]:
    """Run ``work`` in a savepoint; on a domain refusal roll it back and write the refusal's audit row."""
    try:
        async with uow.session.begin_nested():
            value = await work()
    except DomainError as error:
        await uow.audit.append(entry(Outcome.REFUSED, str(error)), now)
        return Audited(refusal=error)
    return Audited(value)


async def _decided(
    uow: ReceptionUnitOfWork,
    now: datetime,
    entry: Callable[[Outcome, str | None], AuditEntry],
    decide: Callable[[], Awaitable[D]],
    apply: Callable[[D], Awaitable[T]],
) -> Audited[T]:
    """As :func:`_audited`, without the savepoint, for work whose every refusal comes from ``decide``:
    reads and the domain's decision, which write nothing, so a refusal has nothing to roll back and
    its audit row goes into the same transaction. Then ``apply`` writes what was decided. That spares
    SAVEPOINT and RELEASE (two round trips on PostgreSQL) on the request every case makes: its
    consent."""
    try:
        decided = await decide()
    except DomainError as error:
        await uow.audit.append(entry(Outcome.REFUSED, str(error)), now)
        return Audited(refusal=error)
    return Audited(await apply(decided))


async def _case(uow: ReceptionUnitOfWork, case_id: UUID) -> Case:
    case = await uow.cases.get(case_id, with_history=False)  # consent rules need no assistance
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    if case.status is CaseStatus.MERGED:
        raise ConflictError(f"case {case_id} was merged into case {case.merged_into}: use that case")
    return case


def subject_of(case: Case) -> ConsentSubject:
    """What the consent rules need to know of a case's person."""
    alone = bool(
        {Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.SEPARATED_CHILD} & set(case.vulnerabilities)
    )
    return ConsentSubject(case.case_id, case.returnee_id, case.age, alone, case.country_of_return)


async def _consent_of(uow: ReceptionUnitOfWork, case: Case) -> CaseConsent:
    return await uow.consents.get(case.case_id) or CaseConsent(case.case_id, case.returnee_id)


# ----------------------------------------------------------------------------------------- consent


async def record_consent(cmd: RecordConsent, uow: ReceptionUnitOfWork, clock: Clock) -> Audited[CaseConsent]:
    """Record a consent (``consent_recorded``); a refusal says why and is audited."""
    now = clock.now()

    async def decide() -> CaseConsent:
        case = await _case(uow, cmd.case_id)
        consent = await _consent_of(uow, case)
        consent.record_consent(cmd, subject_of(case), now)  # refuses before it changes anything
        return consent

    async def apply(consent: CaseConsent) -> CaseConsent:
        await uow.consents.save(consent)
        return consent

    def entry(outcome: Outcome, reason: str | None) -> AuditEntry:
        return AuditEntry(
            AuditAction.CONSENT_RECORD, outcome, cmd.actor, "consent", case_id=cmd.case_id, reason=reason
        )

    return await _decided(uow, now, entry, decide, apply)


async def record_override(
    cmd: RecordOverride, uow: ReceptionUnitOfWork, clock: Clock, override_max_validity: timedelta
) -> Audited[CaseConsent]:
    """Record a vital-interest override (``consent_recorded``, ``basis=vital_interest``); audited
    whether allowed or refused, so that an auditor sees every one."""
    now = clock.now()
    returnee: list[UUID] = []

    async def work() -> CaseConsent:
        case = await _case(uow, cmd.case_id)
        returnee.append(case.returnee_id)
        consent = await _consent_of(uow, case)
        record = consent.record_override(cmd, subject_of(case), now, override_max_validity)
        await uow.consents.save(consent)
        await uow.audit.append(
            AuditEntry(
                AuditAction.OVERRIDE_RECORD,
                Outcome.ALLOWED,
                cmd.actor,
                f"vital_interest:{record.justification}",
                case_id=case.case_id,
                returnee_id=case.returnee_id,
            ),
            now,
        )
        return consent

    def entry(outcome: Outcome, reason: str | None) -> AuditEntry:
        return AuditEntry(
            AuditAction.OVERRIDE_RECORD,
            outcome,
            cmd.actor,
            f"vital_interest:{cmd.justification}",
            case_id=cmd.case_id,
            returnee_id=returnee[0] if returnee else None,
            reason=reason,
        )

    return await _audited(uow, now, entry, work)


async def withdraw_consent(
    cmd: WithdrawConsent, uow: ReceptionUnitOfWork, clock: Clock
) -> Audited[CaseConsent]:
    """Withdraw consent (``consent_withdrawn``); contact references it no longer covers are revoked at
    once (referral cancels the referrals and tells the agencies; follow-up stops contact)."""
    now = clock.now()

    async def work() -> CaseConsent:
        case = await _case(uow, cmd.case_id)
        consent = await uow.consents.get(case.case_id)
        if consent is None:
            raise ConflictError(f"no consent was recorded for case {case.case_id}: nothing to withdraw")
        consent.withdraw(cmd, subject_of(case), now)
        await uow.consents.save(consent)
        for ref in await uow.contact_references.active_for_cases([case.case_id]):
            if consent.covering(ConsentPurpose.CONTACT_BY_PROVIDER, now, ref.agency_id, ref.category) is None:
                ref.revoke("consent withdrawn", now)
                await uow.contact_references.save(ref)
        return consent

    def entry(outcome: Outcome, reason: str | None) -> AuditEntry:
        return AuditEntry(
            AuditAction.CONSENT_WITHDRAW, outcome, cmd.actor, "consent", case_id=cmd.case_id, reason=reason
        )

    return await _audited(uow, now, entry, work)


@dataclass(frozen=True)
class ConsentView:
    """A case's consent at a moment (read model for the HTTP answer)."""

    case_id: UUID
    returnee_id: UUID | None
    at: datetime
    consent: CaseConsent | None


async def consent_of_case(case_id: UUID, uow: ReceptionUnitOfWork, clock: Clock) -> ConsentView:
    """The consent state and history of a case (no free text: notes stay sealed)."""
    case = await uow.cases.get(case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    consent = await uow.consents.get(case_id)
    return ConsentView(case_id, case.returnee_id, clock.now(), consent)


@dataclass(frozen=True)
class OverrideList:
    rows: list[tuple[UUID, UUID, ConsentRecord]]
    at: datetime


@dataclass(frozen=True)
class ListOverrides:
    """An auditor lists vital-interest overrides; with ``notes``, the professionals' words (audited)."""

    actor: Actor
    limit: int = 100
    offset: int = 0
    notes: bool = False


async def list_overrides(cmd: ListOverrides, uow: ReceptionUnitOfWork, clock: Clock) -> OverrideList:
    now = clock.now()
    rows = await uow.consents.overrides(cmd.limit, cmd.offset, notes=cmd.notes)
    if cmd.notes:
        for case_id, returnee_id, _ in rows:
            await uow.audit.append(
                AuditEntry(
                    AuditAction.OVERRIDE_NOTES_READ,
                    Outcome.ALLOWED,
                    cmd.actor,
                    "override_review",
                    fields=("override_note",),
                    case_id=case_id,
                    returnee_id=returnee_id,
                ),
                now,
            )
    return OverrideList(rows, now)


# ------------------------------------------------------------------------------ reads of personal data


@dataclass(frozen=True)
class ContactDetails:
    referral_id: UUID
    given_names: str
    family_names: str
    phone: str | None
    expires_at: datetime


async def look_up_contact(
    cmd: LookUpContact, uow: ReceptionUnitOfWork, clock: Clock
) -> Audited[ContactDetails]:
    """Resolve a contact reference for the agency it was sent to, while its referral is active, the
    reference unexpired and the consent (or an override) covering contact by that agency."""
    now = clock.now()
    ref = await uow.contact_references.by_hash(reference_hash(cmd.reference))
    returnee: list[UUID] = []

    async def work() -> ContactDetails:
        if ref is None:
            raise UnknownContactReferenceError(
                "no contact reference like this one was issued (check that it was copied whole)"
            )
        ref.check(cmd.actor.agency, now)
        case = await uow.cases.get(ref.case_id)
        if case is None:
            raise UnknownContactReferenceError("the case of this contact reference is not known here")
        returnee.append(case.returnee_id)
        consent = await uow.consents.get(case.case_id)
        allowing = (
            consent.covering(ConsentPurpose.CONTACT_BY_PROVIDER, now, ref.agency_id, ref.category)
            if consent
            else None
        )
        if allowing is None:
            why = (
                consent.why_not(ConsentPurpose.CONTACT_BY_PROVIDER, now, ref.agency_id, ref.category)
                if consent
                else "no consent was recorded for this case"
            )
            raise ContactNotAllowedError(f"the person's consent does not allow contact by your agency: {why}")
        person = await uow.returnees.get(case.returnee_id)
        if person is None or person.person is None:
            raise ContactReferenceGoneError("the person's data was erased")
        await uow.audit.append(_lookup_entry(cmd, ref, case.returnee_id, Outcome.ALLOWED, None), now)
        return ContactDetails(
            ref.referral_id,
            person.person.given_names,
            person.person.family_names,
            person.person.phone,
            ref.expires_at,
        )

    def entry(outcome: Outcome, reason: str | None) -> AuditEntry:
        return _lookup_entry(cmd, ref, returnee[0] if returnee else None, outcome, reason)

    return await _audited(uow, now, entry, work)


def _lookup_entry(
    cmd: LookUpContact,
    ref: ContactReference | None,
    returnee_id: UUID | None,
    outcome: Outcome,
    reason: str | None,
) -> AuditEntry:
    return AuditEntry(
        AuditAction.CONTACT_LOOKUP,
        outcome,
        cmd.actor,
        f"contact_for_referral:{ref.category}" if ref else "contact_for_referral",
        fields=CONTACT_FIELDS if outcome is Outcome.ALLOWED else (),
        case_id=ref.case_id if ref else None,
        returnee_id=returnee_id,
        referral_id=ref.referral_id if ref else None,
        reason=reason,
    )


@dataclass(frozen=True)
class PersonalDataView:
    case_id: UUID
    returnee_id: UUID
    person: PersonalData


async def read_personal_data(
    cmd: ReadPersonalData, uow: ReceptionUnitOfWork, clock: Clock
) -> Audited[PersonalDataView]:
    """A member of staff reads the personal data of a case's person, for a stated purpose (audited)."""
    now = clock.now()
    returnee: list[UUID] = []

    async def work() -> PersonalDataView:
        case = await uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFoundError(f"case {cmd.case_id} not found")
        returnee.append(case.returnee_id)
        person = await uow.returnees.get(case.returnee_id)
        if person is None:
            raise NotFoundError(f"the person of case {cmd.case_id} is not known")
        view = PersonalDataView(case.case_id, case.returnee_id, person.data)
        await uow.audit.append(
            AuditEntry(
                AuditAction.PERSONAL_DATA_READ,
                Outcome.ALLOWED,
                cmd.actor,
                cmd.purpose.value,
                fields=tuple(f for f in PERSONAL_FIELDS if getattr(view.person, f) is not None),
                case_id=case.case_id,
                returnee_id=case.returnee_id,
            ),
            now,
        )
        return view

    def entry(outcome: Outcome, reason: str | None) -> AuditEntry:
        return AuditEntry(
            AuditAction.PERSONAL_DATA_READ,
            outcome,
            cmd.actor,
            cmd.purpose.value,
            case_id=cmd.case_id,
            returnee_id=returnee[0] if returnee else None,
            reason=reason,
        )

    return await _audited(uow, now, entry, work)


@dataclass(frozen=True)
class AccessReport:
    """Who looked at the data of the person of ``case_id`` (their own access report)."""

    case_id: UUID
    actor: Actor
    limit: int = 500


@dataclass(frozen=True)
class AccessReportView:
    case_id: UUID
    returnee_id: UUID
    case_ids: list[UUID]
    rows: list[AuditRow]


async def people_and_cases(uow: ReceptionUnitOfWork, returnee_id: UUID) -> tuple[list[UUID], list[UUID]]:
    """A person's records (theirs and those merged into it) and all their cases."""
    people = [returnee_id, *await uow.returnees.merged_into(returnee_id)]
    cases = [c.case_id for p in people for c in await uow.cases.for_returnee(p)]
    return people, cases


async def access_report(cmd: AccessReport, uow: ReceptionUnitOfWork, clock: Clock) -> AccessReportView:
    """Every audit row about the person (any of their cases or records), newest first; audited itself."""
    case = await uow.cases.get(cmd.case_id)
    if case is None:
        raise NotFoundError(f"case {cmd.case_id} not found")
    people, cases = await people_and_cases(uow, case.returnee_id)
    rows = await uow.audit.page(cmd.limit, 0, case_ids=cases, returnee_ids=people)
    await uow.audit.append(
        AuditEntry(
            AuditAction.ACCESS_REPORT,
            Outcome.ALLOWED,
            cmd.actor,
            "subject_access",
            case_id=case.case_id,
            returnee_id=case.returnee_id,
        ),
        clock.now(),
    )
    return AccessReportView(case.case_id, case.returnee_id, cases, rows)


# ---------------------------------------------------------------- referral's and follow-up's events


class UnknownCaseError(NotFoundError):
    """An event about a case reception never registered. Reception opens every case, and commits it
    before any event about it exists, so such an event is never early: it is refused at once (recorded
    with the reason, never retried nor parked) and changes nothing (ADR 0060)."""

    code = "unknown-case"


async def _known(uow: ReceptionUnitOfWork, case_id: UUID) -> None:
    if not await uow.cases.exists(case_id):
        raise UnknownCaseError(f"case {case_id} was never registered at reception")


async def on_referral_requested(event: referral_events.ReferralRequested, uow: ReceptionUnitOfWork) -> None:
    """Follow the contact reference referral issued with the referral (no reference: nothing to follow)."""
    if not event.contact_reference or event.contact_reference_expires_at is None:
        return
    await _known(uow, event.case_id)
    found, same = await uow.contact_references.of_referral_or_hash(
        event.referral_id, reference_hash(event.contact_reference)
    )
    if same is not None and same.referral_id != event.referral_id:
        raise ConflictError(f"the contact reference of referral {event.referral_id} is another referral's")
    if found is None:
        found = ContactReference(
            referral_id=event.referral_id,
            reference_hash=reference_hash(event.contact_reference),
            case_id=event.case_id,
            agency_id=event.agency_id,
            category=event.category,
            expires_at=event.contact_reference_expires_at,
            issued_at=event.requested_at,
            updated_at=event.requested_at,
        )
    else:
        found.reissue(event.contact_reference, event.contact_reference_expires_at, event.requested_at)
    await uow.contact_references.save(found)


ReferralGoingOn = (
    referral_events.ReferralReceived
    | referral_events.ReferralAccepted
    | referral_events.ServiceStarted
    | referral_events.ServiceDelivered
)
ReferralEnded = (
    referral_events.ReferralRejected
    | referral_events.ReferralCancelled
    | referral_events.ReferralCompleted
    | referral_events.ReferralFailed
)


async def on_referral_going_on(event: ReferralGoingOn, uow: ReceptionUnitOfWork) -> None:
    """The referral goes on; follow it if referral moved it to another case (a merge)."""
    found = await uow.contact_references.get(event.referral_id)
    if found is not None and found.case_id != event.case_id:
        await _known(uow, event.case_id)
        found.moved_to(event.case_id, found.updated_at)
        await uow.contact_references.save(found)


async def on_referral_ended(event: ReferralEnded, uow: ReceptionUnitOfWork, clock: Clock) -> None:
    """The referral ended: its contact reference stops resolving."""
    found = await uow.contact_references.get(event.referral_id)
    if found is None:
        return
    kind = event.event_type.split(".")[-2].replace("referral_", "referral ")
    reason = getattr(event, "reason", None)
    found.end(f"{kind}: {reason}" if reason is not None else kind, clock.now())
    await uow.contact_references.save(found)


async def on_case_closed(event: followup_events.CaseClosed, uow: ReceptionUnitOfWork) -> None:
    """Follow-up closed the case: the retention period runs from now on."""
    await _known(uow, event.case_id)
    await uow.closures.set(event.case_id, event.closed_at, event.closed_at)


async def on_case_reopened(event: followup_events.CaseReopened, uow: ReceptionUnitOfWork) -> None:
    await _known(uow, event.case_id)
    await uow.closures.set(event.case_id, None, event.reopened_at)
