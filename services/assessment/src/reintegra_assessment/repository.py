"""Assessment's unit of work and repository: they map the aggregate to rows, nothing else."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from reintegra_contracts.codelists import Priority, Vulnerability
from reintegra_contracts.events.assessment import DimensionScores, Need
from reintegra_kit import jsontext
from reintegra_kit.auth import RecordFilter, visible
from reintegra_kit.clock import as_utc
from reintegra_kit.db import select_by
from reintegra_kit.erasure import ErasedCaseRepository
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import select

from .domain import Assessment, AssessmentStatus
from .orm import assessments, erased_cases


class AssessmentRepository(Repository):
    async def get(self, assessment_id: UUID, *, for_update: bool = False) -> Assessment | None:
        stmt = _GET_FOR_UPDATE if for_update else select_by(assessments, "assessment_id")
        row = (await self.session.execute(stmt, {"assessment_id": assessment_id})).first()
        return _entity(row) if row else None

    async def for_case(self, case_id: UUID, visible_to: RecordFilter | None = None) -> Assessment | None:
        if visible_to is None:  # the event path: a statement built once
            row = (
                await self.session.execute(select_by(assessments, "case_id"), {"case_id": case_id})
            ).first()
        else:
            stmt = select(assessments).where(assessments.c.case_id == case_id, _visible(visible_to))
            row = (await self.session.execute(stmt)).first()
        return _entity(row) if row else None

    async def page(
        self, status: AssessmentStatus | None, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[Assessment]:
        stmt = (
            select(assessments)
            .where(_visible(visible_to))
            .order_by(assessments.c.scheduled_for, assessments.c.assessment_id)
        )
        if status:
            stmt = stmt.where(assessments.c.status == status.value)
        rows = await self.session.execute(stmt.limit(limit).offset(offset))
        return [_entity(r) for r in rows]

    async def save(self, a: Assessment) -> None:
        """Insert a new assessment or update a loaded one (optimistic), then stage its events."""
        values = _row(a)
        if a.version == 0:
            await self.insert_versioned(assessments, a, values)
        else:
            key = {"assessment_id": values.pop("assessment_id")}
            await self.update_versioned(assessments, key, a, values)
        await self.publish_events(a)


class AssessmentUnitOfWork(UnitOfWork):
    @property
    def assessments(self) -> AssessmentRepository:
        return AssessmentRepository(self)

    @property
    def erasures(self) -> ErasedCaseRepository:
        return ErasedCaseRepository(self, erased_cases)


_GET_FOR_UPDATE = select_by(assessments, "assessment_id").with_for_update()


def _visible(reach: RecordFilter | None) -> Any:
    return visible(reach, centre=assessments.c.reception_centre, country=assessments.c.country)


def _row(a: Assessment) -> dict[str, Any]:
    return {
        "assessment_id": a.assessment_id,
        "case_id": a.case_id,
        "status": a.status.value,
        "priority": a.priority.value,
        "scheduled_for": a.scheduled_for,
        "arrived_at": a.arrived_at,
        "age": a.age,
        "destination_municipality": a.destination_municipality,
        "vulnerabilities": jsontext.dumps([v.value for v in a.vulnerabilities]),
        "created_at": a.created_at,
        "completed_at": a.completed_at,
        "instrument": a.instrument,
        "instrument_version": a.instrument_version,
        "scores": a.scores.model_dump_json() if a.scores is not None else None,
        "needs": jsontext.dumps([n.model_dump(mode="json") for n in a.needs]),
        "reception_centre": a.reception_centre,
        "country": a.country,
    }


def _entity(row: Any) -> Assessment:
    return Assessment(
        assessment_id=UUID(str(row.assessment_id)),
        case_id=UUID(str(row.case_id)),
        status=AssessmentStatus(row.status),
        priority=Priority(row.priority),
        scheduled_for=as_utc(row.scheduled_for),
        arrived_at=as_utc(row.arrived_at),
        age=row.age,
        destination_municipality=row.destination_municipality,
        vulnerabilities=[Vulnerability(v) for v in jsontext.loads(row.vulnerabilities)],
        created_at=as_utc(row.created_at),
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        instrument=row.instrument,
        instrument_version=row.instrument_version,
        scores=DimensionScores.model_validate_json(row.scores) if row.scores else None,
        needs=[Need.model_validate(n) for n in jsontext.loads(row.needs or "[]")],
        reception_centre=row.reception_centre,
        country=row.country,
        version=row.version,
    )
