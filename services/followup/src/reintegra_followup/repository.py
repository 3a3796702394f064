"""Follow-up's unit of work and repository: they map the aggregate to rows, nothing else."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from reintegra_contracts.events.followup import FollowupReason
from reintegra_kit.clock import as_utc
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import select, text

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

    async def lock_case(self, case_id: UUID) -> None:
        """Hold the case until the transaction ends, so that an arrival and a referral of one case,
        handled by two replicas at once, see each other's work (PostgreSQL: a transaction-level
        advisory lock; SQLite already runs one writer at a time)."""
        bind = self.session.bind
        if bind is not None and bind.dialect.name == "postgresql":
            key = int.from_bytes(case_id.bytes[:8], "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def waiting_for_case(self, case_id: UUID) -> list[Followup]:
        """The follow-ups that wait for ``case_id`` to become known."""
        rows = await self.session.execute(
            select(followups)
            .where(
                followups.c.case_id == case_id,
                followups.c.status == FollowupStatus.WAITING_FOR_CASE.value,
            )
            .order_by(followups.c.scheduled_at, followups.c.followup_id)
        )
        return [_entity(r) for r in rows]

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
