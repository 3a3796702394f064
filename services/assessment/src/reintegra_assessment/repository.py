"""Assessment's unit of work and repository."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_kit.clock import as_utc
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import assessments


@dataclass
class Assessment:
    assessment_id: UUID
    case_id: UUID
    status: str
    priority: str
    scheduled_for: datetime
    arrived_at: datetime
    age: int
    destination_municipality: str
    vulnerabilities: list[str]
    created_at: datetime
    completed_at: datetime | None = None
    instrument: str | None = None
    instrument_version: str | None = None
    scores: dict[str, float] | None = None
    needs: list[dict[str, Any]] = field(default_factory=list)


class AssessmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, assessment_id: UUID, *, for_update: bool = False) -> Assessment | None:
        stmt = select(assessments).where(assessments.c.assessment_id == assessment_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).first()
        return _entity(row) if row else None

    async def for_case(self, case_id: UUID) -> Assessment | None:
        row = (
            await self._session.execute(select(assessments).where(assessments.c.case_id == case_id))
        ).first()
        return _entity(row) if row else None

    async def page(self, status: str | None, limit: int, offset: int) -> list[Assessment]:
        stmt = select(assessments).order_by(assessments.c.scheduled_for, assessments.c.assessment_id)
        if status:
            stmt = stmt.where(assessments.c.status == status)
        rows = await self._session.execute(stmt.limit(limit).offset(offset))
        return [_entity(r) for r in rows]

    async def add(self, a: Assessment) -> None:
        values = dict(a.__dict__)
        values["vulnerabilities"] = json.dumps(a.vulnerabilities)
        values["scores"] = json.dumps(a.scores) if a.scores is not None else None
        values["needs"] = json.dumps(a.needs)
        await self._session.execute(insert(assessments).values(**values))

    async def save_completion(self, a: Assessment) -> None:
        await self._session.execute(
            update(assessments)
            .where(assessments.c.assessment_id == a.assessment_id)
            .values(
                status=a.status,
                priority=a.priority,
                completed_at=a.completed_at,
                instrument=a.instrument,
                instrument_version=a.instrument_version,
                scores=json.dumps(a.scores) if a.scores is not None else None,
                needs=json.dumps(a.needs),
            )
        )


class AssessmentUnitOfWork(UnitOfWork):
    @property
    def assessments(self) -> AssessmentRepository:
        return AssessmentRepository(self.session)


def _entity(row: Any) -> Assessment:
    return Assessment(
        assessment_id=UUID(str(row.assessment_id)),
        case_id=UUID(str(row.case_id)),
        status=row.status,
        priority=row.priority,
        scheduled_for=as_utc(row.scheduled_for),
        arrived_at=as_utc(row.arrived_at),
        age=row.age,
        destination_municipality=row.destination_municipality,
        vulnerabilities=json.loads(row.vulnerabilities),
        created_at=as_utc(row.created_at),
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        instrument=row.instrument,
        instrument_version=row.instrument_version,
        scores=json.loads(row.scores) if row.scores else None,
        needs=json.loads(row.needs) if row.needs else [],
    )
