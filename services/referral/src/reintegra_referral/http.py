"""Referral's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from .repository import Referral, ReferralUnitOfWork


class ServiceOut(BaseModel):
    service_id: str
    agency_id: str
    name: str
    category: str
    level: str
    country: str
    municipalities: list[str]
    response_time_hours: int


def router(uow_factory: Callable[[], ReferralUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["referral"])

    @api.get("/referrals", response_model=list[Referral], summary="Referrals, by case")
    async def list_referrals(
        case_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[Referral]:
        async with uow_factory() as uow:
            found = (
                await uow.referrals.for_case(case_id) if case_id else await uow.referrals.page(limit, offset)
            )
        return found

    @api.get("/services", response_model=list[ServiceOut], summary="The service directory")
    async def list_services() -> list[ServiceOut]:
        async with uow_factory() as uow:
            services = await uow.directory.all()
        return [
            ServiceOut(
                **{**s.__dict__, "category": s.category.value, "municipalities": list(s.municipalities)}
            )
            for s in services
        ]

    return api
