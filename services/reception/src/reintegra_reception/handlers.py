"""Reception's command handlers."""

from __future__ import annotations

from uuid import uuid4

from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_kit.clock import Clock
from sqlalchemy.exc import IntegrityError

from .domain import RegisterArrival, age_at, immediate_needs_of, vulnerabilities_of
from .repository import CaseView, ReceptionUnitOfWork


async def register_arrival(
    cmd: RegisterArrival, uow: ReceptionUnitOfWork, clock: Clock
) -> tuple[CaseView, bool]:
    """Register an arrival and emit ``arrival_registered``; return the case and whether it is new.

    A repeated ``manifest_ref`` returns the case already registered, so a client may retry safely —
    even when the retry races the first request.
    """
    try:
        return await _register(cmd, uow, clock)
    except IntegrityError:
        if not cmd.manifest_ref:
            raise
        async with uow:
            existing = await uow.cases.by_manifest_ref(cmd.manifest_ref)
        if existing is None:
            raise
        return existing, False


async def _register(cmd: RegisterArrival, uow: ReceptionUnitOfWork, clock: Clock) -> tuple[CaseView, bool]:
    async with uow:
        if cmd.manifest_ref and (existing := await uow.cases.by_manifest_ref(cmd.manifest_ref)):
            return existing, False
        now = clock.now()
        age = age_at(cmd.person.date_of_birth, cmd.arrived_at.date())
        vulnerabilities = vulnerabilities_of(cmd, age)
        needs = immediate_needs_of(cmd, vulnerabilities)
        returnee_id, case_id = uuid4(), uuid4()
        group = await uow.cases.travel_group(cmd.family_group_ref) if cmd.family_group_ref else None
        view = CaseView(
            case_id=case_id,
            returnee_id=returnee_id,
            travel_group_id=group,
            arrived_at=cmd.arrived_at,
            port_of_entry=cmd.port_of_entry,
            reception_centre=cmd.reception_centre,
            destination_municipality=cmd.destination_municipality,
            age=age,
            return_type=cmd.return_type.value,
            transport_mode=cmd.transport_mode.value,
            vulnerabilities=[v.value for v in vulnerabilities],
            immediate_needs=[n.value for n in needs],
            is_repeat_return=cmd.previous_returns > 0,
            registered_at=now,
        )
        await uow.cases.add_returnee(returnee_id, cmd.person, cmd.sex.value, now)
        await uow.cases.add_case(view, cmd.manifest_ref)
        await uow.emit(
            ArrivalRegistered(
                case_id=case_id,
                returnee_id=returnee_id,
                arrived_at=cmd.arrived_at,
                port_of_entry=cmd.port_of_entry,
                reception_centre=cmd.reception_centre,
                country_of_return=cmd.country_of_return,
                returned_from=cmd.returned_from,
                return_type=cmd.return_type,
                transport_mode=cmd.transport_mode,
                travel_group_id=group,
                age=age,
                sex=cmd.sex,
                preferred_language=cmd.preferred_language,
                indigenous_people=cmd.indigenous_people,
                has_disability=cmd.has_disability,
                destination_municipality=cmd.destination_municipality,
                is_repeat_return=cmd.previous_returns > 0,
                previous_returns=cmd.previous_returns,
                announcement_id=cmd.announcement_id,
                vulnerabilities=vulnerabilities,
                immediate_needs=needs,
                registered_at=now,
            )
        )
        await uow.commit()
        return view, True
