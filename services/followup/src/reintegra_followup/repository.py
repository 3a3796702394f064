"""Follow-up's unit of work and repository: they map the aggregate to rows, nothing else."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from reintegra_contracts.events.followup import FollowupReason
from reintegra_kit.clock import as_utc
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import select

from .domain import Followup, FollowupStatus
from .orm import followups


class FollowupRepository(Repository):
    async def get(self, followup_id: UUID) -> Followup | None:
        row = (
            await self.session.execute(select(followups).where(followups.c.followup_id == followup_id))
        ).first()
        return _entity(row) if row else None

    async def by_business_key(self, key: str) -> Followup | None:
        row = (await self.session.execute(select(followups).where(followups.c.business_key == key))).first()
        return _entity(row) if row else None

    async def for_case(self, case_id: UUID) -> list[Followup]:
        rows = await self.session.execute(
            select(followups).where(followups.c.case_id == case_id).order_by(followups.c.due_at)
        )
        return [_entity(r) for r in rows]

    async def page(self, status: FollowupStatus | None, limit: int, offset: int) -> list[Followup]:
        stmt = select(followups).order_by(followups.c.due_at, followups.c.followup_id)
        if status:
            stmt = stmt.where(followups.c.status == status.value)
        return [_entity(r) for r in await self.session.execute(stmt.limit(limit).offset(offset))]

    async def save(self, f: Followup) -> None:
        """Insert a new follow-up or update a loaded one (optimistic), then stage its events."""
        values = {
            "followup_id": f.followup_id,
            "case_id": f.case_id,
            "reason": f.reason.value,
            "referral_id": f.referral_id,
            "business_key": f.business_key,
            "due_at": f.due_at,
            "status": f.status.value,
            "scheduled_at": f.scheduled_at,
            "fired_at": f.fired_at,
        }
        if f.version == 0:
            await self.insert_versioned(followups, f, values)
        else:
            key = {"followup_id": values.pop("followup_id")}
            await self.update_versioned(followups, key, f, values)
        await self.publish_events(f)


class FollowupUnitOfWork(UnitOfWork):
    @property
    def followups(self) -> FollowupRepository:
        return FollowupRepository(self)


def _entity(row: Any) -> Followup:
    return Followup(
        followup_id=UUID(str(row.followup_id)),
        case_id=UUID(str(row.case_id)),
        reason=FollowupReason(row.reason),
        referral_id=UUID(str(row.referral_id)) if row.referral_id else None,
        due_at=as_utc(row.due_at),
        status=FollowupStatus(row.status),
        scheduled_at=as_utc(row.scheduled_at),
        fired_at=as_utc(row.fired_at) if row.fired_at else None,
        version=row.version,
    )
