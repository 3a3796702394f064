"""Referral's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import Dimension, Level, Priority, ServiceCategory
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_referral.bootstrap import SPEC
from reintegra_referral.directory_file import SAMPLE_DIRECTORY, load_directory
from reintegra_referral.handlers import refer_needs, seed_directory
from reintegra_referral.orm import kit_tables, referrals
from reintegra_referral.repository import ReferralUnitOfWork

START = datetime(2026, 11, 20, 14, tzinfo=UTC)
HANDLERS = {AssessmentCompleted: [refer_needs]}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[ReferralUnitOfWork]]:
    async with HandlerHarness(
        database_url, spec=SPEC, tables=kit_tables, uow_class=ReferralUnitOfWork, clock=ManualClock(START)
    ) as harness:
        await harness.handle(seed_directory, load_directory(SAMPLE_DIRECTORY))
        yield harness


def need(category: ServiceCategory, priority: Priority = Priority.MEDIUM) -> Need:
    return Need(
        need_id=uuid4(), category=category, dimension=Dimension.SOCIAL, level=Level.INDIVIDUAL, priority=priority
    )


def assessed(*needs: Need, municipality: str = "HN-0501") -> AssessmentCompleted:
    return AssessmentCompleted(
        case_id=uuid4(),
        assessment_id=uuid4(),
        completed_at=START,
        instrument="rss",
        instrument_version="1",
        priority=Priority.MEDIUM,
        destination_municipality=municipality,
        needs=list(needs),
    )


async def test_each_need_is_referred_once_even_when_the_assessment_is_resent(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    event = assessed(need(ServiceCategory.HEALTH), need(ServiceCategory.CHILD_PROTECTION, Priority.URGENT))
    assert await service.deliver(HANDLERS, event, event_id="one") is Outcome.PROCESSED
    assert await service.deliver(HANDLERS, event, event_id="two") is Outcome.PROCESSED
    assert len(await service.rows(referrals)) == 2
    requested = await service.emitted()
    assert all(isinstance(e, ReferralRequested) for e in requested)
    urgent = next(e for e in requested if isinstance(e, ReferralRequested) and e.priority is Priority.URGENT)
    assert urgent.respond_by <= START + timedelta(hours=4)


async def test_a_need_no_service_covers_is_kept_unmatched_and_not_published(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    await service.deliver(HANDLERS, assessed(need(ServiceCategory.HEALTH), municipality="XX-0000"))
    [row] = await service.rows(referrals)
    assert row.status == "unmatched"
    assert await service.emitted() == []
