"""Reception's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_kit.clock import ManualClock
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_reception.bootstrap import SPEC
from reintegra_reception.domain import PersonalData, RegisterArrival
from reintegra_reception.handlers import register_arrival
from reintegra_reception.orm import cases, kit_tables, returnees
from reintegra_reception.repository import ReceptionUnitOfWork

from .test_domain import facts

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[ReceptionUnitOfWork]]:
    async with HandlerHarness(
        database_url, spec=SPEC, tables=kit_tables, uow_class=ReceptionUnitOfWork, clock=ManualClock(NOW)
    ) as harness:
        yield harness


def command(ref: str | None = "AV640-2026-11-20-014", **kw: object) -> RegisterArrival:
    return RegisterArrival(PersonalData("Ana", "Reyes", date(1990, 5, 1)), facts(**kw), manifest_ref=ref)


async def test_an_arrival_registers_a_case_and_a_person_and_publishes_no_personal_data(
    service: HandlerHarness[ReceptionUnitOfWork],
) -> None:
    case, created = await service.handle(register_arrival, command())
    assert created
    [event] = await service.emitted()
    assert isinstance(event, ArrivalRegistered) and event.case_id == case.case_id
    assert "Reyes" not in event.model_dump_json() and "1990-05-01" not in event.model_dump_json()
    [person] = await service.rows(returnees)
    assert person.family_names == "Reyes"


async def test_a_repeated_manifest_line_returns_the_first_case_even_when_the_retries_race(
    service: HandlerHarness[ReceptionUnitOfWork],
) -> None:
    results = await asyncio.gather(*(service.handle(register_arrival, command()) for _ in range(4)))
    case_ids = {case.case_id for case, _ in results}
    assert len(case_ids) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len(await service.rows(cases)) == 1
    assert len(await service.rows(returnees)) == 1
    assert len(await service.emitted()) == 1


async def test_members_of_one_family_share_one_travel_group(service: HandlerHarness[ReceptionUnitOfWork]) -> None:
    family = [command(f"line-{i}", family_group_ref="FAM-7", travelling_with_family=True) for i in range(3)]
    registered = await asyncio.gather(*(service.handle(register_arrival, c) for c in family))
    groups = {case.travel_group_id for case, _ in registered}
    assert len(groups) == 1 and isinstance(groups.pop(), UUID)
    alone, _ = await service.handle(register_arrival, replace(command("line-9")))
    assert alone.travel_group_id is None
