"""Referral's unit of work, directory and referral repositories: they map to rows, nothing else."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from reintegra_contracts.codelists import Dimension, Level, Priority, ServiceCategory
from reintegra_kit.clock import as_utc
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import delete, insert, select

from .domain import DirectoryService, Referral, ReferralStatus
from .orm import directory_services, referrals


class DirectoryRepository(Repository):
    async def replace_all(self, services: list[DirectoryService]) -> None:
        await self.session.execute(delete(directory_services))
        for s in services:
            await self.session.execute(
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
        rows = await self.session.execute(
            select(directory_services).where(directory_services.c.category == category.value)
        )
        return [_service(r) for r in rows]

    async def all(self) -> list[DirectoryService]:
        rows = await self.session.execute(
            select(directory_services).order_by(directory_services.c.service_id)
        )
        return [_service(r) for r in rows]


class ReferralRepository(Repository):
    async def for_need(self, need_id: UUID) -> Referral | None:
        row = (await self.session.execute(select(referrals).where(referrals.c.need_id == need_id))).first()
        return _referral(row) if row else None

    async def save(self, r: Referral) -> None:
        """Insert a new referral or update a loaded one (optimistic), then stage its events."""
        values = _row(r)
        if r.version == 0:
            await self.insert_versioned(referrals, r, values)
        else:
            key = {"referral_id": values.pop("referral_id")}
            await self.update_versioned(referrals, key, r, values)
        await self.publish_events(r)

    async def for_case(self, case_id: UUID) -> list[Referral]:
        rows = await self.session.execute(
            select(referrals).where(referrals.c.case_id == case_id).order_by(referrals.c.requested_at)
        )
        return [_referral(r) for r in rows]

    async def page(self, limit: int, offset: int) -> list[Referral]:
        rows = await self.session.execute(
            select(referrals)
            .order_by(referrals.c.requested_at, referrals.c.referral_id)
            .limit(limit)
            .offset(offset)
        )
        return [_referral(r) for r in rows]


class ReferralUnitOfWork(UnitOfWork):
    @property
    def directory(self) -> DirectoryRepository:
        return DirectoryRepository(self)

    @property
    def referrals(self) -> ReferralRepository:
        return ReferralRepository(self)


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


def _row(r: Referral) -> dict[str, Any]:
    values = {k: v for k, v in r.__dict__.items() if not k.startswith("_") and k != "version"}
    for name in ("category", "dimension", "level", "priority", "status"):
        values[name] = values[name].value
    return values


def _referral(row: Any) -> Referral:
    return Referral(
        referral_id=UUID(str(row.referral_id)),
        case_id=UUID(str(row.case_id)),
        assessment_id=UUID(str(row.assessment_id)),
        need_id=UUID(str(row.need_id)),
        category=ServiceCategory(row.category),
        dimension=Dimension(row.dimension),
        level=Level(row.level),
        priority=Priority(row.priority),
        status=ReferralStatus(row.status),
        service_id=row.service_id,
        agency_id=row.agency_id,
        requested_at=as_utc(row.requested_at),
        respond_by=as_utc(row.respond_by) if row.respond_by else None,
        version=row.version,
    )
