"""Referral's HTTP API: requests → commands → ``bus.handle``; views for reads (no personal data).

Three audiences, three routers: case workers and the coordinating office (referrals, the unmatched
queue, escalations), the directory manager (the service directory), and agencies without a Kafka
consumer (the partner inbox and commands). Who an agency is comes from one seam, :func:`current_agency`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool
from reintegra_contracts.codelists import (
    FHIR_TASK_STATUS,
    AgeGroup,
    CancellationReason,
    Dimension,
    FailureReason,
    Level,
    MatchReason,
    NeedOutcome,
    Priority,
    ReferralStatus,
    RejectionReason,
    ServiceCategory,
    Sex,
    UnmatchedReason,
    Vulnerability,
)
from reintegra_contracts.topics import is_agency_code
from reintegra_kit.auth import CurrentAccess, RecordScope, RecordScopeFunction
from reintegra_kit.clock import Clock
from reintegra_kit.domain import DomainError, ForbiddenError, NotFoundError
from reintegra_kit.handlers import MessageBus
from reintegra_kit.runtime.http import problems

from .directory_io import (
    AgencyIn,
    DirectoryDocument,
    ServiceIn,
    agencies_csv,
    agency_dict,
    parse_agencies_csv,
    parse_document,
    parse_services_csv,
    service_dict,
    services_csv,
)
from .domain import Agency, Channel, DirectoryService, Referral
from .domain.commands import (
    Action,
    AnswerReferral,
    AssignReferral,
    CancelReferral,
    ImportDirectory,
    PutAgency,
    PutService,
    RemoveAgency,
    RemoveService,
    SetWebhook,
)
from .handlers import DirectoryImportError, _DryRun
from .repository import ReferralUnitOfWork

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
Since = Annotated[
    int, Query(ge=0, le=2**62, description="Cursor: only what came after it (0 = from the start).")
]


class AgencyNotIdentifiedError(DomainError):
    """The caller's token does not say which agency it speaks for."""

    http_status = 403
    title = "Not allowed"
    code = "agency-not-identified"


async def current_agency(access: CurrentAccess) -> str:
    """The agency calling the partner API — **the one seam** that says who an agency is over HTTP: the
    agency claim of its verified token (the kit's Authorizer has checked it; the policy grants the
    partner routes only on the caller's own agency). Nothing on Kafka ever uses it: there the agency
    is the owner of the topic a command arrived on."""
    agency = access.principal.agency
    if not agency or not is_agency_code(agency):
        raise AgencyNotIdentifiedError(f"the token names no agency (or {agency!r} is not an agency code)")
    return agency


async def directory_manager(access: CurrentAccess) -> str:
    """Who changes the directory: the token's subject (the policy allows only directory managers)."""
    return access.principal.subject


CallingAgency = Annotated[str, Depends(current_agency)]
Manager = Annotated[str, Depends(directory_manager)]


# -- views -------------------------------------------------------------------------------------------


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    action: str
    actor: str
    channel: str
    detail: str


class CandidateOut(BaseModel):
    """A service considered for the need, and why it was ranked or left out."""

    model_config = ConfigDict(from_attributes=True)

    service_id: str
    agency_id: str
    eligible: bool
    reasons: list[MatchReason]
    coverage: str | None
    response_time_hours: float | None
    load: float | None = Field(description="Share of the weekly capacity already used, if limited.")
    rank: int | None


class ReferralOut(BaseModel):
    """A referral as the API shows it (no personal data)."""

    model_config = ConfigDict(from_attributes=True)

    referral_id: UUID
    case_id: UUID
    assessment_id: UUID
    need_id: UUID
    category: ServiceCategory
    dimension: Dimension
    level: Level
    priority: Priority
    status: ReferralStatus
    fhir_status: str = Field(description="HL7 FHIR Task.status of the status.")
    service_id: str | None
    agency_id: str | None
    requested_at: datetime
    respond_by: datetime | None
    attempt: int
    previous_referral_id: UUID | None
    unmatched_reason: UnmatchedReason | None
    overdue_at: datetime | None
    consent_id: UUID | None = Field(
        default=None, description="The consent it was shared under (none under a vital-interest override)."
    )

    @classmethod
    def of(cls, r: Referral) -> ReferralOut:
        return cls.model_validate({**_fields(r), "fhir_status": FHIR_TASK_STATUS[r.status]})


def _fields(r: Referral) -> dict[str, Any]:
    return {k: v for k, v in vars(r).items() if not k.startswith("_")}


class ReferralDetail(ReferralOut):
    """A referral with its explanation (candidates and reasons) and history."""

    match_reasons: list[MatchReason]
    candidates: list[CandidateOut]
    cancel_reason: CancellationReason | None
    reject_reason: RejectionReason | None
    fail_reason: FailureReason | None
    outcome: NeedOutcome | None
    deliveries: list[UUID]
    history: list[HistoryOut]


class UnmatchedOut(BaseModel):
    count: int = Field(description="How many needs wait in the unmatched queue.")
    items: list[ReferralOut]


class AwaitingConsentOut(BaseModel):
    count: int = Field(description="How many referrals wait for a consent covering their agency.")
    items: list[ReferralOut]


class EscalationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    referral_id: UUID
    case_id: UUID
    agency_id: str
    escalated_to: str | None
    escalated_at: datetime
    reroute_at: datetime | None
    status: str
    resolved_at: datetime | None
    resolution: str | None


class CancellationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CancellationReason


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service_id: str = Field(min_length=2, max_length=50)
    note: str = Field(default="", max_length=300, description="Why (no personal data).")


class AgencyOut(AgencyIn):
    agency_id: str
    webhook: bool = Field(description="Whether partner messages are pushed to a webhook.")


class ServiceOut(ServiceIn):
    service_id: str


def _agency_out(a: Agency) -> AgencyOut:
    return AgencyOut.model_validate({**agency_dict(a.facts), "webhook": a.webhook_url is not None})


def _service_out(s: DirectoryService) -> ServiceOut:
    return ServiceOut.model_validate(service_dict(s.facts))


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://\S+$", max_length=500)
    secret: str = Field(min_length=16, max_length=200, description="Shared secret for the HMAC signature.")


class ImportReport(BaseModel):
    agencies_created: int
    agencies_changed: int
    services_created: int
    services_changed: int
    unchanged: int
    dry_run: bool


class PartnerReferralOut(BaseModel):
    """A referral as its agency sees it: the minimised view it was sent, and where it stands."""

    cursor: int = Field(description="Pass as since= to get only what changed after this one.")
    status: ReferralStatus
    fhir_status: str
    view: dict[str, Any] = Field(
        description="The partner view (org.reintegra.partner.referral_requested.v1 data)."
    )


class PartnerInboxOut(BaseModel):
    items: list[PartnerReferralOut]
    next_since: int


class PartnerMessagesOut(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="CloudEvents (structured mode), as on the agency's topic."
    )
    next_since: int


class DeliveryErrorOut(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None


class ReconciliationOut(BaseModel):
    agency_id: str
    sent: int
    received: int
    answered: int
    overdue: int
    rerouted: int
    awaiting_answer: int
    webhook_pending: int
    webhook_delivered: int
    webhook_attempts: int
    last_delivery_error: DeliveryErrorOut | None
    last_cursor: int


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delivery_id: int
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


# -- commands from agencies over HTTP -----------------------------------------------------------------


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received_at: AwareDatetime | None = None


class AcceptanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted_at: AwareDatetime | None = None
    deliver_by: AwareDatetime | None = None
    contact_point: str | None = Field(
        default=None, max_length=64, description="A desk or role, never a name."
    )


class RejectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RejectionReason
    rejected_at: AwareDatetime | None = None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: AwareDatetime | None = None


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_id: UUID = Field(description="Chosen by the agency; the same id twice records one delivery.")
    delivered_at: AwareDatetime | None = None
    final: StrictBool = False
    outcome: NeedOutcome | None = None


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: NeedOutcome
    completed_at: AwareDatetime | None = None


class FailureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FailureReason
    failed_at: AwareDatetime | None = None


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        description="Chosen by the agency per command; repeating a command with the same key changes nothing.",
    ),
]


def router(
    bus: MessageBus[ReferralUnitOfWork], uow: Callable[[], ReferralUnitOfWork], clock: Clock
) -> APIRouter:
    # Each part carries the /v1 prefix itself: a route's template (request.scope["route"].path, what
    # the access policy is keyed by) is the route's own path, without the prefixes of routers that
    # include it.
    api = APIRouter()
    api.include_router(_referrals(bus, uow))
    api.include_router(_directory(bus, uow))
    api.include_router(_partner(bus, uow, clock))
    return api


def _referrals(bus: MessageBus[ReferralUnitOfWork], uow: Callable[[], ReferralUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["referrals"])

    @api.get("/referrals", response_model=list[ReferralOut], summary="Referrals, by case or status")
    async def list_referrals(
        access: CurrentAccess,
        case_id: UUID | None = None,
        status: ReferralStatus | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[ReferralOut]:
        async with uow() as u:
            found = (
                await u.referrals.for_case(case_id, access.filter)
                if case_id
                else await u.referrals.page(status, limit, offset, access.filter)
            )
        return [ReferralOut.of(r) for r in found if status is None or r.status is status]

    @api.get(
        "/referrals/{referral_id}",
        response_model=ReferralDetail,
        summary="One referral: candidates, reasons, history",
        responses=problems(404),
    )
    async def get_referral(referral_id: UUID) -> ReferralDetail:
        async with uow() as u:
            r = await u.referrals.get(referral_id)
            if r is None:
                raise NotFoundError(f"referral {referral_id} not found")
            history = await u.referrals.history(referral_id)
        data = {
            **_fields(r),
            "fhir_status": FHIR_TASK_STATUS[r.status],
            "candidates": [c.as_dict() for c in r.candidates],
            "history": [HistoryOut.model_validate(h) for h in history],
            "deliveries": list(r.deliveries),
        }
        return ReferralDetail.model_validate(data)

    @api.post(
        "/referrals/{referral_id}/cancellation",
        response_model=ReferralOut,
        summary="Cancel a referral",
        responses=problems(404, 409),
    )
    async def cancel(referral_id: UUID, body: CancellationIn) -> ReferralOut:
        return ReferralOut.of(await bus.handle(CancelReferral(referral_id, body.reason)))

    @api.post(
        "/referrals/{referral_id}/assignment",
        response_model=ReferralOut,
        summary="Send an unmatched need to a service chosen by the coordinating office",
        responses=problems(404, 409),
    )
    async def assign(referral_id: UUID, body: AssignmentIn) -> ReferralOut:
        return ReferralOut.of(await bus.handle(AssignReferral(referral_id, body.service_id, body.note)))

    @api.get(
        "/unmatched", response_model=UnmatchedOut, summary="The unmatched queue: needs no service could take"
    )
    async def unmatched(access: CurrentAccess, limit: Limit = 100, offset: Offset = 0) -> UnmatchedOut:
        async with uow() as u:
            count = await u.referrals.count(ReferralStatus.UNMATCHED, access.filter)
            items = await u.referrals.page(ReferralStatus.UNMATCHED, limit, offset, access.filter)
        return UnmatchedOut(count=count, items=[ReferralOut.of(r) for r in items])

    @api.get(
        "/awaiting-consent",
        response_model=AwaitingConsentOut,
        summary="Referrals held until a consent (or vital-interest override) covers their agency",
    )
    async def awaiting_consent(
        access: CurrentAccess, limit: Limit = 100, offset: Offset = 0
    ) -> AwaitingConsentOut:
        async with uow() as u:
            count = await u.referrals.count(ReferralStatus.AWAITING_CONSENT, access.filter)
            items = await u.referrals.page(ReferralStatus.AWAITING_CONSENT, limit, offset, access.filter)
        return AwaitingConsentOut(count=count, items=[ReferralOut.of(r) for r in items])

    @api.get(
        "/escalations",
        response_model=list[EscalationOut],
        summary="The coordinating office's queue of overdue referrals",
    )
    async def list_escalations(
        access: CurrentAccess,
        status: Annotated[str | None, Query(pattern="^(open|resolved)$")] = "open",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[EscalationOut]:
        async with uow() as u:
            rows = await u.partner.escalations(
                status=status, limit=limit, offset=offset, visible_to=access.filter
            )
        return [EscalationOut.model_validate(r) for r in rows]

    return api


def _directory(bus: MessageBus[ReferralUnitOfWork], uow: Callable[[], ReferralUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["directory"])

    @api.get("/directory/agencies", response_model=list[AgencyOut], summary="Agencies of the directory")
    async def list_agencies(
        country: Annotated[str | None, Query(pattern="^[A-Z]{2}$")] = None,
    ) -> list[AgencyOut]:
        async with uow() as u:
            return [_agency_out(a) for a in await u.directory.agencies(country=country)]

    @api.get(
        "/directory/agencies/{agency_id}",
        response_model=AgencyOut,
        responses=problems(404),
        summary="One agency",
    )
    async def get_agency(agency_id: str) -> AgencyOut:
        async with uow() as u:
            agency = await u.directory.agency(agency_id)
        if agency is None or agency.removed:
            raise NotFoundError(f"agency {agency_id} is not in the directory")
        return _agency_out(agency)

    @api.put(
        "/directory/agencies/{agency_id}",
        response_model=AgencyOut,
        summary="Add or change an agency",
        responses={201: {"model": AgencyOut, "description": "Added"}, **problems(404)},
    )
    async def put_agency(agency_id: str, body: AgencyIn, response: Response, _: Manager) -> AgencyOut:
        agency: Agency = await bus.handle(PutAgency(body.facts(agency_id)))
        if agency.version == 1:
            response.status_code = status.HTTP_201_CREATED
        return _agency_out(agency)

    @api.delete(
        "/directory/agencies/{agency_id}",
        status_code=204,
        summary="Remove an agency and its services",
        responses=problems(404),
    )
    async def delete_agency(agency_id: str, _: Manager) -> Response:
        await bus.handle(RemoveAgency(agency_id))
        return Response(status_code=204)

    @api.put(
        "/directory/agencies/{agency_id}/webhook",
        status_code=204,
        responses=problems(404),
        summary="Push this agency's partner messages to a URL, signed with a shared secret",
    )
    async def put_webhook(agency_id: str, body: WebhookIn, _: Manager) -> Response:
        await bus.handle(SetWebhook(agency_id, body.url, body.secret))
        return Response(status_code=204)

    @api.delete(
        "/directory/agencies/{agency_id}/webhook",
        status_code=204,
        responses=problems(404),
        summary="Stop pushing",
    )
    async def delete_webhook(agency_id: str, _: Manager) -> Response:
        await bus.handle(SetWebhook(agency_id, None, None))
        return Response(status_code=204)

    @api.get(
        "/directory/services", response_model=list[ServiceOut], summary="Search the directory's services"
    )
    async def search_services(
        municipality: Annotated[
            str | None, Query(pattern=r"^[A-Z]{2}-\d{4}$", description="Covered municipality.")
        ] = None,
        category: ServiceCategory | None = None,
        country: Annotated[str | None, Query(pattern="^[A-Z]{2}$")] = None,
        agency_id: str | None = None,
        age: Annotated[int | None, Query(ge=0, le=120, description="Eligible at this age.")] = None,
        sex: Sex | None = None,
        group: Vulnerability | None = None,
        active: bool | None = None,
    ) -> list[ServiceOut]:
        async with uow() as u:
            services = await u.directory.services(category=category, agency_id=agency_id, country=country)
        found = []
        for s in services:
            f = s.facts
            if municipality and f.covers(municipality) is None:
                continue
            if age is not None and (
                (f.min_age is not None and age < f.min_age) or (f.max_age is not None and age > f.max_age)
            ):
                continue
            if sex is not None and f.sexes and sex not in f.sexes:
                continue
            if group is not None and f.groups and group not in f.groups:
                continue
            if active is not None and f.active is not active:
                continue
            found.append(_service_out(s))
        return found

    @api.get(
        "/directory/services/{service_id}",
        response_model=ServiceOut,
        responses=problems(404),
        summary="One service",
    )
    async def get_service(service_id: str) -> ServiceOut:
        async with uow() as u:
            service = await u.directory.service(service_id)
        if service is None or service.removed:
            raise NotFoundError(f"service {service_id} is not in the directory")
        return _service_out(service)

    @api.put(
        "/directory/services/{service_id}",
        response_model=ServiceOut,
        summary="Add or change a service",
        responses={201: {"model": ServiceOut, "description": "Added"}, **problems(404, 409)},
    )
    async def put_service(service_id: str, body: ServiceIn, response: Response, _: Manager) -> ServiceOut:
        service: DirectoryService = await bus.handle(PutService(body.facts(service_id)))
        if service.version == 1:
            response.status_code = status.HTTP_201_CREATED
        return _service_out(service)

    @api.delete(
        "/directory/services/{service_id}",
        status_code=204,
        responses=problems(404),
        summary="Remove a service",
    )
    async def delete_service(service_id: str, _: Manager) -> Response:
        await bus.handle(RemoveService(service_id))
        return Response(status_code=204)

    @api.get(
        "/services",
        response_model=list[ServiceOut],
        summary="The directory's services (all)",
        deprecated=True,
    )
    async def list_services() -> list[ServiceOut]:
        async with uow() as u:
            return [_service_out(s) for s in await u.directory.services()]

    @api.get("/directory/export", summary="The whole directory as JSON (the import and file format)")
    async def export_json() -> dict[str, Any]:
        async with uow() as u:
            agencies = await u.directory.agencies()
            services = await u.directory.services()
        return {
            "agencies": [agency_dict(a.facts) for a in agencies],
            "services": [service_dict(s.facts) for s in services],
        }

    @api.get(
        "/directory/export/agencies.csv",
        summary="The agencies as CSV",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def export_agencies_csv() -> Response:
        async with uow() as u:
            agencies = await u.directory.agencies()
        return Response(agencies_csv(a.facts for a in agencies), media_type="text/csv")

    @api.get(
        "/directory/export/services.csv",
        summary="The services as CSV",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def export_services_csv() -> Response:
        async with uow() as u:
            services = await u.directory.services()
        return Response(services_csv(s.facts for s in services), media_type="text/csv")

    async def run_import(command: ImportDirectory) -> ImportReport:
        try:
            counts = await bus.handle(command)
        except _DryRun as dry:
            counts = dry.counts
        return ImportReport(**counts, dry_run=command.dry_run)

    @api.post(
        "/directory/import",
        response_model=ImportReport,
        responses=problems(422),
        summary="Add or change many agencies and services (JSON); every bad row named, nothing imported half-way",
    )
    async def import_json(body: DirectoryDocument, _: Manager, dry_run: bool = False) -> ImportReport:
        agencies, services, errors = parse_document(body.model_dump())
        if errors:
            raise DirectoryImportError(errors)
        return await run_import(ImportDirectory(tuple(agencies), tuple(services), dry_run=dry_run))

    @api.post(
        "/directory/import/agencies.csv",
        response_model=ImportReport,
        responses=problems(422),
        summary="Add or change agencies from CSV (the export's columns)",
    )
    async def import_agencies_csv(
        _: Manager, body: Annotated[str, Body(media_type="text/csv", min_length=1)], dry_run: bool = False
    ) -> ImportReport:
        agencies, errors = parse_agencies_csv(body)
        if errors:
            raise DirectoryImportError(errors)
        return await run_import(ImportDirectory(tuple(agencies), (), dry_run=dry_run))

    @api.post(
        "/directory/import/services.csv",
        response_model=ImportReport,
        responses=problems(422),
        summary="Add or change services from CSV (the export's columns)",
    )
    async def import_services_csv(
        _: Manager, body: Annotated[str, Body(media_type="text/csv", min_length=1)], dry_run: bool = False
    ) -> ImportReport:
        services, errors = parse_services_csv(body)
        if errors:
            raise DirectoryImportError(errors)
        return await run_import(ImportDirectory((), tuple(services), dry_run=dry_run))

    return api


def _partner(
    bus: MessageBus[ReferralUnitOfWork], uow: Callable[[], ReferralUnitOfWork], clock: Clock
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["partner"])

    @api.get(
        "/partner/referrals",
        response_model=PartnerInboxOut,
        responses=problems(401),
        summary="The calling agency's inbox: referrals sent to it that changed after `since`",
    )
    async def inbox(
        agency: CallingAgency, status: ReferralStatus | None = None, since: Since = 0, limit: Limit = 100
    ) -> PartnerInboxOut:
        async with uow() as u:
            rows = await u.referrals.inbox(agency, since=since, status=status, limit=limit)
            views = await u.partner.views([r.referral_id for _, r in rows])
        items = [
            PartnerReferralOut(
                cursor=c,
                status=r.status,
                fhir_status=FHIR_TASK_STATUS[r.status],
                view=views.get(r.referral_id, {}),
            )
            for c, r in rows
        ]
        return PartnerInboxOut(items=items, next_since=items[-1].cursor if items else since)

    @api.get(
        "/partner/referrals/{referral_id}",
        response_model=PartnerReferralOut,
        responses=problems(401, 403, 404),
        summary="One referral sent to the calling agency",
    )
    async def partner_referral(referral_id: UUID, agency: CallingAgency) -> PartnerReferralOut:
        async with uow() as u:
            r = await u.referrals.get(referral_id)
            if r is None:
                raise NotFoundError(f"referral {referral_id} not found")
            if r.agency_id != agency:
                raise ForbiddenError(f"referral {referral_id} was not sent to agency {agency}")
            views = await u.partner.views([referral_id])
            cursor = await u.partner.cursor_of(referral_id)
        return PartnerReferralOut(
            cursor=cursor,
            status=r.status,
            fhir_status=FHIR_TASK_STATUS[r.status],
            view=views.get(referral_id, {}),
        )

    @api.get(
        "/partner/messages",
        response_model=PartnerMessagesOut,
        responses=problems(401),
        summary="Every message sent to the calling agency after `since` (its topic, over HTTP: replay from any cursor)",
    )
    async def messages(agency: CallingAgency, since: Since = 0, limit: Limit = 100) -> PartnerMessagesOut:
        async with uow() as u:
            found = await u.partner.messages(agency, since=since, limit=limit)
        return PartnerMessagesOut(
            items=[{**json.loads(m.payload), "cursor": m.seq} for m in found],
            next_since=found[-1].seq if found else since,
        )

    @api.get(
        "/partner/agencies/{agency_id}/status",
        response_model=ReconciliationOut,
        responses=problems(404),
        summary="Reconciliation: what was sent to an agency, what became of it, the last delivery error",
    )
    async def reconciliation(agency_id: str) -> ReconciliationOut:
        async with uow() as u:
            if await u.directory.agency(agency_id) is None:
                raise NotFoundError(f"agency {agency_id} is not in the directory")
            counts = await u.referrals.reconciliation(agency_id)
            hooks = await u.partner.webhook_status(agency_id)
        return ReconciliationOut(agency_id=agency_id, **counts, **hooks)

    @api.get(
        "/partner/agencies/{agency_id}/webhook-attempts",
        response_model=list[AttemptOut],
        responses=problems(404),
        summary="Every webhook attempt made for an agency (time, status, error)",
    )
    async def attempts(agency_id: str) -> list[AttemptOut]:
        async with uow() as u:
            if await u.directory.agency(agency_id) is None:
                raise NotFoundError(f"agency {agency_id} is not in the directory")
            return [AttemptOut.model_validate(a) for a in await u.partner.attempts_of(agency_id)]

    def command(
        agency: str,
        referral_id: UUID,
        action: Action,
        key: str,
        body: BaseModel,
        request: Request,
        **fields: Any,
    ) -> AnswerReferral:
        digest = hashlib.sha256(f"{action.value}:{referral_id}:{body.model_dump_json()}".encode()).hexdigest()
        return AnswerReferral(
            agency_id=agency,
            referral_id=referral_id,
            action=action,
            at=fields.pop("at", None) or clock.now(),
            channel=Channel.HTTP,
            command_type=f"http:{request.method} {request.url.path}",
            command_id=key,
            idempotency_key=key,
            request_hash=digest,
            **fields,
        )

    answered: dict[str, Any] = {
        "response_model": PartnerReferralOut,
        "responses": problems(401, 403, 404, 409),
    }

    async def handled(cmd: AnswerReferral) -> PartnerReferralOut:
        r: Referral = await bus.handle(cmd)
        async with uow() as u:
            views = await u.partner.views([r.referral_id])
            cursor = await u.partner.cursor_of(r.referral_id)
        return PartnerReferralOut(
            cursor=cursor,
            status=r.status,
            fhir_status=FHIR_TASK_STATUS[r.status],
            view=views.get(r.referral_id, {}),
        )

    @api.post("/partner/referrals/{referral_id}/receipt", summary="Confirm receipt", **answered)
    async def receipt(
        referral_id: UUID, body: ReceiptIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(agency, referral_id, Action.RECEIVE, key, body, request, at=body.received_at)
        )

    @api.post("/partner/referrals/{referral_id}/acceptance", summary="Accept", **answered)
    async def acceptance(
        referral_id: UUID, body: AcceptanceIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(
                agency,
                referral_id,
                Action.ACCEPT,
                key,
                body,
                request,
                at=body.accepted_at,
                deliver_by=body.deliver_by,
                contact_point=body.contact_point,
            )
        )

    @api.post("/partner/referrals/{referral_id}/rejection", summary="Reject, with a reason", **answered)
    async def rejection(
        referral_id: UUID, body: RejectionIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(
                agency,
                referral_id,
                Action.REJECT,
                key,
                body,
                request,
                at=body.rejected_at,
                rejection_reason=body.reason,
            )
        )

    @api.post("/partner/referrals/{referral_id}/start", summary="Start serving", **answered)
    async def start(
        referral_id: UUID, body: StartIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(agency, referral_id, Action.START, key, body, request, at=body.started_at)
        )

    @api.post("/partner/referrals/{referral_id}/deliveries", summary="Record a service delivery", **answered)
    async def delivery(
        referral_id: UUID, body: DeliveryIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(
                agency,
                referral_id,
                Action.DELIVER,
                key,
                body,
                request,
                at=body.delivered_at,
                delivery_id=body.delivery_id,
                final=body.final,
                outcome=body.outcome,
            )
        )

    @api.post(
        "/partner/referrals/{referral_id}/completion",
        summary="Complete, saying whether the need was met",
        **answered,
    )
    async def completion(
        referral_id: UUID, body: CompletionIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(
                agency,
                referral_id,
                Action.COMPLETE,
                key,
                body,
                request,
                at=body.completed_at,
                outcome=body.outcome,
            )
        )

    @api.post("/partner/referrals/{referral_id}/failure", summary="Declare failed, with a reason", **answered)
    async def failure(
        referral_id: UUID, body: FailureIn, agency: CallingAgency, key: IdempotencyKey, request: Request
    ) -> PartnerReferralOut:
        return await handled(
            command(
                agency,
                referral_id,
                Action.FAIL,
                key,
                body,
                request,
                at=body.failed_at,
                failure_reason=body.reason,
            )
        )

    return api


# Re-exported for the OpenAPI document's readers: the code lists used above.
def record_scope_of(uow: Callable[[], ReferralUnitOfWork]) -> RecordScopeFunction:
    """Referral's record-scope function: whose record a request touches — a referral (its case's
    centre and country, the agency it was sent to), an agency (itself, its country), a directory
    service (its agency, its country); for a create (PUT of a new agency or service), the body's.
    ``None``: a list, or a record that does not exist (the route answers 404)."""

    async def record_scope(request: Request) -> RecordScope | None:
        params = request.path_params
        async with uow().reading() as u:  # no transaction: one round trip per read
            if "referral_id" in params:
                try:
                    referral_id = UUID(str(params["referral_id"]))
                except ValueError:
                    return None
                r = await u.referrals.get(referral_id)
                if r is None:
                    return None
                case = await u.cases.scope(r.case_id)
                # an agency's record only once it was sent there (not while it waits for consent)
                sent = await u.partner.cursor_of(r.referral_id) > 0
                return RecordScope(
                    centre=case.centre, agency=r.agency_id if sent else None, country=case.country
                )
            if "agency_id" in params:
                agency = await u.directory.agency(str(params["agency_id"]))
                if agency is not None:
                    return RecordScope(agency=agency.agency_id, country=agency.facts.country)
                return await _body_scope(request, agency=str(params["agency_id"]))
            if "service_id" in params:
                service = await u.directory.service(str(params["service_id"]))
                if service is not None:
                    owner = await u.directory.agency(service.agency_id)
                    return RecordScope(
                        agency=service.agency_id, country=owner.facts.country if owner else None
                    )
                return await _body_scope(request)
        return None

    return record_scope


async def _body_scope(request: Request, agency: str | None = None) -> RecordScope | None:
    """A directory entry the request creates: the country (and agency) its JSON body names."""
    if request.method not in {"PUT", "POST"}:
        return None
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    country, owner = body.get("country"), body.get("agency_id", agency)
    return RecordScope(
        agency=owner if isinstance(owner, str) else None,
        country=country if isinstance(country, str) else None,
    )


__all__ = ["AgeGroup", "current_agency", "directory_manager", "record_scope_of", "router"]
