"""``returnee_erased``: referral drops what it holds of a person reception erased."""

from __future__ import annotations

from reintegra_contracts.events.reception import ReturneeErased
from reintegra_kit.clock import Clock

from .domain import ErasedCase
from .handlers import stop_clock
from .repository import ReferralUnitOfWork


async def erase_case(event: ReturneeErased, uow: ReferralUnitOfWork, clock: Clock) -> None:
    """``returnee_erased`` → the case is recorded erased (later events about it keep and refer
    nothing); what matching knew of the person and any assessment waiting for them are dropped; each
    referral is erased by ``Referral.erase`` — an open one cancelled as ``returnee_erased`` (its agency
    told on every channel, its clocks stopped), every contact reference revoked, the history's words
    erased. A re-sent erasure changes nothing."""
    now = clock.now()
    if not await uow.cases.record_erased(ErasedCase.of(event, now)):
        return
    await uow.cases.forget(event.case_id)
    for referral in await uow.referrals.for_case(event.case_id):
        if referral.erase(now):
            await stop_clock(uow, referral.referral_id, "returnee_erased")
        await uow.referrals.save(referral)
