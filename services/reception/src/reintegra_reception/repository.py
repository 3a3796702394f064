"""Reception's unit of work and repositories: they map to rows, nothing else."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from reintegra_kit.clock import as_utc
from reintegra_kit.db import insert_or_ignore
from reintegra_kit.repository import Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import insert, select

from .domain import Case, PersonalData
from .orm import cases, manifest_lines, returnees, travel_groups


class CaseRepository(Repository):
    async def claim_manifest_line(self, manifest_ref: str, case_id: UUID) -> bool:
        """Claim a manifest line for a new case; False if it was registered already (or is being now:
        then this waits for that transaction)."""
        return await insert_or_ignore(
            self.session, manifest_lines, {"manifest_ref": manifest_ref, "case_id": case_id}, ["manifest_ref"]
        )

    async def by_manifest_ref(self, manifest_ref: str) -> Case | None:
        row = (await self.session.execute(select(cases).where(cases.c.manifest_ref == manifest_ref))).first()
        return _case(row) if row else None

    async def get(self, case_id: UUID) -> Case | None:
        row = (await self.session.execute(select(cases).where(cases.c.case_id == case_id))).first()
        return _case(row) if row else None

    async def page(self, limit: int, offset: int) -> list[Case]:
        rows = await self.session.execute(
            select(cases).order_by(cases.c.registered_at, cases.c.case_id).limit(limit).offset(offset)
        )
        return [_case(r) for r in rows]

    async def travel_group(self, family_group_ref: str) -> UUID:
        """The pseudonymous id of a family/travel group, created on first use (safe when members of
        one family are registered at the same moment)."""
        await insert_or_ignore(
            self.session,
            travel_groups,
            {"family_group_ref": family_group_ref, "travel_group_id": uuid4()},
            ["family_group_ref"],
        )
        found = await self.session.execute(
            select(travel_groups.c.travel_group_id).where(
                travel_groups.c.family_group_ref == family_group_ref
            )
        )
        return UUID(str(found.scalar_one()))

    async def save(self, case: Case, *, manifest_ref: str | None = None) -> None:
        """Insert a new case or update a loaded one (optimistic), then stage its events."""
        values: dict[str, Any] = {
            k: v for k, v in case.__dict__.items() if not k.startswith("_") and k != "version"
        }
        values["return_type"] = case.return_type.value
        values["transport_mode"] = case.transport_mode.value
        values["vulnerabilities"] = json.dumps([v.value for v in case.vulnerabilities])
        values["immediate_needs"] = json.dumps([n.value for n in case.immediate_needs])
        if case.version == 0:
            await self.insert_versioned(cases, case, {**values, "manifest_ref": manifest_ref})
        else:
            await self.update_versioned(cases, {"case_id": values.pop("case_id")}, case, values)
        await self.publish_events(case)


class ReturneeRepository(Repository):
    """Personal data: only here, never on Kafka."""

    async def add(self, returnee_id: UUID, person: PersonalData, sex: Sex, now: datetime) -> None:
        await self.session.execute(
            insert(returnees).values(
                returnee_id=returnee_id,
                given_names=person.given_names,
                family_names=person.family_names,
                date_of_birth=person.date_of_birth,
                document_number=person.document_number,
                phone=person.phone,
                sex=sex.value,
                created_at=now,
            )
        )


class ReceptionUnitOfWork(UnitOfWork):
    @property
    def cases(self) -> CaseRepository:
        return CaseRepository(self)

    @property
    def returnees(self) -> ReturneeRepository:
        return ReturneeRepository(self)


def _case(row: Any) -> Case:
    return Case(
        case_id=UUID(str(row.case_id)),
        returnee_id=UUID(str(row.returnee_id)),
        travel_group_id=UUID(str(row.travel_group_id)) if row.travel_group_id else None,
        arrived_at=as_utc(row.arrived_at),
        port_of_entry=row.port_of_entry,
        reception_centre=row.reception_centre,
        destination_municipality=row.destination_municipality,
        age=row.age,
        return_type=ReturnType(row.return_type),
        transport_mode=TransportMode(row.transport_mode),
        vulnerabilities=[Vulnerability(v) for v in json.loads(row.vulnerabilities)],
        immediate_needs=[ServiceCategory(n) for n in json.loads(row.immediate_needs)],
        is_repeat_return=row.is_repeat_return,
        registered_at=as_utc(row.registered_at),
        version=row.version,
    )
