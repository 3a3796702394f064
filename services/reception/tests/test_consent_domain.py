"""Consent rules without a database: who may give it, what a child alone may agree to, overrides,
withdrawal whole or per purpose, expiry, and what is published (never a note)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import (
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    OverrideJustification,
    ServiceCategory,
    StaffRole,
)
from reintegra_contracts.events.reception import ConsentRecorded, ConsentWithdrawn
from reintegra_kit.domain import ConflictError, ForbiddenError
from reintegra_reception.domain.commands import (
    Actor,
    ChildView,
    RecordConsent,
    RecordOverride,
    Scope,
    WithdrawConsent,
)
from reintegra_reception.domain.consent import (
    CaseConsent,
    ConsentRefusedError,
    ConsentStatus,
    ConsentSubject,
    OverrideRefusedError,
)

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
CASE, PERSON = uuid4(), uuid4()
ADULT = ConsentSubject(CASE, PERSON, 34, False, "HN")
CHILD_WITH_MOTHER = ConsentSubject(CASE, PERSON, 15, False, "HN")
CHILD_ALONE = ConsentSubject(CASE, PERSON, 15, True, "HN")
CASE_WORKER = Actor("u-cw", frozenset({"case_worker"}), centre="HN-CAMR-SPS", country="HN")
SENAF_OFFICER = Actor("u-po", frozenset({"protection_officer"}), agency="hn-senaf", country="HN")
PSYCHOLOGIST = Actor("u-mh", frozenset({"mental_health_professional"}), centre="HN-CAMR-SPS")

REFERRAL_HEALTH = Scope(ConsentPurpose.REFERRAL, frozenset({ServiceCategory.HEALTH}))
CONTACT_SESAL = Scope(ConsentPurpose.CONTACT_BY_PROVIDER, agencies=frozenset({"hn-sesal"}))
REFERRAL_PROTECTION = Scope(ConsentPurpose.REFERRAL, frozenset({ServiceCategory.CHILD_PROTECTION}))
STATISTICS = Scope(ConsentPurpose.STATISTICS)


def consent(**kw: object) -> RecordConsent:
    values: dict[str, object] = {
        "case_id": CASE,
        "given_by": ConsentGiver.SELF,
        "method": ConsentMethod.WRITTEN,
        "scopes": (REFERRAL_HEALTH, CONTACT_SESAL, STATISTICS),
        "actor": CASE_WORKER,
    }
    values.update(kw)
    return RecordConsent(**values)  # type: ignore[arg-type]


def override(**kw: object) -> RecordOverride:
    values: dict[str, object] = {
        "case_id": CASE,
        "justification": OverrideJustification.HIGH_SUICIDE_RISK,
        "note": "Expresses a concrete plan; cannot weigh the referral today.",
        "scopes": (Scope(ConsentPurpose.REFERRAL, frozenset({ServiceCategory.MENTAL_HEALTH})),),
        "valid_until": NOW + timedelta(days=3),
        "actor": PSYCHOLOGIST,
    }
    values.update(kw)
    return RecordOverride(**values)  # type: ignore[arg-type]


def test_an_adult_consents_for_themself_and_the_event_says_what_for() -> None:
    case = CaseConsent(CASE, PERSON)
    record = case.record_consent(consent(information_language="mam"), ADULT, NOW)
    [event] = case.pull_events()
    assert isinstance(event, ConsentRecorded)
    assert (event.consent_id, event.basis, event.given_by) == (
        record.consent_id,
        ConsentBasis.CONSENT,
        ConsentGiver.SELF,
    )
    assert event.recorded_by_role is StaffRole.CASE_WORKER
    assert event.information_language == "mam"
    assert [s.purpose for s in event.scopes] == [
        ConsentPurpose.REFERRAL,
        ConsentPurpose.CONTACT_BY_PROVIDER,
        ConsentPurpose.STATISTICS,
    ]
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-sesal", ServiceCategory.HEALTH) is record
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-sesal", ServiceCategory.EMPLOYMENT) is None
    assert (
        case.covering(ConsentPurpose.CONTACT_BY_PROVIDER, NOW, "hn-sesal", ServiceCategory.HEALTH) is record
    )
    assert case.covering(ConsentPurpose.CONTACT_BY_PROVIDER, NOW, "hn-infop", ServiceCategory.HEALTH) is None


def test_a_guardian_cannot_consent_for_an_adult() -> None:
    with pytest.raises(ConsentRefusedError, match=r"adult \(34\).*not guardian"):
        CaseConsent(CASE, PERSON).record_consent(consent(given_by=ConsentGiver.GUARDIAN), ADULT, NOW)


def test_a_child_cannot_consent_alone_to_sharing_with_a_non_protection_agency() -> None:
    with pytest.raises(
        ConsentRefusedError, match=r"child \(15\): a child cannot consent alone to referral for health"
    ):
        CaseConsent(CASE, PERSON).record_consent(consent(scopes=(REFERRAL_HEALTH,)), CHILD_ALONE, NOW)
    with pytest.raises(ConsentRefusedError, match="contact_by_provider for any service with hn-sesal"):
        CaseConsent(CASE, PERSON).record_consent(consent(scopes=(CONTACT_SESAL,)), CHILD_WITH_MOTHER, NOW)


def test_a_child_alone_may_agree_to_the_assessment_and_to_child_protection() -> None:
    case = CaseConsent(CASE, PERSON)
    scopes = (
        Scope(ConsentPurpose.ASSESSMENT),
        Scope(
            ConsentPurpose.REFERRAL, frozenset({ServiceCategory.CHILD_PROTECTION}), frozenset({"hn-senaf"})
        ),
    )
    case.record_consent(consent(scopes=scopes), CHILD_ALONE, NOW)
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-senaf", ServiceCategory.CHILD_PROTECTION)
    with pytest.raises(ConsentRefusedError, match="with gt-pgn"):  # another country's authority is not theirs
        case.record_consent(
            consent(
                scopes=(
                    Scope(
                        ConsentPurpose.REFERRAL,
                        frozenset({ServiceCategory.CHILD_PROTECTION}),
                        frozenset({"gt-pgn"}),
                    ),
                )
            ),
            CHILD_ALONE,
            NOW,
        )


def test_a_childs_referral_consent_comes_from_the_guardian_with_the_childs_view() -> None:
    case = CaseConsent(CASE, PERSON)
    with pytest.raises(ConsentRefusedError, match="record their own view"):
        case.record_consent(consent(given_by=ConsentGiver.GUARDIAN), CHILD_WITH_MOTHER, NOW)
    record = case.record_consent(
        consent(
            given_by=ConsentGiver.GUARDIAN,
            child_view=ChildView.AGREES,
            child_view_note="Quiere ver al médico",
        ),
        CHILD_WITH_MOTHER,
        NOW,
    )
    assert record.child_view is ChildView.AGREES
    [event] = case.pull_events()
    assert "médico" not in event.model_dump_json()  # the child's words stay at reception


def test_a_child_travelling_alone_needs_the_authority_recorded_by_its_protection_officer() -> None:
    with pytest.raises(ConsentRefusedError, match=r"travels without a parent or guardian.*\(hn-senaf\)"):
        CaseConsent(CASE, PERSON).record_consent(
            consent(given_by=ConsentGiver.GUARDIAN, child_view=ChildView.AGREES), CHILD_ALONE, NOW
        )
    authority = consent(given_by=ConsentGiver.CHILD_PROTECTION_AUTHORITY, child_view=ChildView.DISAGREES)
    with pytest.raises(ConsentRefusedError, match="recorded by its protection officer"):
        CaseConsent(CASE, PERSON).record_consent(authority, CHILD_ALONE, NOW)
    case = CaseConsent(CASE, PERSON)
    case.record_consent(RecordConsent(**{**authority.__dict__, "actor": SENAF_OFFICER}), CHILD_ALONE, NOW)
    [event] = case.pull_events()
    assert event.recorded_by_role is StaffRole.PROTECTION_OFFICER


def test_bad_scopes_expiry_language_and_givers_are_refused_with_a_reason() -> None:
    case = CaseConsent(CASE, PERSON)
    with pytest.raises(ConsentRefusedError, match="at least one purpose"):
        case.record_consent(consent(scopes=()), ADULT, NOW)
    with pytest.raises(ConsentRefusedError, match="statistics is not about sharing"):
        case.record_consent(
            consent(scopes=(Scope(ConsentPurpose.STATISTICS, agencies=frozenset({"hn-ine"})),)), ADULT, NOW
        )
    with pytest.raises(ConsentRefusedError, match="valid_until is not in the future"):
        case.record_consent(consent(valid_until=NOW - timedelta(days=1)), ADULT, NOW)
    with pytest.raises(ConsentRefusedError, match="BCP 47"):
        case.record_consent(consent(information_language="Spanish"), ADULT, NOW)
    with pytest.raises(ConsentRefusedError, match="override"):
        case.record_consent(consent(given_by=ConsentGiver.NOT_GIVEN), ADULT, NOW)
    with pytest.raises(ConsentRefusedError, match="only for a child"):
        case.record_consent(consent(child_view=ChildView.AGREES), ADULT, NOW)
    with pytest.raises(ForbiddenError, match="your roles: agency_partner"):
        case.record_consent(consent(actor=Actor("p", frozenset({"agency_partner"}))), ADULT, NOW)
    assert case.records == []
    assert case.pull_events() == []


def test_a_consent_expires() -> None:
    case = CaseConsent(CASE, PERSON)
    record = case.record_consent(consent(valid_until=NOW + timedelta(days=30)), ADULT, NOW)
    later = NOW + timedelta(days=31)
    assert case.covering(ConsentPurpose.STATISTICS, later) is None
    assert record.status(later) is ConsentStatus.EXPIRED
    assert "expired on 2026-12-20" in case.why_not(ConsentPurpose.STATISTICS, later)
    assert [e.action for e in case.history(later)] == ["recorded", "expired"]


def test_withdrawal_per_purpose_then_whole_with_history() -> None:
    case = CaseConsent(CASE, PERSON)
    record = case.record_consent(consent(), ADULT, NOW)
    case.pull_events()
    later = NOW + timedelta(hours=2)
    case.withdraw(
        WithdrawConsent(
            CASE, ConsentGiver.SELF, CASE_WORKER, purposes=frozenset({ConsentPurpose.CONTACT_BY_PROVIDER})
        ),
        ADULT,
        later,
    )
    [event] = case.pull_events()
    assert isinstance(event, ConsentWithdrawn)
    assert [s.purpose for s in event.scopes] == [ConsentPurpose.CONTACT_BY_PROVIDER]
    assert record.status(later) is ConsentStatus.PARTLY_WITHDRAWN
    assert case.covering(ConsentPurpose.CONTACT_BY_PROVIDER, later, "hn-sesal") is None
    assert "was withdrawn on" in case.why_not(ConsentPurpose.CONTACT_BY_PROVIDER, later, "hn-sesal")
    assert case.covering(ConsentPurpose.REFERRAL, later, "hn-sesal", ServiceCategory.HEALTH) is record
    with pytest.raises(ConflictError, match="covers contact_by_provider"):
        case.withdraw(
            WithdrawConsent(
                CASE, ConsentGiver.SELF, CASE_WORKER, purposes=frozenset({ConsentPurpose.CONTACT_BY_PROVIDER})
            ),
            ADULT,
            later,
        )
    case.withdraw(WithdrawConsent(CASE, ConsentGiver.SELF, CASE_WORKER), ADULT, later + timedelta(hours=1))
    [whole] = case.pull_events()
    assert isinstance(whole, ConsentWithdrawn)
    assert whole.scopes == []
    assert record.status(later + timedelta(hours=1)) is ConsentStatus.WITHDRAWN
    assert case.current_scopes(later + timedelta(hours=1)) == []
    assert [e.action for e in case.history(later + timedelta(days=1))] == [
        "recorded",
        "withdrawn",
        "withdrawn",
    ]
    with pytest.raises(ConflictError, match="nothing to withdraw"):
        case.withdraw(
            WithdrawConsent(CASE, ConsentGiver.SELF, CASE_WORKER), ADULT, later + timedelta(hours=2)
        )


def test_an_override_by_a_mental_health_professional_is_published_without_its_note() -> None:
    case = CaseConsent(CASE, PERSON)
    record = case.record_override(override(), ADULT, NOW, timedelta(days=7))
    [event] = case.pull_events()
    assert isinstance(event, ConsentRecorded)
    assert (event.basis, event.given_by, event.override_justification) == (
        ConsentBasis.VITAL_INTEREST,
        ConsentGiver.NOT_GIVEN,
        OverrideJustification.HIGH_SUICIDE_RISK,
    )
    assert event.recorded_by_role is StaffRole.MENTAL_HEALTH_PROFESSIONAL
    assert "plan" not in event.model_dump_json()
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-sesal", ServiceCategory.MENTAL_HEALTH) is record
    assert (
        case.covering(
            ConsentPurpose.REFERRAL, NOW + timedelta(days=3), "hn-sesal", ServiceCategory.MENTAL_HEALTH
        )
        is None
    )


def test_an_override_by_a_role_not_allowed_or_too_long_or_without_reasons_is_refused() -> None:
    case = CaseConsent(CASE, PERSON)
    with pytest.raises(
        OverrideRefusedError,
        match="only by a mental-health professional or a protection officer; your roles: case_worker",
    ):
        case.record_override(override(actor=CASE_WORKER), ADULT, NOW, timedelta(days=7))
    with pytest.raises(ConsentRefusedError, match="at most 7 days"):
        case.record_override(override(valid_until=NOW + timedelta(days=8)), ADULT, NOW, timedelta(days=7))
    with pytest.raises(ConsentRefusedError, match="at least 20 characters"):
        case.record_override(override(note="risk"), ADULT, NOW, timedelta(days=7))
    with pytest.raises(ConsentRefusedError, match="not statistics"):
        case.record_override(override(scopes=(STATISTICS,)), ADULT, NOW, timedelta(days=7))
    assert case.records == []
    case.record_override(override(actor=SENAF_OFFICER), CHILD_ALONE, NOW, timedelta(days=7))


def test_withdrawing_the_persons_consent_leaves_an_override_which_only_its_roles_end() -> None:
    case = CaseConsent(CASE, PERSON)
    case.record_consent(consent(), ADULT, NOW)
    saved = case.record_override(override(), ADULT, NOW, timedelta(days=7))
    case.withdraw(WithdrawConsent(CASE, ConsentGiver.SELF, CASE_WORKER), ADULT, NOW)
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-sesal", ServiceCategory.MENTAL_HEALTH) is saved
    with pytest.raises(OverrideRefusedError, match="ended only by"):
        case.withdraw(
            WithdrawConsent(CASE, ConsentGiver.SELF, CASE_WORKER, consent_id=saved.consent_id), ADULT, NOW
        )
    case.withdraw(
        WithdrawConsent(CASE, ConsentGiver.SELF, PSYCHOLOGIST, consent_id=saved.consent_id), ADULT, NOW
    )
    assert case.covering(ConsentPurpose.REFERRAL, NOW, "hn-sesal", ServiceCategory.MENTAL_HEALTH) is None
