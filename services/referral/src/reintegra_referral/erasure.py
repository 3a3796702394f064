"""``returnee_erased``: referral drops what it holds of a person reception erased.

Reception destroyed the person's data key; referral keeps that the case was erased, so that an event
about the case arriving later (a re-sent arrival, an assessment, a concern, a consent) neither keeps
what matching may know of the person again nor refers anything for them.
"""

from __future__ import annotations

from reintegra_contracts.events.reception import ReturneeErased
from reintegra_kit.clock import Clock
from reintegra_kit.erasure import ErasedCase

from .handlers import stop_clock
from .repository import ReferralUnitOfWork


async def erase_case(event: ReturneeErased, uow: ReferralUnitOfWork, clock: Clock) -> None:
    """``returnee_erased`` → the case is recorded erased (later events about it keep and refer
    nothing), with whose record it was (its centre and country, for the access policy); what matching
    knew of the person and any assessment waiting for them are dropped; each referral is erased by
    ``Referral.erase`` — an open one cancelled as ``returnee_erased`` (its agency told on every
    channel, its clocks stopped), every contact reference revoked, the history's words erased. A
    re-sent erasure changes nothing."""
    await uow.cases.lock_case(
        event.case_id
    )  # an event of the case handled at this moment is seen, or sees this
    now = clock.now()
    scope = await uow.cases.scope(event.case_id)
    erased = ErasedCase.of(event, now)
    if not await uow.erasures.add(erased, reception_centre=scope.centre, country=scope.country):
        return
    await uow.cases.forget(event.case_id)
    for referral in await uow.referrals.for_case(event.case_id):
        if referral.erase(now):
            await stop_clock(uow, referral.referral_id, "returnee_erased")
        await uow.referrals.save(referral)
