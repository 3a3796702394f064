"""Referral's unit of work, directory and referral repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_contracts.codelists import ServiceCategory
from reintegra_kit.clock import as_utc
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .domain import DirectoryService
from .orm import directory_services, referrals


@dataclass(frozen=True)
class Referral:
    """A referral, as stored and as the HTTP API shows it."""

    referral_id: UUID
    case_id: UUID
    assessment_id: UUID
    need_id: UUID
    category: str
    dimension: str
    level: str
    priority: str
    status: str
    service_id: str | None
    agency_id: str | None
    requested_at: datetime
    respond_by: datetime | None


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace_all(self, services: list[DirectoryService]) -> None:
        await self._session.execute(delete(directory_services))
        for s in services:
            await self._session.execute(
                insert(directory_services).values(
                    service_id=s.service_id,
                    agency_id=s.agency_id,
                    name=s.name,
                    category=s.category.value,
                    level=s.level,
                    country=s.country,
                    municipalities=json.dumps(list(s.municipalities)),
                    response_time_hours=s.response_time_hours,
                )
            )

    async def for_category(self, category: ServiceCategory) -> list[DirectoryService]:
        rows = await self._session.execute(
            select(directory_services).where(directory_services.c.category == category.value)
        )
        return [_service(r) for r in rows]

    async def all(self) -> list[DirectoryService]:
        rows = await self._session.execute(
            select(directory_services).order_by(directory_services.c.service_id)
        )
        return [_service(r) for r in rows]


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, r: Referral) -> None:
        await self._session.execute(insert(referrals).values(**r.__dict__))

    async def for_case(self, case_id: UUID) -> list[Referral]:
        rows = await self._session.execute(
            select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.requested_at)
        )
        return [_referral(r) for r in rows]

    async def page(self, limit: int, offset: int) -> list[Referral]:
        rows = await self._session.execute(
            select(referrals)
            .order_by(referrals.c.requested_at, referrals.c.referral_id)
            .limit(limit)
            .offset(offset)
        )
        return [_referral(r) for r in rows]


class ReferralUnitOfWork(UnitOfWork):
    @property
    def directory(self) -> DirectoryRepository:
        return DirectoryRepository(self.session)

    @property
    def referrals(self) -> ReferralRepository:
        return ReferralRepository(self.session)


def _service(row: Any) -> DirectoryService:
    return DirectoryService(
        service_id=row.service_id,
        agency_id=row.agency_id,
        name=row.name,
        category=ServiceCategory(row.category),
        level=row.level,
        country=row.country,
        municipalities=tuple(json.loads(row.municipalities)),
        response_time_hours=row.response_time_hours,
    )


def _referral(row: Any) -> Referral:
    return Referral(
        referral_id=UUID(str(row.referral_id)),
        case_id=UUID(str(row.case_id)),
        assessment_id=UUID(str(row.assessment_id)),
        need_id=UUID(str(row.need_id)),
        category=row.category,
        dimension=row.dimension,
        level=row.level,
        priority=row.priority,
        status=row.status,
        service_id=row.service_id,
        agency_id=row.agency_id,
        requested_at=as_utc(row.requested_at),
        respond_by=as_utc(row.respond_by) if row.respond_by else None,
    )
