"""Erasure: referral drops what it holds of a person reception erased — open referrals cancelled
(the agency told), contact references revoked, the history's words and what matching knew erased —
and later events about the case refer nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from reintegra_contracts.codelists import (
    CancellationReason,
    ConsentPurpose,
    ErasureReason,
    ServiceCategory,
)
from reintegra_contracts.events.partner import PartnerReferralCancelled
from reintegra_contracts.events.reception import ConsentRecorded, ReturneeErased
from reintegra_contracts.events.referral import ReferralCancelled
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import record_of
from reintegra_referral.directory_io import load_samples
from reintegra_referral.domain import ANSWER_TIMER, ConsentPolicy
from reintegra_referral.domain.commands import ImportDirectory
from reintegra_referral.erasure import erase_case
from reintegra_referral.handlers import record_consent, seed_directory
from reintegra_referral.orm import (
    case_profiles,
    erased_cases,
    pending_assessments,
    referral_history,
    referrals,
)

from .test_consent import consent, rows_of, scope
from .test_handlers import EVENTS, START, Harness, arrival, assessed, harness, need, of

ERASURE = {**EVENTS, ConsentRecorded: [record_consent], ReturneeErased: [erase_case]}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url, sharing=ConsentPolicy(timedelta(days=10))) as h:
        agencies_, services_ = load_samples()
        await h.handle(seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True))
        yield h


def erased(case_id: UUID) -> ReturneeErased:
    return ReturneeErased(
        case_id=case_id, returnee_id=uuid4(), erased_at=START, reason=ErasureReason.SUBJECT_REQUEST
    )


async def shared_and_held(service: Harness) -> UUID:
    """A case whose employment need went to its agency (consent) and whose health need waits."""
    case_id = uuid4()
    await service.deliver(ERASURE, arrival(case_id))
    await service.deliver(
        ERASURE, assessed(case_id, need(ServiceCategory.EMPLOYMENT), need(ServiceCategory.HEALTH))
    )
    await service.deliver(
        ERASURE,
        consent(
            case_id,
            scope(ConsentPurpose.REFERRAL, ServiceCategory.EMPLOYMENT),
            scope(ConsentPurpose.CONTACT_BY_PROVIDER, ServiceCategory.EMPLOYMENT),
        ),
    )
    return case_id


async def test_erasure_cancels_open_referrals_revokes_references_and_erases_words(service: Harness) -> None:
    case_id, other = await shared_and_held(service), await shared_and_held(service)
    before = await rows_of(service, case_id)
    assert (before["employment"].status, before["health"].status) == ("requested", "awaiting_consent")
    assert before["employment"].contact_reference is not None
    assert await service.deliver(ERASURE, erased(case_id)) is Outcome.PROCESSED

    after = await rows_of(service, case_id)
    assert {(r.status, r.cancel_reason, r.contact_reference) for r in after.values()} == {
        ("cancelled", "returnee_erased", None)
    }
    assert all(r.contact_reference_expires_at is None for r in after.values())
    cancelled = [e for e in of(await service.emitted(), ReferralCancelled) if e.case_id == case_id]
    assert {e.reason for e in cancelled} == {CancellationReason.RETURNEE_ERASED}
    assert len(cancelled) == 2
    [told] = of(await service.emitted(), PartnerReferralCancelled)  # only the agency that held one
    assert (told.referral_id, told.reason) == (
        before["employment"].referral_id,
        CancellationReason.RETURNEE_ERASED,
    )
    async with service.uow() as uow:
        timer = await uow.timers.get(ANSWER_TIMER, str(before["employment"].referral_id))
    assert timer is not None
    assert timer[0] == "cancelled"
    ids = {r.referral_id for r in after.values()}
    words = [h.detail for h in await service.rows(referral_history) if h.referral_id in ids]
    assert set(words) == {"", "returnee_erased"}  # the consent's basis and the routing words are gone
    profiles = {r.case_id for r in await service.rows(case_profiles)}
    assert case_id not in profiles
    assert other in profiles

    kept = await rows_of(service, other)  # everybody else intact
    assert (kept["employment"].status, kept["health"].status) == ("requested", "awaiting_consent")
    assert kept["employment"].contact_reference is not None
    other_ids = {r.referral_id for r in kept.values()}
    assert all(h.detail for h in await service.rows(referral_history) if h.referral_id in other_ids)


async def test_a_resent_erasure_changes_nothing_and_later_events_refer_nothing(service: Harness) -> None:
    case_id = await shared_and_held(service)
    erasure = erased(case_id)
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.PROCESSED
    emitted = len(await service.emitted())
    assert await service.deliver(ERASURE, erasure, event_id="erasure-1") is Outcome.DUPLICATE
    assert await service.deliver(ERASURE, erasure, event_id="erasure-2") is Outcome.PROCESSED
    assert len(await service.rows(erased_cases)) == 1
    # a re-sent arrival, a later assessment and consent about the case bring nothing back
    await service.deliver(ERASURE, arrival(case_id))
    await service.deliver(ERASURE, assessed(case_id, need(ServiceCategory.LEGAL_AID)))
    await service.deliver(ERASURE, consent(case_id))
    assert len(await service.emitted()) == emitted
    assert case_id not in {r.case_id for r in await service.rows(case_profiles)}
    assert len([r for r in await service.rows(referrals) if r.case_id == case_id]) == 2


async def test_in_one_consumer_batch_an_erasure_is_seen_by_the_events_after_it(service: Harness) -> None:
    """A batch locks its cases and reads their erasures once, up front (ADR 0031): an erasure handled
    in the batch must still stop the later events of its case, as one by one; other cases refer."""
    case_id, other = uuid4(), uuid4()
    batch = [
        arrival(case_id),
        arrival(other),
        erased(case_id),
        assessed(case_id, need(ServiceCategory.LEGAL_AID)),
        assessed(other, need(ServiceCategory.LEGAL_AID)),
    ]
    outcomes = await service.consumer(ERASURE).process_batch([record_of(e) for e in batch])
    assert outcomes == [Outcome.PROCESSED] * len(batch)
    assert [r.case_id for r in await service.rows(referrals)] == [other]
    assert case_id not in {r.case_id for r in await service.rows(case_profiles)}
    assert await service.rows(pending_assessments) == []  # not kept to wait for an arrival either
    assert len(await service.rows(erased_cases)) == 1
