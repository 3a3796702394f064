"""Reception's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from reintegra_kit.clock import Clock

from .domain import ArrivalRejectedError, PersonalData, RegisterArrival
from .handlers import register_arrival
from .repository import CaseView, ReceptionUnitOfWork

CODE = r"^[A-Z0-9][A-Z0-9_-]{1,49}$"


class PersonIn(BaseModel):
    """Who the person is. Kept in reception's database only; never published."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_names: str = Field(min_length=1, max_length=200)
    family_names: str = Field(min_length=1, max_length=200)
    date_of_birth: date
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
    """An arrival to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    manifest_ref: str | None = Field(
        default=None,
        max_length=100,
        description="Line of the flight or bus manifest; makes the request idempotent.",
    )
    person: PersonIn
    sex: Sex
    arrived_at: AwareDatetime
    port_of_entry: Annotated[str, Field(pattern=CODE)]
    reception_centre: Annotated[str, Field(pattern=CODE)]
    country_of_return: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    returned_from: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    return_type: ReturnType
    transport_mode: TransportMode
    destination_municipality: Annotated[str, Field(pattern=CODE)]
    preferred_language: str = Field(default="es", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    indigenous_people: str | None = Field(default=None, max_length=100)
    has_disability: bool = False
    travelling_with_family: bool = False
    family_group_ref: str | None = Field(default=None, max_length=100)
    previous_returns: int = Field(default=0, ge=0, le=100)
    announcement_id: UUID | None = None
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)
    immediate_needs: list[ServiceCategory] = Field(default_factory=list)

    @field_validator("arrived_at")
    @classmethod
    def _not_far_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + timedelta(hours=1):
            raise ValueError("arrived_at is in the future")
        return value

    def to_command(self) -> RegisterArrival:
        p = self.person
        return RegisterArrival(
            person=PersonalData(p.given_names, p.family_names, p.date_of_birth, p.document_number, p.phone),
            sex=self.sex,
            arrived_at=self.arrived_at.astimezone(UTC),
            port_of_entry=self.port_of_entry,
            reception_centre=self.reception_centre,
            country_of_return=self.country_of_return,
            returned_from=self.returned_from,
            return_type=self.return_type,
            transport_mode=self.transport_mode,
            destination_municipality=self.destination_municipality,
            preferred_language=self.preferred_language,
            indigenous_people=self.indigenous_people,
            has_disability=self.has_disability,
            travelling_with_family=self.travelling_with_family,
            family_group_ref=self.family_group_ref,
            previous_returns=self.previous_returns,
            announcement_id=self.announcement_id,
            declared_vulnerabilities=frozenset(self.vulnerabilities),
            immediate_needs=tuple(self.immediate_needs),
            manifest_ref=self.manifest_ref,
        )


def router(uow_factory: Callable[[], ReceptionUnitOfWork], clock: Clock) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reception"])

    @api.post(
        "/arrivals",
        status_code=status.HTTP_201_CREATED,
        response_model=CaseView,
        summary="Register an arrival",
        responses={
            200: {"description": "Already registered (same manifest_ref)"},
            422: {"description": "Invalid"},
        },
    )
    async def post_arrival(body: ArrivalIn, response: Response) -> CaseView:
        try:
            view, created = await register_arrival(body.to_command(), uow_factory(), clock)
        except ArrivalRejectedError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
        if not created:
            response.status_code = status.HTTP_200_OK
        return view

    @api.get("/cases/{case_id}", response_model=CaseView, summary="One case")
    async def get_case(case_id: UUID) -> CaseView:
        async with uow_factory() as uow:
            view = await uow.cases.get(case_id)
        if view is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
        return view

    @api.get("/cases", response_model=list[CaseView], summary="Cases, oldest first")
    async def list_cases(
        limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0
    ) -> list[CaseView]:
        async with uow_factory() as uow:
            return await uow.cases.page(limit, offset)

    return api
