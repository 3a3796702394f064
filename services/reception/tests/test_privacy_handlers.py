"""Consent, overrides, contact lookups, the audit log, erasure, retention, key rotation and subject
access over reception's real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from reintegra_contracts.codelists import (
    CancellationReason,
    ClosureReason,
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    Dimension,
    ErasureReason,
    Level,
    OverrideJustification,
    Priority,
    ReopenReason,
    ServiceCategory,
)
from reintegra_contracts.events.followup import CaseClosed, CaseReopened
from reintegra_contracts.events.reception import ConsentRecorded, ConsentWithdrawn, ReturneeErased
from reintegra_contracts.events.referral import ReferralCancelled, ReferralRequested
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome as Delivery
from reintegra_kit.domain import ConflictError, NotFoundError
from reintegra_kit.testing.handlers import HandlerHarness, record_of
from reintegra_kit.testing.statements import reads_of, statements_sent
from reintegra_reception.audit import AuditAction, verify_chain
from reintegra_reception.bootstrap import EVENTS, SPEC
from reintegra_reception.crypto import (
    DataKeyDestroyedError,
    KeyRing,
    ReceptionKeys,
    UnknownKeyEncryptionKeyError,
)
from reintegra_reception.domain import PersonalData, RegisterArrival
from reintegra_reception.domain.commands import (
    Actor,
    ChildView,
    EraseReturnee,
    LookUpContact,
    PersonalDataPurpose,
    ReadPersonalData,
    RecordConsent,
    RecordOverride,
    Relationship,
    Scope,
    WithdrawConsent,
)
from reintegra_reception.domain.contact import (
    ContactNotAllowedError,
    ContactReferenceGoneError,
    ContactReferenceOfAnotherAgencyError,
    UnknownContactReferenceError,
    reference_hash,
)
from reintegra_reception.domain.matching import MatchPolicy
from reintegra_reception.erasure import (
    ExportSubject,
    due_for_retention,
    erase_returnee,
    export_subject,
    rewrap_data_keys,
)
from reintegra_reception.handlers import register_arrival
from reintegra_reception.orm import (
    audit_log,
    case_closures,
    consent_records,
    contact_references,
    identity_keys,
    kit_tables,
    person_keys,
)
from reintegra_reception.privacy import (
    AccessReport,
    ListOverrides,
    access_report,
    consent_of_case,
    list_overrides,
    look_up_contact,
    read_personal_data,
    record_consent,
    record_override,
    withdraw_consent,
)
from reintegra_reception.repository import ReceptionUnitOfWork
from sqlalchemy import text

from .test_domain import facts

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 20, 14, tzinfo=UTC)
ADULT = PersonalData("Marta Lidia", "Zelaya Pineda", date(1994, 3, 17), "0501-1994-77777", "+504 9999-0000")
OTHER = PersonalData("José Ángel", "Cáceres Mejía", date(1988, 7, 2), "0801-1988-12345", "+504 3333-1111")
CHILD = PersonalData("Josué", "Cáceres Zelaya", date(2011, 2, 3))

CASE_WORKER = Actor("u-cw", frozenset({"case_worker"}), centre="HN-CAMR-SPS", country="HN")
PSYCHOLOGIST = Actor("u-mh", frozenset({"mental_health_professional"}), centre="HN-CAMR-SPS", country="HN")
SESAL = Actor("svc-sesal", frozenset({"agency_partner"}), agency="hn-sesal", country="HN")
INFOP = Actor("svc-infop", frozenset({"agency_partner"}), agency="hn-infop", country="HN")

Harness = HandlerHarness[ReceptionUnitOfWork]


async def harness(
    database_url: str, keys: ReceptionKeys, clock: ManualClock
) -> HandlerHarness[ReceptionUnitOfWork]:
    return HandlerHarness(
        database_url,
        spec=SPEC,
        tables=kit_tables,
        uow_class=ReceptionUnitOfWork.factory(keys),
        clock=clock,
        match_policy=MatchPolicy(),
        blind_index=keys.blind_index,
        override_max_validity=timedelta(days=7),
    )


@pytest.fixture
def keys() -> ReceptionKeys:
    return ReceptionKeys.generate()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def service(database_url: str, keys: ReceptionKeys, clock: ManualClock) -> AsyncIterator[Harness]:
    async with await harness(database_url, keys, clock) as h:
        yield h


async def arrive(service: Harness, person: PersonalData = ADULT, **kw: object) -> UUID:
    kw.setdefault("country_of_return", "HN")
    case, _ = await service.handle(register_arrival, RegisterArrival(person, facts(**kw)))
    return UUID(str(case.case_id))


def consent(case_id: UUID, **kw: object) -> RecordConsent:
    values: dict[str, object] = {
        "case_id": case_id,
        "given_by": ConsentGiver.SELF,
        "method": ConsentMethod.WRITTEN,
        "scopes": (
            Scope(ConsentPurpose.REFERRAL, frozenset({ServiceCategory.HEALTH})),
            Scope(
                ConsentPurpose.CONTACT_BY_PROVIDER,
                frozenset({ServiceCategory.HEALTH}),
                frozenset({"hn-sesal"}),
            ),
        ),
        "actor": CASE_WORKER,
    }
    values.update(kw)
    return RecordConsent(**values)  # type: ignore[arg-type]


def referral(
    case_id: UUID, reference: str = "ref-7Hq2kP", *, agency: str = "hn-sesal", hours: int = 72
) -> ReferralRequested:
    return ReferralRequested(
        case_id=case_id,
        referral_id=uuid4(),
        assessment_id=uuid4(),
        need_id=uuid4(),
        category=ServiceCategory.HEALTH,
        dimension=Dimension.SOCIAL,
        level=Level.INDIVIDUAL,
        priority=Priority.HIGH,
        service_id="hn-sesal-primary-care",
        agency_id=agency,
        requested_at=NOW,
        respond_by=NOW + timedelta(days=2),
        contact_reference=reference,
        contact_reference_expires_at=NOW + timedelta(hours=hours),
    )


async def audit_rows(service: Harness) -> list[object]:
    return sorted(await service.rows(audit_log), key=lambda r: r.seq)


# ------------------------------------------------------------------------------------------ consent


async def test_a_consent_is_recorded_then_withdrawn_per_purpose_and_whole_with_its_history(
    service: Harness,
) -> None:
    case_id = await arrive(service)
    recorded = (await service.handle(record_consent, consent(case_id))).unwrap()
    [record] = recorded.records
    events = [e for e in await service.emitted() if isinstance(e, ConsentRecorded | ConsentWithdrawn)]
    assert [type(e) for e in events] == [ConsentRecorded]
    assert events[0].case_id == case_id
    service.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    withdraw = WithdrawConsent(
        case_id, ConsentGiver.SELF, CASE_WORKER, purposes=frozenset({ConsentPurpose.CONTACT_BY_PROVIDER})
    )
    (await service.handle(withdraw_consent, withdraw)).unwrap()
    (
        await service.handle(withdraw_consent, WithdrawConsent(case_id, ConsentGiver.SELF, CASE_WORKER))
    ).unwrap()
    async with service.uow() as uow:
        view = await consent_of_case(case_id, uow, service.clock)
    assert view.consent is not None
    assert [h.action for h in view.consent.history(view.at)] == ["recorded", "withdrawn", "withdrawn"]
    assert view.consent.get(record.consent_id).withdrawn_at == NOW + timedelta(days=2)
    assert view.consent.current_scopes(view.at) == []
    withdrawn = [e for e in await service.emitted() if isinstance(e, ConsentWithdrawn)]
    assert [[s.purpose for s in e.scopes] for e in withdrawn] == [[ConsentPurpose.CONTACT_BY_PROVIDER], []]


async def test_a_refused_consent_leaves_an_audit_row_and_nothing_else(service: Harness) -> None:
    case_id = await arrive(service)
    refused = await service.handle(record_consent, consent(case_id, given_by=ConsentGiver.GUARDIAN))
    assert refused.refusal is not None
    assert "adult" in str(refused.refusal)
    assert await service.rows(consent_records) == []
    assert not [e for e in await service.emitted() if isinstance(e, ConsentRecorded)]
    [row] = await audit_rows(service)
    assert (row.action, row.outcome, row.case_id) == ("consent_record", "refused", case_id)
    assert "adult" in row.reason
    missing = await service.handle(record_consent, consent(uuid4()))
    assert isinstance(missing.refusal, NotFoundError)


async def test_a_childs_referral_consent_is_given_by_the_guardian_with_the_childs_view_kept_sealed(
    service: Harness,
) -> None:
    case_id = await arrive(
        service, CHILD, travelling_with_family=True, family_group_ref="F1", relationship=Relationship.CHILD
    )
    alone = await service.handle(record_consent, consent(case_id))
    assert alone.refusal is not None
    assert "cannot consent alone" in str(alone.refusal)
    given = consent(
        case_id,
        given_by=ConsentGiver.GUARDIAN,
        child_view=ChildView.AGREES,
        child_view_note="Quiere ir al médico con su mamá",
    )
    (await service.handle(record_consent, given)).unwrap()
    [row] = await service.rows(consent_records)
    assert row.child_view == "agrees"
    assert "mamá".encode() not in row.child_view_note_enc  # sealed under the child's data key
    async with service.uow() as uow:
        loaded = await uow.consents.get(case_id)
    assert loaded is not None
    assert loaded.records[0].child_view_note == "Quiere ir al médico con su mamá"
    [event] = [e for e in await service.emitted() if isinstance(e, ConsentRecorded)]
    assert event.given_by is ConsentGiver.GUARDIAN
    assert "mamá" not in event.model_dump_json()


async def test_an_override_by_a_mental_health_professional_is_audited_and_a_wrong_role_refused(
    service: Harness,
) -> None:
    case_id = await arrive(service)
    override = RecordOverride(
        case_id,
        OverrideJustification.HIGH_SUICIDE_RISK,
        "Plan concreto de autolesión; no puede valorar la derivación hoy.",
        (Scope(ConsentPurpose.REFERRAL, frozenset({ServiceCategory.MENTAL_HEALTH})),),
        NOW + timedelta(days=3),
        CASE_WORKER,
    )
    refused = await service.handle(record_override, override)
    assert refused.refusal is not None
    assert refused.refusal.http_status == 403
    (await service.handle(record_override, replace(override, actor=PSYCHOLOGIST))).unwrap()
    rows = await audit_rows(service)
    assert [(r.action, r.outcome, r.actor_roles) for r in rows] == [
        ("override_record", "refused", "case_worker"),
        ("override_record", "allowed", "mental_health_professional"),
    ]
    assert rows[1].purpose == "vital_interest:high_suicide_risk"
    [event] = [e for e in await service.emitted() if isinstance(e, ConsentRecorded)]
    assert event.basis is ConsentBasis.VITAL_INTEREST
    assert "autolesión" not in event.model_dump_json()
    auditor = Actor("u-aud", frozenset({"auditor"}))
    listed = await service.handle(list_overrides, ListOverrides(auditor))
    [(listed_case, _, record)] = listed.rows
    assert (listed_case, record.justification_note) == (case_id, None)
    with_notes = await service.handle(list_overrides, ListOverrides(auditor, notes=True))
    assert "autolesión" in (with_notes.rows[0][2].justification_note or "")
    assert (await audit_rows(service))[-1].action == "override_notes_read"


# ------------------------------------------------------------------------------------ contact lookups


async def with_reference(
    service: Harness, case_id: UUID, reference: str = "ref-7Hq2kP", **kw: object
) -> ReferralRequested:
    event = referral(case_id, reference, **kw)  # type: ignore[arg-type]
    assert await service.deliver(EVENTS, event) is Delivery.PROCESSED
    return event


async def test_events_about_a_case_reception_never_registered_are_refused_and_change_nothing(
    service: Harness,
) -> None:
    # Reception opens every case and commits it before any event about it exists: such an event is
    # never early, so it is refused at once (ADR 0060), neither retried nor parked.
    invented = uuid4()
    later = NOW + timedelta(days=1)
    for event in (
        referral(invented),
        CaseClosed(case_id=invented, closed_at=later, reason=ClosureReason.LOST_CONTACT),
        CaseReopened(case_id=invented, reopened_at=later, reason=ReopenReason.NEW_NEEDS),
    ):
        assert await service.deliver(EVENTS, event) is Delivery.REFUSED
    assert await service.rows(contact_references) == []
    assert await service.rows(case_closures) == []
    assert service.dead_letters.parked == []


async def test_a_contact_reference_already_issued_for_another_referral_is_refused_at_once(
    service: Harness,
) -> None:
    case_id = await arrive(service)
    first = await with_reference(service, case_id, "ref-same")
    assert await service.deliver(EVENTS, referral(case_id, "ref-same")) is Delivery.REFUSED
    [row] = await service.rows(contact_references)
    assert row.referral_id == first.referral_id
    assert service.dead_letters.parked == []


async def test_a_lookup_by_the_agency_the_referral_went_to_gives_name_and_phone_and_is_audited(
    service: Harness,
) -> None:
    case_id = await arrive(service)
    (await service.handle(record_consent, consent(case_id))).unwrap()
    sent = await with_reference(service, case_id)
    found = (await service.handle(look_up_contact, LookUpContact("ref-7Hq2kP", SESAL))).unwrap()
    assert (found.given_names, found.family_names, found.phone) == (
        "Marta Lidia",
        "Zelaya Pineda",
        "+504 9999-0000",
    )
    [row] = await audit_rows(service)
    assert (row.action, row.outcome, row.actor_agency, row.case_id, row.referral_id) == (
        "contact_lookup", "allowed", "hn-sesal", case_id, sent.referral_id,
    )  # fmt: skip
    assert row.fields == '["given_names", "family_names", "phone"]'


async def test_lookups_are_refused_for_another_agency_unknown_expired_withdrawn_and_cancelled(
    service: Harness, clock: ManualClock
) -> None:
    case_id = await arrive(service)
    (await service.handle(record_consent, consent(case_id))).unwrap()
    sent = await with_reference(service, case_id, "ref-A", hours=24)

    async def refusal(reference: str, actor: Actor = SESAL) -> Exception:
        result = await service.handle(look_up_contact, LookUpContact(reference, actor))
        assert result.refusal is not None
        return result.refusal

    assert isinstance(await refusal("ref-A", INFOP), ContactReferenceOfAnotherAgencyError)
    assert isinstance(await refusal("no-such-reference"), UnknownContactReferenceError)
    clock.advance(timedelta(hours=25))
    expired = await refusal("ref-A")
    assert isinstance(expired, ContactReferenceGoneError)
    assert expired.http_status == 410
    assert "expired" in str(expired)
    clock.set(NOW)
    await with_reference(service, case_id, "ref-B")
    (
        await service.handle(
            withdraw_consent,
            WithdrawConsent(
                case_id,
                ConsentGiver.SELF,
                CASE_WORKER,
                purposes=frozenset({ConsentPurpose.CONTACT_BY_PROVIDER}),
            ),
        )
    ).unwrap()
    withdrawn = await refusal("ref-B")
    assert isinstance(withdrawn, ContactReferenceGoneError)  # revoked at once by the withdrawal
    assert "revoked (consent withdrawn)" in str(withdrawn)
    (await service.handle(record_consent, consent(case_id))).unwrap()  # consent again, a new referral
    again = await with_reference(service, case_id, "ref-C")
    assert (await service.handle(look_up_contact, LookUpContact("ref-C", SESAL))).value is not None
    cancelled = ReferralCancelled(
        case_id=case_id,
        referral_id=again.referral_id,
        agency_id="hn-sesal",
        cancelled_at=NOW,
        reason=CancellationReason.CONSENT_WITHDRAWN,
    )
    assert await service.deliver(EVENTS, cancelled) is Delivery.PROCESSED
    over = await refusal("ref-C")
    assert "no longer active (referral cancelled: consent_withdrawn)" in str(over)
    rows = await audit_rows(service)
    assert [r.outcome for r in rows] == ["refused", "refused", "refused", "refused", "allowed", "refused"]
    assert all(r.fields == "[]" for r in rows if r.outcome == "refused")
    assert sent.referral_id == rows[0].referral_id  # the wrong agency's attempt names the referral


async def test_a_lookup_without_consent_for_that_agency_says_why(service: Harness) -> None:
    case_id = await arrive(service)
    await with_reference(service, case_id, "ref-X")
    result = await service.handle(look_up_contact, LookUpContact("ref-X", SESAL))
    assert isinstance(result.refusal, ContactNotAllowedError)
    assert "no consent was recorded" in str(result.refusal)
    (
        await service.handle(record_consent, consent(case_id, scopes=(Scope(ConsentPurpose.REFERRAL),)))
    ).unwrap()
    result = await service.handle(look_up_contact, LookUpContact("ref-X", SESAL))
    assert "no consent of this case allows contact_by_provider by hn-sesal (health)" in str(result.refusal)


# ---------------------------------------------------------------------------------------- audit log


async def test_the_audit_chain_verifies_and_a_changed_or_removed_row_is_found(
    service: Harness, database_url: str
) -> None:
    case_id = await arrive(service)
    for purpose in (
        PersonalDataPurpose.IDENTITY_VERIFICATION,
        PersonalDataPurpose.DUPLICATE_REVIEW,
        PersonalDataPurpose.CASE_MANAGEMENT,
    ):
        (await service.handle(read_personal_data, ReadPersonalData(case_id, purpose, CASE_WORKER))).unwrap()
    async with service.uow() as uow:
        report = await verify_chain(uow.audit)
        with pytest.raises(Exception, match="append-only"):  # the database itself refuses
            async with uow.session.begin_nested():
                await uow.session.execute(text("UPDATE audit_log SET purpose = 'x' WHERE seq = 2"))
    assert (report.intact, report.rows, report.head_seq) == (True, 3, 3)
    anchor = (2, next(r for r in await audit_rows(service) if r.seq == 2).hash)
    postgres = database_url.startswith("postgresql")
    async with service.uow() as uow:  # someone with the database owner's rights goes round the triggers
        await uow.session.execute(
            text(
                "ALTER TABLE audit_log DISABLE TRIGGER USER"
                if postgres
                else "DROP TRIGGER audit_log_no_update"
            )
        )
        await uow.session.execute(text("UPDATE audit_log SET purpose = 'family_tracing' WHERE seq = 2"))
        await uow.commit()
    async with service.uow() as uow:
        changed = await verify_chain(uow.audit, anchor=anchor)
    assert changed.problems == ["row 2: its content does not match its hash (changed)"]
    async with service.uow() as uow:
        if not postgres:
            await uow.session.execute(text("DROP TRIGGER audit_log_no_delete"))
        await uow.session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        await uow.commit()
    async with service.uow() as uow:
        removed = await verify_chain(uow.audit, anchor=anchor)
    assert removed.problems == [
        "row 2 is missing (removed)",
        "row 3: prev_hash is not the hash of the row before it (a row before was changed or removed)",
        "row 2 of the anchor is not in the log (removed)",
    ]


async def test_a_persons_access_report_lists_who_looked(service: Harness) -> None:
    case_id = await arrive(service)
    other = await arrive(service, OTHER)
    (await service.handle(record_consent, consent(case_id))).unwrap()
    await with_reference(service, case_id)
    (await service.handle(look_up_contact, LookUpContact("ref-7Hq2kP", SESAL))).unwrap()
    await service.handle(look_up_contact, LookUpContact("ref-7Hq2kP", INFOP))
    (
        await service.handle(
            read_personal_data, ReadPersonalData(other, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER)
        )
    ).unwrap()
    report = await service.handle(access_report, AccessReport(case_id, CASE_WORKER))
    assert [(r.action, r.outcome, r.actor_agency) for r in report.rows] == [
        ("contact_lookup", "refused", "hn-infop"),
        ("contact_lookup", "allowed", "hn-sesal"),
    ]  # newest first; nothing about the other person
    assert (await audit_rows(service))[-1].action == AuditAction.ACCESS_REPORT.value


# ---------------------------------------------------------------------------------- keys and erasure


async def test_key_rotation_rewraps_every_data_key_and_the_old_key_can_then_go(
    database_url: str, keys: ReceptionKeys, clock: ManualClock
) -> None:
    async with await harness(database_url, keys, clock) as before:
        case_id = await arrive(before)
        await arrive(before, OTHER)
    new = ReceptionKeys(
        KeyRing(ReceptionKeys.generate().ring.current, previous=(keys.ring.current,)), keys.blind_index
    )
    async with await harness(database_url, new, clock) as during:
        async with during.uow() as uow:
            assert await uow.data_keys.count_by_kek() == {keys.ring.current_id: 2}
        assert await during.handle(rewrap_data_keys, 1) == 1
        assert await during.handle(rewrap_data_keys, 100) == 1
        assert await during.handle(rewrap_data_keys, 100) == 0
        async with during.uow() as uow:
            assert await uow.data_keys.count_by_kek() == {new.ring.current_id: 2}
    after = ReceptionKeys(KeyRing(new.ring.current), keys.blind_index)
    async with await harness(database_url, after, clock) as rotated:
        view = (
            await rotated.handle(
                read_personal_data,
                ReadPersonalData(case_id, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER),
            )
        ).unwrap()
        assert view.person == ADULT
    async with await harness(database_url, keys, clock) as stale:
        with pytest.raises(UnknownKeyEncryptionKeyError, match="REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS"):
            await stale.handle(
                read_personal_data,
                ReadPersonalData(case_id, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER),
            )


async def test_erasure_makes_one_person_unreadable_and_leaves_everybody_else_intact(
    service: Harness, clock: ManualClock
) -> None:
    case_id = await arrive(service)
    again = await arrive(service, ADULT, arrived_at=ARRIVED + timedelta(days=200))  # a repeat return
    other = await arrive(service, OTHER)
    (await service.handle(record_consent, consent(case_id))).unwrap()
    await with_reference(service, case_id)
    async with service.uow() as uow:
        person = (await uow.cases.get(case_id)).returnee_id  # type: ignore[union-attr]
    erasure = await service.handle(
        erase_returnee, EraseReturnee(case_id, ErasureReason.SUBJECT_REQUEST, CASE_WORKER)
    )
    assert sorted(erasure.case_ids, key=str) == sorted([case_id, again], key=str)
    erased = [e for e in await service.emitted() if isinstance(e, ReturneeErased)]
    assert sorted(e.case_id for e in erased) == sorted([case_id, again])
    assert {e.returnee_id for e in erased} == {person}
    assert "Zelaya" not in " ".join(e.model_dump_json() for e in erased)
    async with service.uow() as uow:
        sealed = await uow.returnees.sealed_row(person)
        assert sealed is not None
        assert sealed["family_names"]  # the ciphertext is still there ...
        with pytest.raises(DataKeyDestroyedError):  # ... and nobody can open it
            await uow.data_keys.cipher(person)
        gone = await uow.returnees.get(person)
        assert gone is not None
        assert gone.person is None
    keys_left = {r.returnee_id for r in await service.rows(identity_keys)}
    assert person not in keys_left
    [key_row] = [r for r in await service.rows(person_keys) if r.returnee_id == person]
    assert (key_row.wrapped_key, key_row.kek_id) == (None, None)
    read = await service.handle(
        read_personal_data, ReadPersonalData(case_id, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER)
    )
    assert read.refusal is not None
    assert read.refusal.http_status == 410
    lookup = await service.handle(look_up_contact, LookUpContact("ref-7Hq2kP", SESAL))
    assert "revoked (person erased)" in str(lookup.refusal)
    kept = (
        await service.handle(
            read_personal_data, ReadPersonalData(other, PersonalDataPurpose.CASE_MANAGEMENT, CASE_WORKER)
        )
    ).unwrap()
    assert kept.person == OTHER
    returning, _ = await service.handle(
        register_arrival,
        RegisterArrival(OTHER, facts(country_of_return="HN", arrived_at=ARRIVED + timedelta(days=90))),
    )
    assert returning.is_repeat_return  # the others are still found by their blind indexes
    with pytest.raises(ConflictError, match="was erased on"):
        await service.handle(erase_returnee, EraseReturnee(again, ErasureReason.SUBJECT_REQUEST, CASE_WORKER))
    assert any(r.action == "erasure" for r in await audit_rows(service))


async def test_the_retention_job_finds_people_whose_every_case_is_old(
    service: Harness, clock: ManualClock
) -> None:
    old = await arrive(service, arrived_at=ARRIVED)
    await arrive(service, OTHER, arrived_at=ARRIVED)
    assert (
        await service.deliver(
            EVENTS,
            CaseClosed(case_id=old, closed_at=NOW + timedelta(days=100), reason=ClosureReason.LOST_CONTACT),
        )
        is Delivery.PROCESSED
    )
    clock.advance(timedelta(days=365 * 2))
    await arrive(service, OTHER, arrived_at=clock.now() - timedelta(hours=1))  # José came back last month
    async with service.uow() as uow:
        due = await due_for_retention(NOW + timedelta(days=101), uow)
        early = await due_for_retention(NOW + timedelta(days=99), uow)
    assert [d.case_id for d in due] == [old]
    assert due[0].last_activity == NOW + timedelta(days=100)  # the closure, not the registration
    assert early == []


async def test_subject_access_exports_everything_held_on_the_person(service: Harness) -> None:
    case_id = await arrive(service)
    await arrive(service, OTHER)
    (await service.handle(record_consent, consent(case_id))).unwrap()
    await with_reference(service, case_id)
    (await service.handle(look_up_contact, LookUpContact("ref-7Hq2kP", SESAL))).unwrap()
    export = await service.handle(
        export_subject, ExportSubject(case_id, Actor("ops-1", frozenset({"operator"})))
    )
    [record] = export["records"]
    assert record["personal_data"] == {
        "given_names": "Marta Lidia",
        "family_names": "Zelaya Pineda",
        "date_of_birth": "1994-03-17",
        "document_number": "0501-1994-77777",
        "phone": "+504 9999-0000",
    }
    assert [c["case_id"] for c in export["cases"]] == [str(case_id)]
    assert export["consents"][0]["records"][0]["given_by"] == "self"
    assert export["contact_references"][0]["agency_id"] == "hn-sesal"
    assert "reference_hash" not in export["contact_references"][0]
    assert [a["action"] for a in export["accesses"]] == ["contact_lookup"]
    assert "Cáceres" not in str(export)
    assert (await audit_rows(service))[-1].action == "subject_access_export"


async def test_a_consumer_batch_checks_its_cases_once_and_an_unknown_case_is_still_refused(
    service: Harness,
) -> None:
    """A batch reads which of its cases reception registered in one statement (ADR 0031); a case
    found is known without another read, a case not found is read again (it may be registered
    meanwhile) and its event refused as one by one."""
    known, invented = await arrive(service), uuid4()
    async with service.uow() as uow:
        await uow.prepare_cases([known, invented, known])
        with statements_sent(uow.session) as reads:
            assert await uow.cases.exists(known)
            assert reads == []
            assert not await uow.cases.exists(invented)
            assert len(reads) == 1
    batch = [referral(known, "ref-A"), referral(invented, "ref-B"), referral(known, "ref-C")]
    outcomes = await service.consumer(EVENTS).process_batch([record_of(e) for e in batch])
    assert outcomes == [Delivery.PROCESSED, Delivery.REFUSED, Delivery.PROCESSED]
    assert sorted(r.case_id for r in await service.rows(contact_references)) == [known, known]


async def test_a_consumer_batch_looks_its_contact_references_up_once_and_sees_its_own_writes(
    service: Harness,
) -> None:
    """A batch reads the contact references its referrals look up in one statement (ADR 0031),
    remembered found or not; what an event of the batch writes is seen by the events after it: a
    referral announced again reissues the reference written earlier in the batch, and a reference
    another referral of the batch took is refused as a conflict."""
    case_id, other = await arrive(service), await arrive(service, OTHER)
    before = await with_reference(service, case_id, "ref-Before")  # committed before the batch
    first, second = referral(case_id, "ref-A"), referral(case_id, "ref-B")
    again = first.model_copy(update={"contact_reference": "ref-A2"})  # first, announced again
    batch = [first, second, again, before]  # and `before` re-sent as it was
    with reads_of(service.db.engine, "contact_references") as looked_up:
        outcomes = await service.consumer(EVENTS).process_batch([record_of(e) for e in batch])
    assert outcomes == [Delivery.PROCESSED] * len(batch)
    assert len(looked_up) == 1  # the batch's look-ups, in one statement
    rows = {r.referral_id: r for r in await service.rows(contact_references)}
    assert sorted(rows) == sorted([first.referral_id, second.referral_id, before.referral_id])
    assert rows[first.referral_id].reference_hash == reference_hash("ref-A2")  # reissued in the batch
    assert rows[first.referral_id].version == 2
    assert rows[second.referral_id].reference_hash == reference_hash("ref-B")

    # a reference taken earlier in the same batch by another referral: a conflict, refused
    taken, thief = referral(case_id, "ref-C"), referral(other, "ref-C")
    outcomes = await service.consumer(EVENTS).process_batch([record_of(e) for e in (taken, thief)])
    assert outcomes == [Delivery.PROCESSED, Delivery.REFUSED]
    rows = {r.referral_id: r for r in await service.rows(contact_references)}
    assert taken.referral_id in rows
    assert thief.referral_id not in rows
