"""Reception's HTTP API for consent and personal data: translate the request (and the caller, from the
verified token) into a command, hand it to the bus, show the result.

Every route here needs the access policy's decision (``CurrentAccess``): the caller's role, agency
and centre become the command's :class:`~reintegra_reception.domain.commands.Actor`, so the rules
about who may consent, override or look up are domain rules, tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from reintegra_contracts.base import AgencyCode
from reintegra_contracts.codelists import (
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    OverrideJustification,
    ServiceCategory,
)
from reintegra_kit.auth import Access, CurrentAccess
from reintegra_kit.clock import Clock
from reintegra_kit.handlers import MessageBus
from reintegra_kit.runtime.http import problems

from .api_models import IsoDateTime
from .audit import AuditAction, AuditRow
from .domain.commands import (
    Actor,
    ChildView,
    LookUpContact,
    PersonalDataPurpose,
    ReadPersonalData,
    RecordConsent,
    RecordOverride,
    Scope,
    WithdrawConsent,
)
from .domain.consent import CaseConsent, ConsentRecord, ConsentStatus
from .privacy import (
    AccessReport,
    AccessReportView,
    Audited,
    ConsentView,
    ContactDetails,
    ListOverrides,
    OverrideList,
    PersonalDataView,
    consent_of_case,
)
from .repository import ReceptionUnitOfWork

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def actor_of(access: Access) -> Actor:
    """The caller as the domain knows it (subject, roles, agency, centre, country from the token)."""
    p = access.principal
    return Actor(p.subject, p.roles, p.agency, p.centre, p.country)


# -- requests ------------------------------------------------------------------------------------------


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose
    service_categories: list[ServiceCategory] = Field(
        default_factory=list, max_length=30, description="Empty: every category (sharing purposes only)."
    )
    agencies: list[AgencyCode] = Field(
        default_factory=list,
        max_length=50,
        description="Agency codes; empty: any agency (sharing purposes only).",
    )

    def to_scope(self) -> Scope:
        return Scope(self.purpose, frozenset(self.service_categories), frozenset(self.agencies))


class ConsentIn(BaseModel):
    """A consent as the person (or their guardian, or the authority) gave it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_by: ConsentGiver
    method: ConsentMethod = Field(
        description="written (signed), verbal_witnessed, recorded (audio/video), digital."
    )
    scopes: list[ScopeIn] = Field(min_length=1, max_length=20)
    information_language: str = Field(
        default="es", pattern=LANGUAGE, description="BCP 47 tag of the language the person was informed in."
    )
    valid_until: IsoDateTime | None = Field(default=None, description="Expiry; none: until withdrawn.")
    child_view: ChildView | None = Field(
        default=None,
        description="A child's own view of the consent a guardian or the authority gives (required then).",
    )
    child_view_note: str | None = Field(
        default=None,
        max_length=2000,
        description="The child's words (kept encrypted at reception, never shared).",
    )


class OverrideIn(BaseModel):
    """A vital-interest override: the person's life is at risk and consent cannot be obtained."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    justification: OverrideJustification
    note: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",  # more than blanks (they are stripped)
        description="The professional's assessment in their words (kept encrypted at reception, never shared).",
    )
    scopes: list[ScopeIn] = Field(min_length=1, max_length=20)
    valid_until: IsoDateTime = Field(
        description="When it ends (at most REINTEGRA_OVERRIDE_MAX_VALIDITY ahead)."
    )


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    withdrawn_by: ConsentGiver
    consent_id: UUID | None = Field(
        default=None, description="One consent (or override); none: every active consent of the case."
    )
    purposes: list[ConsentPurpose] = Field(
        default_factory=list, max_length=10, description="Only these purposes; empty: the whole consent."
    )


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    contact_reference: str = Field(
        min_length=1, max_length=100, description="The reference of your referral."
    )


# -- answers -------------------------------------------------------------------------------------------


class ScopeOut(BaseModel):
    purpose: ConsentPurpose
    service_categories: list[ServiceCategory]
    agencies: list[str]


class AllowedOut(ScopeOut):
    consent_id: UUID
    basis: ConsentBasis
    valid_until: datetime | None


class RecordOut(BaseModel):
    consent_id: UUID
    basis: ConsentBasis
    status: ConsentStatus
    given_by: ConsentGiver
    method: ConsentMethod
    scopes: list[ScopeOut]
    information_language: str
    valid_from: datetime
    valid_until: datetime | None
    recorded_at: datetime
    recorded_by_role: str
    child_view: ChildView | None
    justification: OverrideJustification | None
    withdrawn_at: datetime | None
    withdrawn_purposes: list[ConsentPurpose]


class HistoryOut(BaseModel):
    at: datetime
    action: str = Field(description="recorded, override_recorded, withdrawn or expired")
    consent_id: UUID
    basis: ConsentBasis
    given_by: ConsentGiver
    purposes: list[ConsentPurpose]
    recorded_by_role: str | None


class ConsentOut(BaseModel):
    """A case's consent now: what it allows, each consent or override, and the history (no free text)."""

    case_id: UUID
    returnee_id: UUID | None
    at: datetime
    allows: list[AllowedOut] = Field(description="What the case allows now, scope by scope.")
    records: list[RecordOut]
    history: list[HistoryOut]


def _scope_out(s: Scope) -> dict[str, Any]:
    return {
        "purpose": s.purpose,
        "service_categories": sorted(s.service_categories),
        "agencies": sorted(s.agencies),
    }


def _record_out(r: ConsentRecord, at: datetime) -> RecordOut:
    return RecordOut(
        consent_id=r.consent_id,
        basis=r.basis,
        status=r.status(at),
        given_by=r.given_by,
        method=r.method,
        scopes=[ScopeOut(**_scope_out(s)) for s in r.scopes],
        information_language=r.information_language,
        valid_from=r.valid_from,
        valid_until=r.valid_until,
        recorded_at=r.recorded_at,
        recorded_by_role=r.recorded_by.role,
        child_view=r.child_view,
        justification=r.justification,
        withdrawn_at=r.withdrawn_at,
        withdrawn_purposes=sorted(r.withdrawn_purposes),
    )


def consent_out(
    case_id: UUID, returnee_id: UUID | None, consent: CaseConsent | None, at: datetime
) -> ConsentOut:
    if consent is None:
        return ConsentOut(case_id=case_id, returnee_id=returnee_id, at=at, allows=[], records=[], history=[])
    return ConsentOut(
        case_id=case_id,
        returnee_id=returnee_id,
        at=at,
        allows=[
            AllowedOut(**_scope_out(s), consent_id=r.consent_id, basis=r.basis, valid_until=r.valid_until)
            for r, s in consent.current_scopes(at)
        ],
        records=[_record_out(r, at) for r in consent.records],
        history=[
            HistoryOut(
                at=h.at,
                action=h.action,
                consent_id=h.consent_id,
                basis=h.basis,
                given_by=h.given_by,
                purposes=list(h.purposes),
                recorded_by_role=h.recorded_by_role,
            )
            for h in consent.history(at)
        ],
    )


class OverrideOut(BaseModel):
    """A vital-interest override, as an auditor reviews it."""

    case_id: UUID
    returnee_id: UUID
    consent_id: UUID
    justification: OverrideJustification | None
    status: ConsentStatus
    scopes: list[ScopeOut]
    recorded_at: datetime
    valid_until: datetime | None
    recorded_by_role: str
    recorded_by_subject: str
    recorded_by_agency: str | None
    recorded_by_centre: str | None
    withdrawn_at: datetime | None
    note: str | None = Field(description="The professional's words: only with include_notes=true (audited).")


class ContactOut(BaseModel):
    """How to reach the person about this referral (audited; never store it beyond the referral)."""

    referral_id: UUID
    given_names: str
    family_names: str
    phone: str | None
    reference_expires_at: datetime


class PersonalDataOut(BaseModel):
    """A person's personal data, read for a stated purpose (audited)."""

    case_id: UUID
    returnee_id: UUID
    given_names: str
    family_names: str
    date_of_birth: date
    document_number: str | None
    phone: str | None


class AuditRowOut(BaseModel):
    seq: int
    at: datetime
    action: str
    outcome: str
    reason: str | None
    actor_subject: str
    actor_roles: str
    actor_agency: str | None
    actor_centre: str | None
    case_id: UUID | None
    returnee_id: UUID | None
    referral_id: UUID | None
    fields: list[str]
    purpose: str
    prev_hash: str
    hash: str


class LookedOut(BaseModel):
    """One access to the person's data, as the person sees it."""

    at: datetime
    action: str
    outcome: str
    by_role: str
    by_agency: str | None
    by_centre: str | None
    fields: list[str]
    purpose: str
    case_id: UUID | None


class AccessReportOut(BaseModel):
    """Who looked at the person's data, newest first (the person's own access report)."""

    case_id: UUID
    returnee_id: UUID
    cases: list[UUID]
    accesses: list[LookedOut]


def _row_out(r: AuditRow) -> AuditRowOut:
    return AuditRowOut.model_validate(r, from_attributes=True)


# -- routes --------------------------------------------------------------------------------------------


def router(
    bus: MessageBus[ReceptionUnitOfWork],
    uow: Callable[[], ReceptionUnitOfWork],
    clock: Clock,
) -> APIRouter:
    """The routes; every one asks for the access decision (``CurrentAccess``), so that without the
    policy's dependency installed (the kit's app factory installs it) they fail instead of answering
    anyone."""
    api = APIRouter(prefix="/v1", tags=["consent and personal data"])

    async def answer(case_id: UUID) -> ConsentOut:
        async with uow() as u:
            view: ConsentView = await consent_of_case(case_id, u, clock)
        return consent_out(view.case_id, view.returnee_id, view.consent, view.at)

    def written(result: Audited[CaseConsent]) -> ConsentOut:
        """The answer to a change: the consents as the command just saved them (not read again)."""
        consent = result.unwrap()
        return consent_out(consent.case_id, consent.returnee_id, consent, clock.now())

    @api.post(
        "/cases/{case_id}/consent",
        status_code=status.HTTP_201_CREATED,
        response_model=ConsentOut,
        summary="Record the person's consent (consent_recorded)",
        responses=problems(403, 404, 409),
    )
    async def post_consent(case_id: UUID, body: ConsentIn, access: CurrentAccess) -> ConsentOut:
        result: Audited[CaseConsent] = await bus.handle(
            RecordConsent(
                case_id=case_id,
                given_by=body.given_by,
                method=body.method,
                scopes=tuple(s.to_scope() for s in body.scopes),
                actor=actor_of(access),
                information_language=body.information_language,
                valid_until=body.valid_until.astimezone(UTC) if body.valid_until else None,
                child_view=body.child_view,
                child_view_note=body.child_view_note,
            )
        )
        return written(result)

    @api.post(
        "/cases/{case_id}/consent/withdrawal",
        response_model=ConsentOut,
        summary="Withdraw consent, whole or per purpose (consent_withdrawn)",
        responses=problems(403, 404, 409),
    )
    async def post_withdrawal(case_id: UUID, body: WithdrawalIn, access: CurrentAccess) -> ConsentOut:
        result: Audited[CaseConsent] = await bus.handle(
            WithdrawConsent(
                case_id=case_id,
                withdrawn_by=body.withdrawn_by,
                actor=actor_of(access),
                consent_id=body.consent_id,
                purposes=frozenset(body.purposes),
            )
        )
        return written(result)

    @api.post(
        "/cases/{case_id}/consent/override",
        status_code=status.HTTP_201_CREATED,
        response_model=ConsentOut,
        summary="Record a vital-interest override (mental-health professional or protection officer)",
        responses=problems(403, 404, 409),
    )
    async def post_override(case_id: UUID, body: OverrideIn, access: CurrentAccess) -> ConsentOut:
        result: Audited[CaseConsent] = await bus.handle(
            RecordOverride(
                case_id=case_id,
                justification=body.justification,
                note=body.note,
                scopes=tuple(s.to_scope() for s in body.scopes),
                valid_until=body.valid_until.astimezone(UTC),
                actor=actor_of(access),
            )
        )
        return written(result)

    @api.get(
        "/cases/{case_id}/consent",
        response_model=ConsentOut,
        summary="A case's consent: what it allows now, each consent, the history",
        responses=problems(404),
    )
    async def get_consent(case_id: UUID, access: CurrentAccess) -> ConsentOut:
        return await answer(case_id)

    @api.get(
        "/consent-overrides",
        response_model=list[OverrideOut],
        summary="Vital-interest overrides, newest first (auditors; notes only on request, audited)",
    )
    async def list_overrides(
        access: CurrentAccess,
        include_notes: Annotated[bool, Query(description="Show the professionals' notes (audited).")] = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[OverrideOut]:
        found: OverrideList = await bus.handle(ListOverrides(actor_of(access), limit, offset, include_notes))
        return [
            OverrideOut(
                case_id=case_id,
                returnee_id=returnee_id,
                consent_id=r.consent_id,
                justification=r.justification,
                status=r.status(found.at),
                scopes=[ScopeOut(**_scope_out(s)) for s in r.scopes],
                recorded_at=r.recorded_at,
                valid_until=r.valid_until,
                recorded_by_role=r.recorded_by.role,
                recorded_by_subject=r.recorded_by.subject,
                recorded_by_agency=r.recorded_by.agency,
                recorded_by_centre=r.recorded_by.centre,
                withdrawn_at=r.withdrawn_at,
                note=r.justification_note if include_notes else None,
            )
            for case_id, returnee_id, r in found.rows
        ]

    @api.post(
        "/contact-lookups",
        response_model=ContactOut,
        summary="Resolve a referral's contact reference into the person's name and phone (agencies; audited)",
        responses=problems(
            403,
            404,
            410,
            _403="Not your agency's reference, or the person's consent does not allow contact by your agency",
            _404="No such contact reference",
            _410="The reference expired, its referral is no longer active, or it was revoked",
        ),
    )
    async def post_lookup(body: LookupIn, access: CurrentAccess) -> ContactOut:
        result: Audited[ContactDetails] = await bus.handle(
            LookUpContact(body.contact_reference, actor_of(access))
        )
        found = result.unwrap()
        return ContactOut(
            referral_id=found.referral_id,
            given_names=found.given_names,
            family_names=found.family_names,
            phone=found.phone,
            reference_expires_at=found.expires_at,
        )

    @api.get(
        "/cases/{case_id}/personal-data",
        response_model=PersonalDataOut,
        summary="The person's personal data, read for a stated purpose (audited)",
        responses=problems(404, 410),
    )
    async def get_personal_data(
        case_id: UUID,
        access: CurrentAccess,
        purpose: Annotated[
            PersonalDataPurpose, Query(description="Why you read it (written to the audit log).")
        ],
    ) -> PersonalDataOut:
        result: Audited[PersonalDataView] = await bus.handle(
            ReadPersonalData(case_id, purpose, actor_of(access))
        )
        view = result.unwrap()
        return PersonalDataOut(
            case_id=view.case_id,
            returnee_id=view.returnee_id,
            given_names=view.person.given_names,
            family_names=view.person.family_names,
            date_of_birth=view.person.date_of_birth,
            document_number=view.person.document_number,
            phone=view.person.phone,
        )

    @api.get(
        "/cases/{case_id}/access-report",
        response_model=AccessReportOut,
        summary="Who looked at the person's data (their own access report)",
        responses=problems(404),
    )
    async def get_access_report(case_id: UUID, access: CurrentAccess, limit: Limit = 500) -> AccessReportOut:
        report: AccessReportView = await bus.handle(AccessReport(case_id, actor_of(access), limit))
        return AccessReportOut(
            case_id=report.case_id,
            returnee_id=report.returnee_id,
            cases=report.case_ids,
            accesses=[
                LookedOut(
                    at=r.at,
                    action=r.action,
                    outcome=r.outcome,
                    by_role=r.actor_roles,
                    by_agency=r.actor_agency,
                    by_centre=r.actor_centre,
                    fields=r.fields,
                    purpose=r.purpose,
                    case_id=r.case_id,
                )
                for r in report.rows
            ],
        )

    @api.get("/audit-log", response_model=list[AuditRowOut], summary="The audit log, newest first (auditors)")
    async def get_audit_log(
        access: CurrentAccess,
        case_id: Annotated[UUID | None, Query(description="Only rows about this case.")] = None,
        action: Annotated[AuditAction | None, Query()] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[AuditRowOut]:
        async with uow() as u:
            rows = await u.audit.page(
                limit, offset, case_ids=[case_id] if case_id else [], action=action.value if action else None
            )
        return [_row_out(r) for r in rows]

    return api
