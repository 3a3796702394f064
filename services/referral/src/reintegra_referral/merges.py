"""``returnee_records_merged``: the referrals and consents of a duplicate registration follow it into the case it
was merged into (reception decided, through a person's review, that both registrations are one
arrival of one person)."""

from __future__ import annotations

from reintegra_contracts.events.reception import ReturneeRecordsMerged

from .repository import ReferralUnitOfWork


async def rekey_merged_cases(event: ReturneeRecordsMerged, uow: ReferralUnitOfWork) -> None:
    """Re-key each referral — and each consent recorded on it — of a merged case to the surviving case
    (a re-sent event changes nothing)."""
    for case_id in event.merged_case_ids:
        await uow.consents.rekey(case_id, event.case_id)
        for referral in await uow.referrals.for_case(case_id):
            referral.case_id = event.case_id  # a change of key, not a step of the referral's lifecycle
            await uow.referrals.save(referral)
