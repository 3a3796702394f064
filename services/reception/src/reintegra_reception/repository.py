"""Reception's unit of work and repository over its own database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from reintegra_kit.clock import as_utc
from reintegra_kit.db import insert_or_ignore
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .domain import PersonalData
from .orm import cases, returnees, travel_groups


@dataclass(frozen=True)
class CaseView:
    """A case as reception shows it, also in its HTTP API (no personal data)."""

    case_id: UUID
    returnee_id: UUID
    travel_group_id: UUID | None
    arrived_at: datetime
    port_of_entry: str
    reception_centre: str
    destination_municipality: str
    age: int
    return_type: str
    transport_mode: str
    vulnerabilities: list[str]
    immediate_needs: list[str]
    is_repeat_return: bool
    registered_at: datetime


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_manifest_ref(self, manifest_ref: str) -> CaseView | None:
        row = (await self._session.execute(select(cases).where(cases.c.manifest_ref == manifest_ref))).first()
        return _view(row) if row else None

    async def get(self, case_id: UUID) -> CaseView | None:
        row = (await self._session.execute(select(cases).where(cases.c.case_id == case_id))).first()
        return _view(row) if row else None

    async def page(self, limit: int, offset: int) -> list[CaseView]:
        rows = await self._session.execute(
            select(cases).order_by(cases.c.registered_at, cases.c.case_id).limit(limit).offset(offset)
        )
        return [_view(r) for r in rows]

    async def travel_group(self, family_group_ref: str) -> UUID:
        """The pseudonymous id of a family/travel group, created on first use (safe when members of
        one family are registered at the same moment)."""
        await insert_or_ignore(
            self._session,
            travel_groups,
            {"family_group_ref": family_group_ref, "travel_group_id": uuid4()},
            ["family_group_ref"],
        )
        found = await self._session.execute(
            select(travel_groups.c.travel_group_id).where(
                travel_groups.c.family_group_ref == family_group_ref
            )
        )
        return UUID(str(found.scalar_one()))

    async def add_returnee(self, returnee_id: UUID, person: PersonalData, sex: str, now: datetime) -> None:
        await self._session.execute(
            insert(returnees).values(
                returnee_id=returnee_id,
                given_names=person.given_names,
                family_names=person.family_names,
                date_of_birth=person.date_of_birth,
                document_number=person.document_number,
                phone=person.phone,
                sex=sex,
                created_at=now,
            )
        )

    async def add_case(self, view: CaseView, manifest_ref: str | None) -> None:
        values: dict[str, Any] = dict(view.__dict__)
        values["vulnerabilities"] = json.dumps(view.vulnerabilities)
        values["immediate_needs"] = json.dumps(view.immediate_needs)
        await self._session.execute(insert(cases).values(manifest_ref=manifest_ref, **values))


class ReceptionUnitOfWork(UnitOfWork):
    @property
    def cases(self) -> CaseRepository:
        return CaseRepository(self.session)


def _view(row: Any) -> CaseView:
    return CaseView(
        case_id=UUID(str(row.case_id)),
        returnee_id=UUID(str(row.returnee_id)),
        travel_group_id=UUID(str(row.travel_group_id)) if row.travel_group_id else None,
        arrived_at=as_utc(row.arrived_at),
        port_of_entry=row.port_of_entry,
        reception_centre=row.reception_centre,
        destination_municipality=row.destination_municipality,
        age=row.age,
        return_type=row.return_type,
        transport_mode=row.transport_mode,
        vulnerabilities=json.loads(row.vulnerabilities),
        immediate_needs=json.loads(row.immediate_needs),
        is_repeat_return=row.is_repeat_return,
        registered_at=as_utc(row.registered_at),
    )
