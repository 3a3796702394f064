"""Follow-up's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from reintegra_contracts.codelists import (
    Dimension,
    Level,
    Priority,
    ReturnType,
    ServiceCategory,
    Sex,
    TransportMode,
)
from reintegra_contracts.events.followup import FollowupDue, FollowupReason, FollowupScheduled
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_followup.bootstrap import SPEC
from reintegra_followup.domain import DUE_TIMER, FollowupStatus
from reintegra_followup.handlers import followup_falls_due, schedule_after_arrival, schedule_referral_check
from reintegra_followup.orm import followups, kit_tables
from reintegra_followup.repository import FollowupUnitOfWork
from reintegra_followup.settings import FollowupSettings
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness, record_of

START = datetime(2026, 11, 20, 14, tzinfo=UTC)
HANDLERS = {ArrivalRegistered: [schedule_after_arrival], ReferralRequested: [schedule_referral_check]}
TIMERS = {DUE_TIMER: followup_falls_due}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[FollowupUnitOfWork]]:
    settings = FollowupSettings(
        first_followup_after=timedelta(days=90), referral_check_after=timedelta(days=14)
    )
    async with HandlerHarness(
        database_url,
        spec=SPEC,
        tables=kit_tables,
        uow_class=FollowupUnitOfWork,
        clock=ManualClock(START),
        settings=settings,
    ) as harness:
        yield harness


def arrival() -> ArrivalRegistered:
    return ArrivalRegistered(
        case_id=uuid4(),
        returnee_id=uuid4(),
        arrived_at=START,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        age=30,
        sex=Sex.MALE,
        destination_municipality="HN-0501",
        registered_at=START,
    )


def referral_requested(case_id: UUID | None = None) -> ReferralRequested:
    return ReferralRequested(
        case_id=case_id or uuid4(),
        referral_id=uuid4(),
        assessment_id=uuid4(),
        need_id=uuid4(),
        category=ServiceCategory.HEALTH,
        dimension=Dimension.SOCIAL,
        level=Level.INDIVIDUAL,
        priority=Priority.MEDIUM,
        service_id="HN-SESAL-SPS",
        agency_id="hn-sesal",
        requested_at=START,
        respond_by=START + timedelta(hours=48),
    )


async def test_an_arrival_schedules_the_first_contact_90_days_later(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    assert await service.deliver(HANDLERS, arrival()) is Outcome.PROCESSED
    [scheduled] = await service.emitted()
    assert isinstance(scheduled, FollowupScheduled)
    assert scheduled.reason is FollowupReason.POST_ARRIVAL
    assert scheduled.due_at == START + timedelta(days=90)


async def test_the_same_arrival_resent_under_a_new_event_id_schedules_nothing_more(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    event = arrival()
    assert await service.deliver(HANDLERS, event, event_id="first") is Outcome.PROCESSED
    assert await service.deliver(HANDLERS, event, event_id="first") is Outcome.DUPLICATE
    assert await service.deliver(HANDLERS, event, event_id="second") is Outcome.PROCESSED
    assert len(await service.rows(followups)) == 1
    assert len(await service.rows(kit_tables.timers)) == 1
    assert len(await service.emitted()) == 1


async def test_a_referral_gets_one_check_even_when_resent(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    event = referral_requested()
    for event_id in ("a", "b"):
        assert await service.deliver(HANDLERS, event, event_id=event_id) is Outcome.PROCESSED
    [row] = await service.rows(followups)
    assert row.reason == "referral_check"
    assert row.due_at.replace(tzinfo=UTC) == START + timedelta(days=14)


async def test_the_follow_up_falls_due_once_when_its_time_comes(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    await service.deliver(HANDLERS, arrival())
    clock = service.clock
    assert isinstance(clock, ManualClock)
    assert await service.fire_timers(TIMERS) == 0
    clock.advance(timedelta(days=89, hours=23))
    assert await service.fire_timers(TIMERS) == 0
    clock.advance(timedelta(hours=1))
    assert await service.fire_timers(TIMERS) == 1
    assert await service.fire_timers(TIMERS) == 0
    events = await service.emitted()
    assert [type(e) for e in events] == [FollowupScheduled, FollowupDue]
    [row] = await service.rows(followups)
    assert row.status == FollowupStatus.DUE.value


# Events about a case not known here (docs/adr/0060-events-about-unknown-cases.md) --------------------


async def test_a_referral_about_a_case_never_registered_waits_and_tells_no_one(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    assert await service.deliver(HANDLERS, referral_requested()) is Outcome.PROCESSED
    [row] = await service.rows(followups)
    assert row.status == FollowupStatus.WAITING_FOR_CASE.value
    assert await service.rows(kit_tables.timers) == []
    assert await service.emitted() == []


async def test_the_arrival_of_the_case_schedules_the_checks_that_waited_for_it_once(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    case = arrival()
    referral = referral_requested(case.case_id)
    assert await service.deliver(HANDLERS, referral) is Outcome.PROCESSED
    assert await service.deliver(HANDLERS, case, event_id="arrival-1") is Outcome.PROCESSED
    assert await service.deliver(HANDLERS, case, event_id="arrival-2") is Outcome.PROCESSED  # re-sent
    rows = await service.rows(followups)
    assert sorted((r.reason, r.status) for r in rows) == [
        ("post_arrival", "scheduled"),
        ("referral_check", "scheduled"),
    ]
    assert len(await service.rows(kit_tables.timers)) == 2
    scheduled = [e for e in await service.emitted() if isinstance(e, FollowupScheduled)]
    assert sorted(e.reason.value for e in scheduled) == ["post_arrival", "referral_check"]
    [check] = [e for e in scheduled if e.reason is FollowupReason.REFERRAL_CHECK]
    assert check.referral_id == referral.referral_id


async def test_a_referral_about_a_known_case_is_scheduled_at_once(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    case = arrival()
    await service.deliver(HANDLERS, case)
    await service.deliver(HANDLERS, referral_requested(case.case_id))
    statuses = {r.reason: r.status for r in await service.rows(followups)}
    assert statuses == {"post_arrival": "scheduled", "referral_check": "scheduled"}
    assert len(await service.emitted()) == 2


async def test_an_arrival_and_a_referral_of_one_case_handled_at_once_never_leave_the_check_waiting(
    service: HandlerHarness[FollowupUnitOfWork],
) -> None:
    # Two replicas may handle the reception and the referral topics of one case at the same time.
    for _ in range(15):
        case = arrival()
        arrival_consumer = service.consumer(HANDLERS, group="test-group")
        referral_consumer = service.consumer(HANDLERS, group="test-group")
        await asyncio.gather(
            referral_consumer.process(record_of(referral_requested(case.case_id))),
            arrival_consumer.process(record_of(case)),
        )
    rows = await service.rows(followups)
    assert len(rows) == 30
    assert {r.status for r in rows} == {"scheduled"}
    assert len(await service.rows(kit_tables.timers)) == 30
