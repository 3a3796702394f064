"""Reception's HTTP API: translate the request into a command, hand it to the bus, show the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema
from reintegra_contracts.codelists import (
    AgeGroup,
    ConcernType,
    ImmediateAssistance,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)
from reintegra_kit.auth import CurrentAccess
from reintegra_kit.domain import DomainError, NotFoundError
from reintegra_kit.handlers import MessageBus
from reintegra_kit.runtime.http import FieldProblem, problems

from . import manifests
from .api_models import CODE, ArrivalIn, IsoDateTime, PersonIn
from .domain import (
    AnnouncedPersonIn,
    Announcement,
    AnnounceReturn,
    Case,
    DecideReview,
    Decision,
    DuplicateReview,
    Finding,
    PersonalData,
    ProvideAssistance,
    ReviewStatus,
    ScreenProtection,
)
from .handlers import ManifestReport
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]


class AssistanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    assistance_id: UUID
    provided_at: datetime
    items: list[ImmediateAssistance]
    provided_by: str | None


class ConcernOut(BaseModel):
    """A protection concern; ``urgency`` is its severity (``immediate`` = critical)."""

    model_config = ConfigDict(from_attributes=True)

    concern_id: UUID
    concern_type: ConcernType
    urgency: Urgency
    raised_at: datetime
    raised_by_role: StaffRole
    lead_agency: str | None
    service_category: ServiceCategory | None


class CaseOut(BaseModel):
    """A case as reception shows it (no personal data)."""

    model_config = ConfigDict(from_attributes=True)

    case_id: UUID
    returnee_id: UUID
    status: str
    merged_into: UUID | None
    travel_group_id: UUID | None
    travel_group_size: int | None
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
    previous_returns: int = Field(
        description="Earlier returns found by identity matching (data, not declared)."
    )
    declared_previous_returns: int = Field(description="Earlier returns the person or the manifest declared.")
    announcement_id: UUID | None
    announced_person_id: UUID | None
    registered_at: datetime


class EarlierReturn(BaseModel):
    case_id: UUID
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str


class ReviewRef(BaseModel):
    review_id: UUID
    status: ReviewStatus


class CaseDetail(CaseOut):
    """The case at reception: registration, assistance, screening, announcement, earlier returns."""

    assistance: list[AssistanceOut]
    concerns: list[ConcernOut]
    earlier_returns: list[EarlierReturn]
    reviews: list[ReviewRef]


class ManifestCase(BaseModel):
    line: int
    case_id: UUID
    created: bool = Field(description="False when the line was registered before (a re-sent manifest).")
    is_repeat_return: bool
    matching: str | None = Field(
        description="new, link (a repeat return) or review; none if registered before."
    )
    review_id: UUID | None
    announced_person_id: UUID | None


class ManifestOut(BaseModel):
    """What a manifest did: each good line's case, each bad line's problems (line, field, message)."""

    manifest_id: str
    dry_run: bool
    lines: int
    registered: int
    already_registered: int
    rejected_lines: int
    repeat_returns: int
    reviews: int
    cases: list[ManifestCase]
    errors: list[FieldProblem]


class AssistanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assistance: list[ImmediateAssistance] = Field(min_length=1, max_length=20)
    provided_at: IsoDateTime | None = Field(default=None, description="Default: now.")
    provided_by: str | None = Field(default=None, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


def _screenable(concern: ConcernType) -> ConcernType:
    if concern is ConcernType.UNDISCLOSED:
        raise ValueError("'undisclosed' is what the log says of a special-category concern, not a finding")
    return concern


SCREENABLE = [c.value for c in ConcernType if c is not ConcernType.UNDISCLOSED]

ScreenableConcern = Annotated[
    ConcernType,
    AfterValidator(_screenable),
    WithJsonSchema({"type": "string", "enum": SCREENABLE, "title": "Concern"}),
]
"""A kind of concern a screening can find: every ConcernType but ``undisclosed`` (it answered 500)."""


class FindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concern: ScreenableConcern
    urgency: Urgency | None = Field(default=None, description="Severity; default per concern (see README).")


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    findings: list[FindingIn] = Field(max_length=20, description="What the screening found; empty: nothing.")
    screened_by_role: StaffRole


class AnnouncedPersonBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reference: str | None = Field(default=None, max_length=100)
    person: PersonIn | None = Field(
        default=None, description="Names, date of birth, document: used to recognise the person; not kept."
    )
    age_group: AgeGroup | None = None
    sex: Sex | None = None
    family_group: str | None = Field(default=None, max_length=39)
    vulnerabilities: list[Vulnerability] = Field(default_factory=list, max_length=30)
    needs_medical_attention: StrictBool = False


class AnnouncementIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    announcement_id: UUID | None = Field(
        default=None, description="Default: a new id. Repeating one is idempotent."
    )
    announced_by: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
    expected_arrival_at: IsoDateTime
    port_of_entry: Annotated[str, Field(pattern=CODE)]
    reception_centre: Annotated[str, Field(pattern=CODE)] | None = None
    country_of_return: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    returned_from: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    return_type: ReturnType
    transport_mode: TransportMode
    transport_reference: str | None = Field(default=None, max_length=40)
    persons: list[AnnouncedPersonBody] = Field(min_length=1, max_length=500)

    def to_command(self) -> AnnounceReturn:
        announcement_id = self.announcement_id or uuid4()
        return AnnounceReturn(
            announcement_id=announcement_id,
            case_id=announcement_id,
            announced_by=self.announced_by,
            expected_arrival_at=self.expected_arrival_at.astimezone(UTC),
            port_of_entry=self.port_of_entry,
            reception_centre=self.reception_centre,
            country_of_return=self.country_of_return,
            returned_from=self.returned_from,
            return_type=self.return_type,
            transport_mode=self.transport_mode,
            transport_reference=self.transport_reference,
            persons=tuple(
                AnnouncedPersonIn(
                    reference=p.reference,
                    person=PersonalData(**p.person.model_dump()) if p.person else None,
                    age_group=p.age_group,
                    sex=p.sex,
                    family_group_ref=p.family_group,
                    vulnerabilities=frozenset(p.vulnerabilities),
                    needs_medical_attention=p.needs_medical_attention,
                )
                for p in self.persons
            ),
        )


_ANNOUNCEMENT_FIELDS = (
    "announcement_id", "case_id", "announced_by", "announced_at", "expected_arrival_at", "port_of_entry",
    "reception_centre", "country_of_return", "returned_from", "return_type", "transport_mode",
    "transport_reference",
)  # fmt: skip


class AnnouncedPersonOut(BaseModel):
    announced_person_id: UUID
    reference: str | None
    age_group: AgeGroup | None
    sex: Sex | None
    travel_group_id: UUID | None
    vulnerabilities: list[Vulnerability]
    needs_medical_attention: bool
    status: str = Field(description="arrived or not_arrived")
    case_id: UUID | None


class AnnouncementOut(BaseModel):
    """An announcement and who arrived: announced persons arrived or not, and arrivals unannounced."""

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
    persons_expected: int
    arrived: int
    not_arrived: int
    persons: list[AnnouncedPersonOut]
    unannounced_case_ids: list[UUID] = Field(
        description="Arrivals on this announcement that match nobody announced."
    )

    @classmethod
    def of(cls, a: Announcement, cases: list[Case]) -> AnnouncementOut:
        persons = [
            AnnouncedPersonOut(
                announced_person_id=p.announced_person_id,
                reference=p.reference,
                age_group=p.age_group,
                sex=p.sex,
                travel_group_id=p.travel_group_id,
                vulnerabilities=p.vulnerabilities,
                needs_medical_attention=p.needs_medical_attention,
                status="arrived" if p.case_id else "not_arrived",
                case_id=p.case_id,
            )
            for p in a.persons
        ]
        arrived = sum(1 for p in persons if p.case_id)
        return cls(
            **{k: getattr(a, k) for k in _ANNOUNCEMENT_FIELDS},
            persons_expected=len(persons),
            arrived=arrived,
            not_arrived=len(persons) - arrived,
            persons=persons,
            unannounced_case_ids=[c.case_id for c in cases if c.announced_person_id is None],
        )


class ReviewOut(BaseModel):
    """A possible duplicate, as a reviewer sees it here: how the two records compare, no personal data
    (the records themselves are read through the audited personal-data endpoint)."""

    model_config = ConfigDict(from_attributes=True)

    review_id: UUID
    status: ReviewStatus
    case_id: UUID
    returnee_id: UUID
    candidate_case_id: UUID
    candidate_returnee_id: UUID
    score: float
    comparison: dict[str, Any] = Field(
        description="basis, similarity of given names, family names and date of birth (0..1), document "
        "(same, different, missing) and caveats (why it was not linked automatically)"
    )
    detected_at: datetime
    decided_at: datetime | None
    decided_by_role: StaffRole | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    decided_by_role: StaffRole


def _manifest_out(report: ManifestReport) -> ManifestOut:
    cases = [
        ManifestCase(
            line=r.line or 0,
            case_id=r.case.case_id,
            created=r.created,
            is_repeat_return=r.case.is_repeat_return,
            matching=r.verdict.value if r.verdict else None,
            review_id=r.review_id,
            announced_person_id=r.case.announced_person_id,
        )
        for r in report.registered
    ]
    return ManifestOut(
        manifest_id=report.manifest_id,
        dry_run=report.dry_run,
        lines=report.good_lines + len({p.line for p in report.problems}),
        registered=sum(c.created for c in cases),
        already_registered=sum(not c.created for c in cases),
        rejected_lines=len({p.line for p in report.problems}),
        repeat_returns=sum(c.created and c.is_repeat_return for c in cases),
        reviews=sum(c.review_id is not None for c in cases),
        cases=cases,
        errors=[
            FieldProblem(field=p.field, message=p.message, type=p.type, line=p.line) for p in report.problems
        ],
    )


class ManifestLinesRejectedError(DomainError):
    """No line of the manifest could be registered."""

    code = "manifest-rejected"
    title = "No line of the manifest could be registered"


MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CSV file (text/csv, UTF-8, header row; see the reception README) or JSON "
        '{"manifest_id", "defaults": {...}, "people": [{...}]}.',
        "content": {
            "text/csv": {"schema": {"type": "string", "minLength": 1}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["people"],
                    "properties": {
                        "manifest_id": {"type": "string"},
                        "defaults": {"type": "object"},
                        "people": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
        },
    }
}

MAX_MANIFEST_BYTES = 20 * 1024 * 1024


def router(
    bus: MessageBus[ReceptionUnitOfWork], uow: Callable[[], ReceptionUnitOfWork], settings: ReceptionSettings
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reception"])

    @api.post(
        "/arrivals",
        status_code=status.HTTP_201_CREATED,
        response_model=CaseOut,
        summary="Register an arrival",
        responses={
            200: {"description": "Already registered (same manifest_ref)", "model": CaseOut},
            **problems(404),
        },
    )
    async def post_arrival(body: ArrivalIn, response: Response) -> CaseOut:
        case, created = await bus.handle(body.to_command())
        if not created:
            response.status_code = status.HTTP_200_OK
        return CaseOut.model_validate(case)

    @api.post(
        "/manifests",
        status_code=status.HTTP_201_CREATED,
        response_model=ManifestOut,
        summary="Register a flight or bus manifest (CSV or JSON)",
        responses={
            200: {"description": "Nothing new (re-sent, or a dry run)", "model": ManifestOut},
            **problems(404),
        },
        openapi_extra=MANIFEST_BODY,
    )
    async def post_manifest(
        request: Request,
        response: Response,
        manifest_id: Annotated[str | None, Query(max_length=60, description="Required for CSV.")] = None,
        all_or_nothing: Annotated[bool, Query(description="Register nobody if any line is bad.")] = False,
        dry_run: Annotated[bool, Query(description="Check every line; register nobody.")] = False,
        arrived_at: Annotated[str | None, Query(max_length=40)] = None,
        port_of_entry: Annotated[str | None, Query(max_length=50)] = None,
        reception_centre: Annotated[str | None, Query(max_length=50)] = None,
        country_of_return: Annotated[str | None, Query(max_length=2)] = None,
        returned_from: Annotated[str | None, Query(max_length=2)] = None,
        return_type: Annotated[str | None, Query(max_length=30)] = None,
        transport_mode: Annotated[str | None, Query(max_length=10)] = None,
        announcement_id: Annotated[UUID | None, Query()] = None,
    ) -> ManifestOut:
        defaults = {
            k: v
            for k, v in {
                "arrived_at": arrived_at,
                "port_of_entry": port_of_entry,
                "reception_centre": reception_centre,
                "country_of_return": country_of_return,
                "returned_from": returned_from,
                "return_type": return_type,
                "transport_mode": transport_mode,
                "announcement_id": str(announcement_id) if announcement_id else None,
            }.items()
            if v is not None
        }
        data = await request.body()
        if len(data) > MAX_MANIFEST_BYTES:
            raise manifests.ManifestFormatError(f"a manifest is at most {MAX_MANIFEST_BYTES} bytes")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                body = json.loads(data)
            except ValueError:
                raise manifests.ManifestFormatError("the body is not well-formed JSON") from None
            if not isinstance(body, dict) or not isinstance(body.get("people"), list):
                raise manifests.ManifestFormatError('a JSON manifest is an object with a "people" list')
            given = body.get("defaults") or {}
            if not isinstance(given, dict) or not all(isinstance(p, dict) for p in body["people"]):
                raise manifests.ManifestFormatError('"defaults" is an object and each of "people" an object')
            wanted_id = manifest_id or body.get("manifest_id")
            if not isinstance(wanted_id, str):
                raise manifests.ManifestFormatError("manifest_id is required (query parameter or JSON field)")
            cmd = manifests.from_json(
                body["people"],
                wanted_id,
                {manifests.column_name(k): v for k, v in given.items()} | defaults,
                all_or_nothing=all_or_nothing,
                dry_run=dry_run,
                max_rows=settings.manifest_max_rows,
            )
        elif kind in ("text/csv", "application/csv", "text/plain"):
            if manifest_id is None:
                raise manifests.ManifestFormatError("manifest_id is required for a CSV manifest")
            cmd = manifests.from_csv(
                data,
                manifest_id,
                defaults,
                all_or_nothing=all_or_nothing,
                dry_run=dry_run,
                max_rows=settings.manifest_max_rows,
            )
        else:
            raise manifests.ManifestFormatError(
                f"send text/csv or application/json, not {kind or 'nothing'!r}"
            )
        report: ManifestReport = await bus.handle(cmd)
        out = _manifest_out(report)
        if report.good_lines == 0 and out.errors:
            raise ManifestLinesRejectedError(
                f"all {out.rejected_lines} line(s) are bad", errors=[e.model_dump() for e in out.errors]
            )
        if out.registered == 0:
            response.status_code = status.HTTP_200_OK
        return out

    async def detail(u: ReceptionUnitOfWork, case_id: UUID) -> CaseDetail:
        case = await u.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        earlier = [
            EarlierReturn.model_validate(c, from_attributes=True)
            for c in await u.cases.for_returnee(case.returnee_id)
            if c.arrived_at < case.arrived_at and c.status.value == "registered" and c.case_id != case.case_id
        ]
        return CaseDetail.model_validate(
            {
                **CaseOut.model_validate(case).model_dump(),
                "assistance": [AssistanceOut.model_validate(a) for a in case.assistance],
                "concerns": [ConcernOut.model_validate(k) for k in case.concerns],
                "earlier_returns": earlier,
                "reviews": [
                    ReviewRef(review_id=r.review_id, status=r.status)
                    for r in await u.reviews.for_case(case_id)
                ],
            }
        )

    @api.get(
        "/cases/{case_id}",
        response_model=CaseDetail,
        summary="One case (no personal data)",
        responses=problems(404),
    )
    async def get_case(case_id: UUID) -> CaseDetail:
        async with uow() as u:
            return await detail(u, case_id)

    @api.get("/cases", response_model=list[CaseOut], summary="Cases, oldest first")
    async def list_cases(access: CurrentAccess, limit: Limit = 100, offset: Offset = 0) -> list[CaseOut]:
        async with uow() as u:
            return [CaseOut.model_validate(c) for c in await u.cases.page(limit, offset, access.filter)]

    @api.post(
        "/cases/{case_id}/assistance",
        status_code=status.HTTP_201_CREATED,
        response_model=CaseDetail,
        summary="Record immediate assistance given at the centre",
        responses=problems(404, 409),
    )
    async def post_assistance(case_id: UUID, body: AssistanceIn) -> CaseDetail:
        await bus.handle(
            ProvideAssistance(
                case_id=case_id,
                assistance=tuple(body.assistance),
                provided_at=body.provided_at.astimezone(UTC) if body.provided_at else None,
                provided_by=body.provided_by,
            )
        )
        async with uow() as u:
            return await detail(u, case_id)

    @api.post(
        "/cases/{case_id}/screening",
        response_model=CaseDetail,
        summary="Record the protection screening (each finding raises a concern once)",
        responses=problems(404, 409),
    )
    async def post_screening(case_id: UUID, body: ScreeningIn) -> CaseDetail:
        findings = tuple(Finding(f.concern, f.urgency) for f in body.findings)
        await bus.handle(ScreenProtection(case_id, findings, body.screened_by_role))
        async with uow() as u:
            return await detail(u, case_id)

    @api.post(
        "/announcements",
        status_code=status.HTTP_201_CREATED,
        response_model=AnnouncementOut,
        summary="Announce a return before it happens",
        responses={
            200: {"description": "Announced before (same id)", "model": AnnouncementOut},
            **problems(409),
        },
    )
    async def post_announcement(body: AnnouncementIn, response: Response) -> AnnouncementOut:
        announcement, created = await bus.handle(body.to_command())
        if not created:
            response.status_code = status.HTTP_200_OK
        async with uow() as u:
            return AnnouncementOut.of(
                announcement, await u.cases.for_announcement(announcement.announcement_id)
            )

    @api.get(
        "/announcements/{announcement_id}",
        response_model=AnnouncementOut,
        summary="An announcement: who arrived, who did not, who arrived unannounced",
        responses=problems(404),
    )
    async def get_announcement(announcement_id: UUID) -> AnnouncementOut:
        async with uow() as u:
            found = await u.announcements.get(announcement_id)
            if found is None:
                raise NotFoundError(f"announcement {announcement_id} not found")
            return AnnouncementOut.of(found, await u.cases.for_announcement(announcement_id))

    @api.get(
        "/announcements", response_model=list[AnnouncementOut], summary="Announcements, latest expected first"
    )
    async def list_announcements(
        access: CurrentAccess, limit: Limit = 50, offset: Offset = 0
    ) -> list[AnnouncementOut]:
        async with uow() as u:
            return [
                AnnouncementOut.of(a, await u.cases.for_announcement(a.announcement_id))
                for a in await u.announcements.page(limit, offset, access.filter)
            ]

    @api.get("/reviews", response_model=list[ReviewOut], summary="The review queue of possible duplicates")
    async def list_reviews(
        access: CurrentAccess,
        status_: Annotated[ReviewStatus | None, Query(alias="status")] = ReviewStatus.PENDING,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[ReviewOut]:
        async with uow() as u:
            return [
                ReviewOut.model_validate(r)
                for r in await u.reviews.page(status_, limit, offset, access.filter)
            ]

    @api.get("/reviews/{review_id}", response_model=ReviewOut, summary="One review", responses=problems(404))
    async def get_review(review_id: UUID) -> ReviewOut:
        async with uow() as u:
            found = await u.reviews.get(review_id)
        if found is None:
            raise NotFoundError(f"review {review_id} not found")
        return ReviewOut.model_validate(found)

    @api.post(
        "/reviews/{review_id}/decision",
        response_model=ReviewOut,
        summary="Decide a possible duplicate: merge (the same person) or distinct",
        responses=problems(404, 409),
    )
    async def post_decision(review_id: UUID, body: DecisionIn) -> ReviewOut:
        review: DuplicateReview = await bus.handle(
            DecideReview(review_id, body.decision, body.decided_by_role)
        )
        return ReviewOut.model_validate(review)

    return api
