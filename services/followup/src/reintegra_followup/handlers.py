"""Follow-up's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save.

Reception alone opens cases (docs/adr/0060-events-about-unknown-cases.md): ``arrival_registered`` makes
a case known here; a referral about a case not known yet waits for that arrival instead of acting.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from reintegra_contracts.codelists import FollowupCancellationReason
from reintegra_contracts.events.followup import FollowupReason
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    ReturneeErased,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.clock import Clock
from reintegra_kit.domain import NotFoundError
from reintegra_kit.erasure import ErasedCase
from reintegra_kit.logging import get_logger
from reintegra_kit.timers import Timer

from .domain import (
    DUE_TIMER,
    ContactConsent,
    Followup,
    FollowupStatus,
    business_key,
    contact_stopped,
)
from .repository import FollowupUnitOfWork
from .settings import FollowupSettings

log = get_logger(__name__)


async def _stopped(
    uow: FollowupUnitOfWork, case_id: UUID, now: datetime
) -> FollowupCancellationReason | None:
    """Why no contact may be scheduled for the case now (erased at reception, or consent to be
    contacted withdrawn), or None."""
    if await uow.erasures.get(case_id) is not None:
        return FollowupCancellationReason.RETURNEE_ERASED
    if contact_stopped(await uow.consents.of_case(case_id), now):
        return FollowupCancellationReason.CONSENT_WITHDRAWN
    return None


async def _save_new(
    uow: FollowupUnitOfWork, followup: Followup, stopped: FollowupCancellationReason | None, now: datetime
) -> None:
    """Record a follow-up whose business key is new: scheduled, or — ``stopped`` (see
    :func:`_stopped`) — recorded as cancelled with why."""
    if stopped is not None:
        # the person was erased or withdrew consent to be contacted: recorded, cancelled with why
        followup.cancel(stopped, now)
        await uow.followups.save(followup)
        return
    await _save(uow, followup)


async def _save(uow: FollowupUnitOfWork, followup: Followup) -> None:
    await uow.followups.save(followup)
    if followup.status is FollowupStatus.SCHEDULED:
        await uow.timers.schedule_later(
            DUE_TIMER, str(followup.followup_id), followup.due_at, case_id=followup.case_id
        )


async def schedule_after_arrival(
    event: ArrivalRegistered, uow: FollowupUnitOfWork, clock: Clock, settings: FollowupSettings
) -> None:
    """``arrival_registered`` → the case's first follow-up contact (one per case); the case is now
    known, so the follow-ups that waited for it are scheduled."""
    await uow.followups.lock_case(event.case_id)
    await uow.case_scopes.record(event.case_id, event.reception_centre, event.country_of_return)
    if await uow.followups.by_business_key(business_key(FollowupReason.POST_ARRIVAL, event.case_id, None)):
        # the arrival again (maybe under a new event id): its follow-up exists, and no check can be
        # waiting for a case whose arrival was handled (checks of a known case never wait)
        return
    due = event.arrived_at + settings.first_followup_after
    now = clock.now()
    stopped = await _stopped(uow, event.case_id, now)
    await _save_new(
        uow, Followup.schedule(event.case_id, FollowupReason.POST_ARRIVAL, due, now), stopped, now
    )
    for waiting in await uow.followups.waiting_for_case(event.case_id):
        if stopped is not None:
            waiting.cancel(stopped, now)
        else:
            waiting.start()
        await _save(uow, waiting)


async def schedule_referral_check(
    event: ReferralRequested, uow: FollowupUnitOfWork, clock: Clock, settings: FollowupSettings
) -> None:
    """``referral_requested`` → check with the person that the service was received (one per
    referral); for a case not known here yet, the check waits for the case's arrival."""
    await uow.followups.lock_case(event.case_id)
    arrival = business_key(FollowupReason.POST_ARRIVAL, event.case_id, None)
    check = business_key(FollowupReason.REFERRAL_CHECK, event.case_id, event.referral_id)
    existing = await uow.followups.by_business_keys([arrival, check])  # one statement for both
    if check in existing:
        return  # the same referral re-sent (maybe under a new event id): nothing new
    due = event.requested_at + settings.referral_check_after
    now = clock.now()
    followup = Followup.schedule(
        event.case_id,
        FollowupReason.REFERRAL_CHECK,
        due,
        now,
        referral_id=event.referral_id,
        case_known=arrival in existing,
    )
    await _save_new(uow, followup, await _stopped(uow, event.case_id, now), now)


async def followup_falls_due(timer: Timer, uow: FollowupUnitOfWork, clock: Clock) -> None:
    """The durable timer fired: the follow-up falls due (``followup_due``, in the case's trace)."""
    followup = await uow.followups.get(UUID(timer.key))
    if followup is None:
        raise NotFoundError(f"follow-up {timer.key} not found")
    followup.fall_due(clock.now())
    await uow.followups.save(followup)


async def move_merged_cases(event: ReturneeRecordsMerged, uow: FollowupUnitOfWork, clock: Clock) -> None:
    """``returnee_records_merged`` → the follow-ups of a duplicate registration: its post-arrival
    contact is cancelled (with its timer), its referral checks and its consents re-keyed to the
    surviving case."""
    for case_id in event.merged_case_ids:
        await uow.consents.rekey(case_id, event.case_id)
        for followup in await uow.followups.for_case(case_id):
            if followup.move_to(event.case_id, clock.now()):
                await uow.timers.cancel(DUE_TIMER, str(followup.followup_id))
            await uow.followups.save(followup)


async def record_contact_consent(event: ConsentRecorded, uow: FollowupUnitOfWork) -> None:
    """``consent_recorded`` → whether the person agreed to be contacted for follow-up (kept per case)."""
    await uow.consents.add(ContactConsent.recorded(event))


async def withdraw_contact_consent(event: ConsentWithdrawn, uow: FollowupUnitOfWork, clock: Clock) -> None:
    """``consent_withdrawn`` → if the person may no longer be contacted for follow-up, every scheduled
    contact of the case is cancelled (``followup_cancelled``, reason ``consent_withdrawn``) with its
    timer."""
    # a follow-up scheduled at this moment by another replica is seen (and cancelled), or sees this
    # withdrawal (and is recorded cancelled) — never scheduled past the withdrawal
    await uow.followups.lock_case(event.case_id)
    known = await uow.consents.get(event.consent_id)
    if known is None:
        log.warning("followup.withdrawal_of_unknown_consent", consent_id=str(event.consent_id))
        return
    await uow.consents.replace(known.withdraw(event))
    now = clock.now()
    if not contact_stopped(await uow.consents.of_case(known.case_id), now):
        return
    for followup in await uow.followups.for_case(known.case_id):
        if followup.cancel(FollowupCancellationReason.CONSENT_WITHDRAWN, now):
            await uow.timers.cancel(DUE_TIMER, str(followup.followup_id))
            await uow.followups.save(followup)


async def erase_case(event: ReturneeErased, uow: FollowupUnitOfWork, clock: Clock) -> None:
    """``returnee_erased`` → the case is recorded erased (later events about it schedule nothing) and
    every contact still to come is cancelled with its timer (``followup_cancelled``, reason
    ``returnee_erased``). Follow-up holds no free text on a person; codes and dates stay for
    statistics. A re-sent erasure changes nothing."""
    await uow.followups.lock_case(event.case_id)
    now = clock.now()
    if not await uow.erasures.add(ErasedCase.of(event, now)):
        return
    for followup in await uow.followups.for_case(event.case_id):
        if followup.erase(now):
            await uow.timers.cancel(DUE_TIMER, str(followup.followup_id))
            await uow.followups.save(followup)
