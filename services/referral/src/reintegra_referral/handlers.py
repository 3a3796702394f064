"""Referral's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save."""

from __future__ import annotations

from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger

from .domain import DirectoryService, Referral, ReferralStatus, match
from .repository import ReferralUnitOfWork

log = get_logger(__name__)


async def refer_needs(event: AssessmentCompleted, uow: ReferralUnitOfWork, clock: Clock) -> None:
    """``assessment_completed`` → one referral per need, to the best service of the directory.

    Idempotent by need: a need already referred (a re-sent or re-keyed event) is left as it is.
    """
    now = clock.now()
    for need in event.needs:
        if await uow.referrals.for_need(need.need_id) is not None:
            continue
        service = match(
            need.category, event.destination_municipality, await uow.directory.for_category(need.category)
        )
        referral = Referral.for_need(event, need, service, now)
        await uow.referrals.save(referral)
        if referral.status is ReferralStatus.UNMATCHED:
            log.warning("referral.unmatched", category=need.category.value)


async def seed_directory(services: list[DirectoryService], uow: ReferralUnitOfWork) -> None:
    """Replace the directory with ``services`` (run at start-up)."""
    await uow.directory.replace_all(services)
