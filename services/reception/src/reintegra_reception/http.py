"""Reception's HTTP API: translate the request into a command, hand it to the bus, show the result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from reintegra_kit.domain import NotFoundError
from reintegra_kit.handlers import MessageBus
from reintegra_kit.runtime.http import problems

from .domain import ArrivalFacts, PersonalData, RegisterArrival
from .repository import ReceptionUnitOfWork

CODE = r"^[A-Z0-9][A-Z0-9_-]{1,49}$"
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]


class PersonIn(BaseModel):
    """Who the person is. Kept in reception's database only; never published."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_names: str = Field(min_length=1, max_length=200)
    family_names: str = Field(min_length=1, max_length=200)
    date_of_birth: date = Field(description="Not in the future, not before 1900.")
    document_number: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > datetime.now(UTC).date():
            raise ValueError("date_of_birth is in the future")
        if value.year < 1900:
            raise ValueError("date_of_birth is before 1900")
        return value


class ArrivalIn(BaseModel):
    """An arrival to register. Its fields are those of ``arrival_registered`` where both have them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    manifest_ref: str | None = Field(
        default=None,
        max_length=100,
        description="Line of the flight or bus manifest; makes the request idempotent.",
    )
    person: PersonIn
    sex: Sex
    arrived_at: AwareDatetime = Field(description="Not more than an hour in the future.")
    port_of_entry: Annotated[str, Field(pattern=CODE)]
    reception_centre: Annotated[str, Field(pattern=CODE)]
    country_of_return: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    returned_from: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    return_type: ReturnType
    transport_mode: TransportMode
    destination_municipality: Annotated[str, Field(pattern=CODE)]
    preferred_language: str = Field(default="es", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    indigenous_people: str | None = Field(default=None, max_length=100)
    has_disability: StrictBool = False
    travelling_with_family: StrictBool = False
    family_group_ref: str | None = Field(default=None, max_length=100)
    previous_returns: StrictInt = Field(default=0, ge=0, le=100)
    announcement_id: UUID | None = None
    vulnerabilities: list[Vulnerability] = Field(default_factory=list, max_length=30)
    immediate_needs: list[ServiceCategory] = Field(default_factory=list, max_length=30)

    @field_validator("arrived_at")
    @classmethod
    def _not_far_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + timedelta(hours=1):
            raise ValueError("arrived_at is in the future")
        return value

    def to_command(self) -> RegisterArrival:
        declared = self.model_dump(exclude={"person", "manifest_ref", "vulnerabilities", "immediate_needs"})
        declared["arrived_at"] = self.arrived_at.astimezone(UTC)
        return RegisterArrival(
            person=PersonalData(**self.person.model_dump()),
            facts=ArrivalFacts(
                **declared,
                vulnerabilities=frozenset(self.vulnerabilities),
                immediate_needs=tuple(self.immediate_needs),
            ),
            manifest_ref=self.manifest_ref,
        )


class CaseOut(BaseModel):
    """A case as reception shows it (no personal data)."""

    model_config = ConfigDict(from_attributes=True)

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


def router(bus: MessageBus[ReceptionUnitOfWork], uow: Callable[[], ReceptionUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reception"])

    @api.post(
        "/arrivals",
        status_code=status.HTTP_201_CREATED,
        response_model=CaseOut,
        summary="Register an arrival",
        responses={200: {"description": "Already registered (same manifest_ref)", "model": CaseOut}},
    )
    async def post_arrival(body: ArrivalIn, response: Response) -> CaseOut:
        case, created = await bus.handle(body.to_command())
        if not created:
            response.status_code = status.HTTP_200_OK
        return CaseOut.model_validate(case)

    @api.get("/cases/{case_id}", response_model=CaseOut, summary="One case", responses=problems(404))
    async def get_case(case_id: UUID) -> CaseOut:
        async with uow() as u:
            case = await u.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"case {case_id} not found")
        return CaseOut.model_validate(case)

    @api.get("/cases", response_model=list[CaseOut], summary="Cases, oldest first")
    async def list_cases(limit: Limit = 100, offset: Offset = 0) -> list[CaseOut]:
        async with uow() as u:
            return [CaseOut.model_validate(c) for c in await u.cases.page(limit, offset)]

    return api
