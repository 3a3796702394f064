"""Follow-up's unit of work and repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_kit.clock import as_utc
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import followups


@dataclass(frozen=True)
class Followup:
    followup_id: UUID
    case_id: UUID
    reason: str
    referral_id: UUID | None
    due_at: datetime
    status: str
    scheduled_at: datetime
    fired_at: datetime | None = None
    traceparent: str | None = None


class FollowupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, f: Followup) -> None:
        await self._session.execute(insert(followups).values(**f.__dict__))

    async def for_case(self, case_id: UUID) -> list[Followup]:
        rows = await self._session.execute(
            select(followups).where(followups.c.case_id == case_id).order_by(followups.c.due_at)
        )
        return [_entity(r) for r in rows]

    async def page(self, status: str | None, limit: int, offset: int) -> list[Followup]:
        stmt = select(followups).order_by(followups.c.due_at, followups.c.followup_id)
        if status:
            stmt = stmt.where(followups.c.status == status)
        return [_entity(r) for r in await self._session.execute(stmt.limit(limit).offset(offset))]

    async def claim_due(self, now: datetime, limit: int) -> list[Followup]:
        """Lock up to ``limit`` scheduled follow-ups due at ``now`` that no other replica holds."""
        rows = await self._session.execute(
            select(followups)
            .where(followups.c.status == "scheduled", followups.c.due_at <= now)
            .order_by(followups.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_entity(r) for r in rows]

    async def mark_due(self, followup_id: UUID, now: datetime) -> bool:
        """Move one follow-up from scheduled to due; False if another process already did."""
        result = await self._session.execute(
            update(followups)
            .where(followups.c.followup_id == followup_id, followups.c.status == "scheduled")
            .values(status="due", fired_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class FollowupUnitOfWork(UnitOfWork):
    @property
    def followups(self) -> FollowupRepository:
        return FollowupRepository(self.session)


def _entity(row: Any) -> Followup:
    return Followup(
        followup_id=UUID(str(row.followup_id)),
        case_id=UUID(str(row.case_id)),
        reason=row.reason,
        referral_id=UUID(str(row.referral_id)) if row.referral_id else None,
        due_at=as_utc(row.due_at),
        status=row.status,
        scheduled_at=as_utc(row.scheduled_at),
        fired_at=as_utc(row.fired_at) if row.fired_at else None,
        traceparent=row.traceparent,
    )
