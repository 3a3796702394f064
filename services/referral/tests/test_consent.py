"""Sharing enforced where it happens: referral shares a referral with its agency only under a recorded
consent (or vital-interest override) covering the agency and purpose, releases held referrals when a
consent arrives, and cancels everywhere when it is withdrawn (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from reintegra_contracts.codelists import (
    CancellationReason,
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    ReferralStatus,
    ServiceCategory,
    StaffRole,
)
from reintegra_contracts.events.partner import (
    AcceptReferral,
    PartnerReferralCancelled,
    PartnerReferralRequested,
    RecordServiceDelivery,
    StartService,
)
from reintegra_contracts.events.reception import (
    ConsentRecorded,
    ConsentScope,
    ConsentWithdrawn,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.referral import ReferralCancelled, ReferralHeld, ReferralRequested
from reintegra_kit.auth import RecordFilter
from reintegra_kit.consumer import Outcome
from reintegra_kit.settings import SettingsError, load_settings
from reintegra_kit.testing.handlers import record_of
from reintegra_kit.testing.statements import reads_of
from reintegra_referral.bootstrap import sharing_policy
from reintegra_referral.directory_io import load_samples
from reintegra_referral.domain import (
    ANSWER_TIMER,
    SHARING_PURPOSES,
    CaseConsent,
    ConsentPolicy,
    Grant,
    Scope,
    ShareEverything,
)
from reintegra_referral.domain.commands import ImportDirectory
from reintegra_referral.handlers import record_consent, seed_directory, withdraw_consent
from reintegra_referral.immediate import refer_immediate_needs
from reintegra_referral.merges import rekey_merged_cases
from reintegra_referral.orm import partner_messages, referral_history, referrals
from reintegra_referral.settings import ReferralSettings

from .test_handlers import (
    EVENTS,
    START,
    Harness,
    arrival,
    assessed,
    command,
    harness,
    need,
    of,
)
from .test_immediate import child_alone

CONSENT = {
    ConsentRecorded: [record_consent],
    ConsentWithdrawn: [withdraw_consent],
    ReturneeRecordsMerged: [rekey_merged_cases],
}
TTL = timedelta(days=10)


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url, sharing=ConsentPolicy(TTL)) as h:
        agencies_, services_ = load_samples()
        await h.handle(seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True))
        yield h


def scope(
    purpose: ConsentPurpose, *categories: ServiceCategory, agencies: tuple[str, ...] = ()
) -> ConsentScope:
    return ConsentScope(purpose=purpose, service_categories=list(categories), agencies=list(agencies))


def consent(
    case_id: UUID,
    *scopes: ConsentScope,
    basis: ConsentBasis = ConsentBasis.CONSENT,
    given_by: ConsentGiver = ConsentGiver.SELF,
    valid_for: timedelta | None = None,
    starts: timedelta = timedelta(0),
) -> ConsentRecorded:
    return ConsentRecorded(
        case_id=case_id,
        consent_id=uuid4(),
        returnee_id=uuid4(),
        recorded_at=START,
        basis=basis,
        given_by=given_by,
        method=ConsentMethod.WRITTEN,
        scopes=list(scopes) or [scope(ConsentPurpose.REFERRAL), scope(ConsentPurpose.CONTACT_BY_PROVIDER)],
        valid_from=START + starts,
        valid_until=START + starts + valid_for if valid_for else None,
        recorded_by_role=StaffRole.MENTAL_HEALTH_PROFESSIONAL
        if basis is ConsentBasis.VITAL_INTEREST
        else StaffRole.CASE_WORKER,
    )


def withdrawal(recorded: ConsentRecorded, *scopes: ConsentScope) -> ConsentWithdrawn:
    return ConsentWithdrawn(
        case_id=recorded.case_id,
        consent_id=recorded.consent_id,
        returnee_id=recorded.returnee_id,
        withdrawn_at=START,
        withdrawn_by=ConsentGiver.SELF,
        scopes=list(scopes),
    )


async def held_case(service: Harness, *categories: ServiceCategory) -> UUID:
    """An arrival and an assessment with these needs, every referral held (no consent yet)."""
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id))
    await service.deliver(EVENTS, assessed(case_id, *(need(c) for c in categories)))
    return case_id


async def rows_of(service: Harness, case_id: UUID) -> dict[str, Any]:
    return {r.category: r for r in await service.rows(referrals) if r.case_id == case_id}


async def test_without_consent_a_referral_waits_and_nothing_reaches_the_agency(service: Harness) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT)
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "awaiting_consent"
    [held] = of(await service.emitted(), ReferralHeld)
    assert held.agency_id == "hn-senaeh"
    assert of(await service.emitted(), PartnerReferralRequested) == []
    assert await service.rows(partner_messages) == []
    [entry] = await service.rows(referral_history)
    assert entry.detail == "no valid consent covers referral of employment to hn-senaeh"
    async with service.uow() as uow:
        assert await uow.referrals.count_by_agency(ReferralStatus.AWAITING_CONSENT) == {"hn-senaeh": 1}


async def test_a_consent_releases_the_held_referrals_it_covers_with_an_expiring_contact_reference(
    service: Harness,
) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT, ServiceCategory.HEALTH)
    given = consent(
        case_id,
        scope(ConsentPurpose.REFERRAL, ServiceCategory.EMPLOYMENT),
        scope(ConsentPurpose.CONTACT_BY_PROVIDER, ServiceCategory.EMPLOYMENT),
    )
    assert await service.deliver(CONSENT, given) is Outcome.PROCESSED
    rows = await rows_of(service, case_id)
    assert rows["employment"].status == "requested"
    assert rows["health"].status == "awaiting_consent"  # not covered: it keeps waiting
    [requested] = of(await service.emitted(), ReferralRequested)
    [view] = of(await service.emitted(), PartnerReferralRequested)
    assert requested.consent_id == given.consent_id
    assert requested.contact_reference == view.contact_reference == rows["employment"].contact_reference
    assert view.contact_reference is not None
    assert view.contact_reference.startswith("cref-")
    assert len(view.contact_reference) >= 5 + 22  # 128 random bits, url-safe
    assert view.contact_reference_available is True
    assert requested.contact_reference_expires_at == view.contact_reference_expires_at == START + TTL
    async with service.uow() as uow:
        timer = await uow.timers.get(ANSWER_TIMER, str(requested.referral_id))
    assert timer is not None
    assert timer[0] == "scheduled"
    history = [h for h in await service.rows(referral_history) if h.referral_id == requested.referral_id]
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, "awaiting_consent"),
        ("awaiting_consent", "requested"),
    ]
    assert f"consent {given.consent_id}" in history[-1].detail


async def test_a_consent_recorded_first_lets_the_referral_go_at_once(service: Harness) -> None:
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id))
    await service.deliver(CONSENT, consent(case_id, scope(ConsentPurpose.REFERRAL)))
    await service.deliver(EVENTS, assessed(case_id, need(ServiceCategory.HEALTH)))
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "requested"
    [view] = of(await service.emitted(), PartnerReferralRequested)
    assert view.contact_reference_available is False  # no scope contact_by_provider


async def test_a_consent_and_an_assessment_of_one_case_handled_at_once_never_leave_the_referral_held(
    service: Harness,
) -> None:
    # Two replicas may read the consent (reception's topic) and the assessment (assessment's topic)
    # of one case at the same time: the per-case lock makes one see the other's work — without it,
    # the assessment saw no consent and held its referral while the consent saw no referral to release.
    for _ in range(12):
        case_id = uuid4()
        await service.deliver(EVENTS, arrival(case_id))
        consents = service.consumer(CONSENT, group="test-group")
        assessments = service.consumer(EVENTS, group="test-group")
        await asyncio.gather(
            assessments.process(record_of(assessed(case_id, need(ServiceCategory.HEALTH)))),
            consents.process(record_of(consent(case_id, scope(ConsentPurpose.REFERRAL)))),
        )
        [row] = (await rows_of(service, case_id)).values()
        assert row.status == "requested"


async def test_a_consent_naming_other_agencies_or_only_contact_or_not_yet_valid_shares_nothing(
    service: Harness,
) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT)
    await service.deliver(CONSENT, consent(case_id, scope(ConsentPurpose.REFERRAL, agencies=("hn-infop",))))
    await service.deliver(CONSENT, consent(case_id, scope(ConsentPurpose.CONTACT_BY_PROVIDER)))
    await service.deliver(CONSENT, consent(case_id, scope(ConsentPurpose.REFERRAL), starts=timedelta(days=2)))
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "awaiting_consent"
    assert of(await service.emitted(), PartnerReferralRequested) == []
    named = consent(case_id, scope(ConsentPurpose.REFERRAL, agencies=("hn-senaeh",)))
    await service.deliver(CONSENT, named)
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "requested"


async def test_withdrawal_cancels_what_the_agency_holds_and_tells_it_on_every_channel(
    service: Harness,
) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT, ServiceCategory.HEALTH)
    given = consent(case_id)
    await service.deliver(CONSENT, given)
    views = {v.category: v for v in of(await service.emitted(), PartnerReferralRequested)}
    health = views[ServiceCategory.HEALTH]
    ids = {"case_id": case_id, "referral_id": health.referral_id, "agency_id": health.agency_id}
    for step in (
        AcceptReferral(**ids, accepted_at=START),
        StartService(**ids, started_at=START),
        RecordServiceDelivery(
            **ids, delivery_id=uuid4(), service_id=health.service_id, delivered_at=START, final=True
        ),
    ):
        assert await command(service, step) is Outcome.PROCESSED

    assert await service.deliver(CONSENT, withdrawal(given)) is Outcome.PROCESSED

    rows = await rows_of(service, case_id)
    assert (rows["employment"].status, rows["employment"].cancel_reason) == ("cancelled", "consent_withdrawn")
    assert rows["health"].status == "completed"  # what is over stays as it ended
    [cancelled] = of(await service.emitted(), ReferralCancelled)
    [told] = of(await service.emitted(), PartnerReferralCancelled)
    employment = views[ServiceCategory.EMPLOYMENT]
    assert cancelled.referral_id == told.referral_id == employment.referral_id
    assert told.reason is cancelled.reason is CancellationReason.CONSENT_WITHDRAWN
    assert told.agency_id == "hn-senaeh"
    feed = [m for m in await service.rows(partner_messages) if m.agency_id == "hn-senaeh"]
    assert [m.event_type for m in feed] == [
        "org.reintegra.partner.referral_requested.v1",
        "org.reintegra.partner.referral_cancelled.v1",
    ]
    async with service.uow() as uow:
        timer = await uow.timers.get(ANSWER_TIMER, str(employment.referral_id))
    assert timer is not None
    assert timer[0] == "cancelled"
    # the agency's late answer is refused: the referral is over
    late = AcceptReferral(
        case_id=case_id, referral_id=employment.referral_id, agency_id="hn-senaeh", accepted_at=START
    )
    assert await command(service, late) is Outcome.REFUSED


async def test_withdrawing_one_purpose_for_one_agency_cancels_only_what_it_allowed(service: Harness) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT, ServiceCategory.HEALTH)
    given = consent(case_id, scope(ConsentPurpose.REFERRAL))
    await service.deliver(CONSENT, given)
    await service.deliver(CONSENT, withdrawal(given, scope(ConsentPurpose.REFERRAL, agencies=("hn-sesal",))))
    rows = await rows_of(service, case_id)
    assert rows["health"].status == "cancelled"
    assert rows["employment"].status == "requested"
    # withdrawing only contact by providers leaves the referrals alone
    await service.deliver(CONSENT, withdrawal(given, scope(ConsentPurpose.CONTACT_BY_PROVIDER)))
    assert (await rows_of(service, case_id))["employment"].status == "requested"


async def test_a_withdrawal_leaves_a_referral_another_consent_still_allows(service: Harness) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT)
    first, second = consent(case_id), consent(case_id, scope(ConsentPurpose.SHARE_WITH_PROVIDER))
    await service.deliver(CONSENT, first)
    await service.deliver(CONSENT, second)
    await service.deliver(CONSENT, withdrawal(first))
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "requested"
    assert of(await service.emitted(), PartnerReferralCancelled) == []


async def test_a_vital_interest_override_shares_without_consent_while_it_is_valid(service: Harness) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT, ServiceCategory.HEALTH)
    expired = consent(
        case_id,
        scope(ConsentPurpose.REFERRAL, ServiceCategory.EMPLOYMENT),
        basis=ConsentBasis.VITAL_INTEREST,
        starts=-timedelta(days=3),
        valid_for=timedelta(days=1),
    )
    await service.deliver(CONSENT, expired)
    assert {r.status for r in (await rows_of(service, case_id)).values()} == {"awaiting_consent"}
    override = consent(
        case_id,
        scope(ConsentPurpose.REFERRAL, ServiceCategory.HEALTH),
        basis=ConsentBasis.VITAL_INTEREST,
        valid_for=timedelta(hours=72),
    )
    await service.deliver(CONSENT, override)
    rows = await rows_of(service, case_id)
    assert (rows["health"].status, rows["employment"].status) == ("requested", "awaiting_consent")
    [requested] = of(await service.emitted(), ReferralRequested)
    assert requested.consent_id is None  # shared under the override, not a consent
    [entry] = [
        h
        for h in await service.rows(referral_history)
        if h.referral_id == requested.referral_id and h.to_status == "requested"
    ]
    assert f"vital-interest override {override.consent_id}" in entry.detail


async def test_a_childs_referral_to_child_protection_goes_with_a_guardians_consent(service: Harness) -> None:
    child = child_alone()
    await service.deliver({type(child): [*EVENTS[type(child)], refer_immediate_needs]}, child)
    rows = await rows_of(service, child.case_id)
    assert {c: (r.agency_id, r.status) for c, r in rows.items()} == {
        "child_protection": ("hn-senaf", "awaiting_consent"),
        "health": ("hn-sesal", "awaiting_consent"),
    }
    guardian = consent(
        child.case_id,
        scope(ConsentPurpose.REFERRAL, ServiceCategory.CHILD_PROTECTION),
        given_by=ConsentGiver.GUARDIAN,
    )
    await service.deliver(CONSENT, guardian)
    [view] = of(await service.emitted(), PartnerReferralRequested)
    assert (view.agency_id, view.category) == ("hn-senaf", ServiceCategory.CHILD_PROTECTION)
    assert (await rows_of(service, child.case_id))["health"].status == "awaiting_consent"


async def test_a_consent_recorded_twice_or_a_withdrawal_of_an_unknown_consent_changes_nothing(
    service: Harness,
) -> None:
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT)
    given = consent(case_id)
    await service.deliver(CONSENT, given, event_id="one")
    await service.deliver(CONSENT, given, event_id="two")
    assert len(of(await service.emitted(), ReferralRequested)) == 1
    stranger = consent(case_id)
    assert await service.deliver(CONSENT, withdrawal(stranger)) is Outcome.PROCESSED
    [row] = (await rows_of(service, case_id)).values()
    assert row.status == "requested"


async def test_consents_of_a_merged_case_follow_it_into_the_surviving_case(service: Harness) -> None:
    duplicate, surviving = uuid4(), await held_case(service, ServiceCategory.EMPLOYMENT)
    await service.deliver(EVENTS, arrival(duplicate))
    given = consent(duplicate)
    await service.deliver(CONSENT, given)
    merge = ReturneeRecordsMerged(
        case_id=surviving,
        surviving_returnee_id=uuid4(),
        merged_returnee_ids=[uuid4()],
        merged_case_ids=[duplicate],
        merged_at=START,
        decided_by_role=StaffRole.CASE_WORKER,
    )
    await service.deliver(CONSENT, merge)
    async with service.uow() as uow:
        assert [g.consent_id for g in (await uow.consents.of_case(surviving)).grants] == [given.consent_id]


# -- the rules, without a database ------------------------------------------------------------------


def test_a_consent_covers_its_purposes_agencies_and_categories_minus_what_was_withdrawn() -> None:
    case_id = uuid4()
    recorded = consent(
        case_id,
        scope(ConsentPurpose.REFERRAL, ServiceCategory.HEALTH, ServiceCategory.EMPLOYMENT),
        scope(ConsentPurpose.CONTACT_BY_PROVIDER, agencies=("hn-sesal",)),
        valid_for=timedelta(days=30),
    )
    grant = Grant.recorded(recorded)
    referral = (ConsentPurpose.REFERRAL,)
    assert grant.covers(referral, "hn-sesal", ServiceCategory.HEALTH, START)
    assert grant.covers(referral, "any-agency", ServiceCategory.EMPLOYMENT, START)
    assert not grant.covers(referral, "hn-sesal", ServiceCategory.SHELTER, START)
    assert grant.covers((ConsentPurpose.CONTACT_BY_PROVIDER,), "hn-sesal", ServiceCategory.SHELTER, START)
    assert not grant.covers((ConsentPurpose.CONTACT_BY_PROVIDER,), "hn-senaeh", ServiceCategory.HEALTH, START)
    assert not grant.covers(referral, "hn-sesal", ServiceCategory.HEALTH, START - timedelta(seconds=1))
    assert not grant.covers(referral, "hn-sesal", ServiceCategory.HEALTH, START + timedelta(days=30))
    partly = grant.withdraw(withdrawal(recorded, scope(ConsentPurpose.REFERRAL, ServiceCategory.HEALTH)))
    assert not partly.covers(referral, "hn-sesal", ServiceCategory.HEALTH, START)
    assert partly.covers(referral, "hn-sesal", ServiceCategory.EMPLOYMENT, START)
    whole = partly.withdraw(withdrawal(recorded))
    assert not whole.covers(referral, "hn-sesal", ServiceCategory.EMPLOYMENT, START)
    assert Grant.recorded(recorded).scopes == tuple(Scope.from_dict(s.as_dict()) for s in grant.scopes)


def test_the_persons_own_consent_is_the_basis_before_an_override_and_the_latest_first() -> None:
    case_id = uuid4()
    override = Grant.recorded(
        consent(case_id, basis=ConsentBasis.VITAL_INTEREST, valid_for=timedelta(days=3))
    )
    own = Grant.recorded(consent(case_id))
    state = CaseConsent(case_id, (override, own))
    assert state.covering(SHARING_PURPOSES, "hn-sesal", ServiceCategory.HEALTH, START) == own
    decision = ConsentPolicy(TTL).decide(case_id, "hn-sesal", ServiceCategory.HEALTH, state, START)
    assert (decision.allowed, decision.consent_id, decision.override_id) == (True, own.consent_id, None)
    assert decision.contact_reference_allowed
    only_override = CaseConsent(case_id, (override,))
    decision = ConsentPolicy(TTL).decide(case_id, "hn-sesal", ServiceCategory.HEALTH, only_override, START)
    assert (decision.consent_id, decision.override_id) == (None, override.consent_id)
    refused = ConsentPolicy(TTL).decide(case_id, "hn-sesal", ServiceCategory.HEALTH, None, START)
    assert not refused.allowed
    assert refused.contact_reference_expires_at is None


def test_the_settings_choose_the_sharing_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(sharing_policy(ReferralSettings()), ConsentPolicy)
    monkeypatch.setenv("REINTEGRA_SHARING_POLICY", "share_all")
    monkeypatch.setenv("REINTEGRA_CONTACT_REFERENCE_TTL", "P7D")
    chosen = sharing_policy(load_settings(ReferralSettings))
    assert isinstance(chosen, ShareEverything)
    assert chosen.contact_reference_ttl == timedelta(days=7)
    monkeypatch.setenv("REINTEGRA_SHARING_POLICY", "everything")
    monkeypatch.setenv("REINTEGRA_CONTACT_REFERENCE_TTL", "PT10S")
    with pytest.raises(SettingsError) as caught:
        load_settings(ReferralSettings)
    assert "REINTEGRA_SHARING_POLICY" in str(caught.value)
    assert "REINTEGRA_CONTACT_REFERENCE_TTL: Value error, must be between PT1M and P365D" in str(caught.value)


async def test_an_agency_sees_a_referral_only_once_it_was_sent_there(service: Harness) -> None:
    """Matched to hn-senaeh but held for consent: not yet hn-senaeh's record (issue 12: an agency sees
    only the referrals sent to it); once the consent releases it, it is."""
    case_id = await held_case(service, ServiceCategory.EMPLOYMENT)
    senaeh = RecordFilter(unrestricted=False, agencies=frozenset({"hn-senaeh"}))
    async with service.uow() as uow:
        assert await uow.referrals.for_case(case_id, visible_to=senaeh) == []
        assert await uow.referrals.count(ReferralStatus.AWAITING_CONSENT, visible_to=senaeh) == 0
    await service.deliver(CONSENT, consent(case_id, scope(ConsentPurpose.REFERRAL)))
    async with service.uow() as uow:
        [shared] = await uow.referrals.for_case(case_id, visible_to=senaeh)
        assert shared.status is ReferralStatus.REQUESTED
        other = RecordFilter(unrestricted=False, agencies=frozenset({"hn-sesal"}))
        assert await uow.referrals.for_case(case_id, visible_to=other) == []


async def test_in_one_consumer_batch_a_consent_recorded_or_withdrawn_is_seen_by_the_events_after_it(
    service: Harness,
) -> None:
    """A batch reads its cases' consents once, up front (ADR 0031): a consent recorded, and one
    withdrawn, in the batch must still decide the later referrals of their case, as one by one."""
    given, withdrawn, first, second = uuid4(), uuid4(), uuid4(), uuid4()
    for case_id in (given, withdrawn, first, second):
        assert await service.deliver(EVENTS, arrival(case_id)) is Outcome.PROCESSED
    before = consent(withdrawn, scope(ConsentPurpose.REFERRAL))
    for recorded in (before, consent(first, scope(ConsentPurpose.REFERRAL)), consent(second)):
        assert await service.deliver(CONSENT, recorded) is Outcome.PROCESSED
    handlers = {**EVENTS, **CONSENT}
    with reads_of(service.db.engine, "consents") as read:  # two cases' referrals, consents read once
        batch = [
            assessed(first, need(ServiceCategory.HEALTH)),
            assessed(second, need(ServiceCategory.HEALTH)),
        ]
        outcomes = await service.consumer(handlers).process_batch([record_of(e) for e in batch])
    assert outcomes == [Outcome.PROCESSED] * 2
    assert len(read) == 1
    for batch in (
        [consent(given, scope(ConsentPurpose.REFERRAL)), assessed(given, need(ServiceCategory.HEALTH))],
        [withdrawal(before), assessed(withdrawn, need(ServiceCategory.HEALTH))],
    ):
        outcomes = await service.consumer(handlers).process_batch([record_of(e) for e in batch])
        assert outcomes == [Outcome.PROCESSED] * 2
    for case_id in (given, first, second):
        assert [r.status for r in (await rows_of(service, case_id)).values()] == ["requested"]
    assert [r.status for r in (await rows_of(service, withdrawn)).values()] == ["awaiting_consent"]
