"""Referral's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from reintegra_contracts.codelists import Dimension, Level, Priority, ServiceCategory

from .domain import ReferralStatus
from .repository import ReferralUnitOfWork

Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]


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
    service_id: str | None
    agency_id: str | None
    requested_at: datetime
    respond_by: datetime | None


class ServiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    service_id: str
    agency_id: str
    name: str
    category: ServiceCategory
    level: str
    country: str
    municipalities: list[str]
    response_time_hours: int


def router(uow: Callable[[], ReferralUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["referral"])

    @api.get("/referrals", response_model=list[ReferralOut], summary="Referrals, by case")
    async def list_referrals(
        case_id: UUID | None = None, limit: Limit = 100, offset: Offset = 0
    ) -> list[ReferralOut]:
        async with uow() as u:
            found = await u.referrals.for_case(case_id) if case_id else await u.referrals.page(limit, offset)
        return [ReferralOut.model_validate(r) for r in found]

    @api.get("/services", response_model=list[ServiceOut], summary="The service directory")
    async def list_services() -> list[ServiceOut]:
        async with uow() as u:
            services = await u.directory.all()
        return [ServiceOut.model_validate(s) for s in services]

    return api
