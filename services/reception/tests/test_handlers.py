"""Reception's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from reintegra_contracts.codelists import (
    ConcernType,
    ImmediateAssistance,
    Priority,
    ReturnType,
    ServiceCategory,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)
from reintegra_contracts.events.reception import (
    AnnouncedPerson,
    ArrivalRegistered,
    ImmediateAssistanceProvided,
    PossibleDuplicateDetected,
    ProtectionConcernRaised,
    ReturnAnnounced,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.reception import (
    AnnounceReturn as AnnounceReturnCommand,
)
from reintegra_contracts.privacy import special_category_values
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.domain import ConflictError, IllegalTransitionError
from reintegra_kit.testing.handlers import HandlerHarness, Record, record_of
from reintegra_reception.bootstrap import SPEC
from reintegra_reception.crypto import ReceptionKeys
from reintegra_reception.domain import (
    AnnouncedPersonIn,
    AnnounceReturn,
    CaseStatus,
    DecideReview,
    Decision,
    Finding,
    MatchPolicy,
    PersonalData,
    ProvideAssistance,
    RegisterArrival,
    ReviewStatus,
    ScreenProtection,
)
from reintegra_reception.handlers import (
    ManifestRejectedError,
    announce_return,
    decide_review,
    index_identities,
    on_announce_return,
    provide_assistance,
    register_arrival,
    register_manifest,
    screen_protection,
)
from reintegra_reception.manifests import from_csv
from reintegra_reception.orm import cases, identity_keys, kit_tables, returnees, reviews
from reintegra_reception.repository import ReceptionUnitOfWork

from .test_domain import facts

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 20, 14, tzinfo=UTC)
ANA = PersonalData("Ana Lucía", "Reyes Matute", date(1990, 5, 1), "0501-1990-12345")
KEYS = ReceptionKeys.generate()
Harness = HandlerHarness[ReceptionUnitOfWork]


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    async with HandlerHarness(
        database_url,
        spec=SPEC,
        tables=kit_tables,
        uow_class=ReceptionUnitOfWork.factory(KEYS),
        clock=ManualClock(NOW),
        match_policy=MatchPolicy(),
        blind_index=KEYS.blind_index,
    ) as harness:
        yield harness


def command(
    ref: str | None = "AV640-2026-11-20-014", person: PersonalData = ANA, **kw: object
) -> RegisterArrival:
    kw.setdefault("country_of_return", "HN")
    return RegisterArrival(person, facts(**kw), manifest_ref=ref)


def later(days: int) -> dict[str, object]:
    return {"arrived_at": ARRIVED + timedelta(days=days)}


async def test_an_arrival_registers_a_case_and_a_person_and_publishes_no_personal_data(
    service: Harness,
) -> None:
    case, created = await service.handle(register_arrival, command())
    assert created
    [event] = await service.emitted()
    assert isinstance(event, ArrivalRegistered)
    assert event.case_id == case.case_id
    assert not event.is_repeat_return
    assert "Reyes" not in event.model_dump_json()
    assert "1990-05-01" not in event.model_dump_json()
    [row] = await service.rows(returnees)
    assert b"Reyes" not in row.family_names_enc  # sealed under the person's data key
    keys = await service.rows(identity_keys)
    assert len(keys) >= 4  # blind indexes of the blocking keys
    assert not any("REYES" in k.key or "1990" in k.key for k in keys)
    async with service.uow() as uow:
        person = await uow.returnees.get(case.returnee_id)
    assert person is not None
    assert person.data == ANA


async def test_a_repeated_manifest_line_returns_the_first_case_even_when_the_retries_race(
    service: Harness,
) -> None:
    results = await asyncio.gather(*(service.handle(register_arrival, command()) for _ in range(4)))
    case_ids = {case.case_id for case, _ in results}
    assert len(case_ids) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len(await service.rows(cases)) == 1
    assert len(await service.rows(returnees)) == 1
    assert len(await service.emitted()) == 1


async def test_members_of_one_family_share_one_travel_group_and_know_its_size(service: Harness) -> None:
    family = [
        command(
            f"line-{i}",
            PersonalData(f"Hijo{i}", "Paz Lara", date(1980 + i, 1, 1)),
            family_group_ref="FAM-7",
            travelling_with_family=True,
        )
        for i in range(3)
    ]
    registered = [await service.handle(register_arrival, c) for c in family]
    groups = {case.travel_group_id for case, _ in registered}
    assert len(groups) == 1
    assert isinstance(groups.pop(), UUID)
    assert [case.travel_group_size for case, _ in registered] == [1, 2, 3]  # known so far, one by one
    alone, _ = await service.handle(
        register_arrival, replace(command("line-9", PersonalData("Solo", "Ruiz", date(1970, 1, 1))))
    )
    assert alone.travel_group_id is None
    assert alone.travel_group_size is None


@pytest.mark.parametrize(
    "again",
    [
        PersonalData("ANA LUCIA", "REYES MATUTE", date(1990, 5, 1)),  # no accents, capitals, no document
        PersonalData(
            "Ana Lucía", "Matute Reyes", date(1990, 5, 1), "0501-2024-99999"
        ),  # swapped, new document
        PersonalData("Ana Lusía", "Reyes Matute", date(1990, 5, 1), "0501-1990-12345"),  # typo, same document
        PersonalData("Ana Lucía", "Reyes Matutte", date(1990, 1, 5)),  # typo and day/month swapped: review
    ],
    ids=["accents-and-case", "swapped-new-document", "typo-same-document", "two-differences"],
)
async def test_a_repeat_return_is_recognised_from_data_not_from_what_was_declared(
    service: Harness, again: PersonalData
) -> None:
    first, _ = await service.handle(register_arrival, command("first"))
    second, _ = await service.handle(
        register_arrival, command("second", again, previous_returns=0, **later(200))
    )
    events = [e for e in await service.emitted() if isinstance(e, ArrivalRegistered)]
    duplicates = [e for e in await service.emitted() if isinstance(e, PossibleDuplicateDetected)]
    if again.date_of_birth != ANA.date_of_birth:
        assert second.returnee_id != first.returnee_id  # not linked: two differences go to a person
        assert not events[-1].is_repeat_return
        [review] = duplicates
        assert (review.returnee_id, review.candidate_returnee_id) == (second.returnee_id, first.returnee_id)
        assert review.candidate_case_id == first.case_id
        return
    assert second.returnee_id == first.returnee_id
    assert events[-1].is_repeat_return
    assert events[-1].previous_returns == 1
    assert duplicates == []
    assert len(await service.rows(returnees)) == 1


async def test_twins_are_never_linked_automatically(service: Harness) -> None:
    await service.handle(
        register_arrival, command("a", PersonalData("José Ángel", "Díaz Cabrera", date(1999, 8, 5)))
    )
    twin, _ = await service.handle(
        register_arrival,
        command("b", PersonalData("José Luis", "Díaz Cabrera", date(1999, 8, 5)), **later(90)),
    )
    assert not twin.is_repeat_return
    [review] = await service.rows(reviews)
    assert review.status == "pending"
    assert "given names differ" in review.comparison


async def test_the_same_person_registered_twice_the_same_day_goes_to_review_not_to_a_repeat_return(
    service: Harness,
) -> None:
    first, _ = await service.handle(register_arrival, command("desk"))
    again, _ = await service.handle(register_arrival, command("manifest"))
    assert again.returnee_id != first.returnee_id
    assert not again.is_repeat_return
    [review] = await service.rows(reviews)
    assert "same day" in review.comparison


async def test_a_merge_relinks_the_newer_record_and_publishes_returnee_records_merged(
    service: Harness,
) -> None:
    first, _ = await service.handle(register_arrival, command("first"))
    newer, _ = await service.handle(
        register_arrival,
        command("second", PersonalData("Ana Lucia", "Reyes Matutte", date(1990, 1, 5)), **later(200)),
    )
    [row] = await service.rows(reviews)
    review = await service.handle(
        decide_review, DecideReview(row.review_id, Decision.MERGE, StaffRole.CASE_WORKER)
    )
    assert review.status is ReviewStatus.MERGED
    [merged] = [e for e in await service.emitted() if isinstance(e, ReturneeRecordsMerged)]
    assert merged.case_id == newer.case_id  # the newer arrival is now a repeat return of the same person
    assert merged.surviving_returnee_id == first.returnee_id
    assert merged.merged_returnee_ids == [newer.returnee_id]
    assert merged.merged_case_ids == []
    async with service.uow() as uow:
        case = await uow.cases.get(newer.case_id)
    assert case is not None
    assert (case.returnee_id, case.previous_returns, case.is_repeat_return) == (first.returnee_id, 1, True)
    keys = await service.rows(identity_keys)
    assert {k.returnee_id for k in keys} == {first.returnee_id}  # the other spelling now finds the survivor
    with pytest.raises(IllegalTransitionError, match="review is 'merged'"):
        await service.handle(
            decide_review, DecideReview(row.review_id, Decision.DISTINCT, StaffRole.CASE_WORKER)
        )


async def test_a_merge_of_a_duplicate_registration_merges_the_cases(service: Harness) -> None:
    first, _ = await service.handle(register_arrival, command("desk"))
    dup, _ = await service.handle(register_arrival, command("manifest"))
    [row] = await service.rows(reviews)
    await service.handle(decide_review, DecideReview(row.review_id, Decision.MERGE, StaffRole.DATA_STEWARD))
    [merged] = [e for e in await service.emitted() if isinstance(e, ReturneeRecordsMerged)]
    assert (merged.case_id, merged.merged_case_ids) == (first.case_id, [dup.case_id])
    async with service.uow() as uow:
        case = await uow.cases.get(dup.case_id)
    assert case is not None
    assert (case.status, case.merged_into) == (CaseStatus.MERGED, first.case_id)
    with pytest.raises(IllegalTransitionError, match="case is 'merged'"):
        await service.handle(
            provide_assistance, ProvideAssistance(dup.case_id, (ImmediateAssistance.FOOD,), NOW)
        )


async def test_distinct_people_stay_apart(service: Harness) -> None:
    await service.handle(
        register_arrival, command("a", PersonalData("José Ángel", "Díaz Cabrera", date(1999, 8, 5)))
    )
    _twin, _ = await service.handle(
        register_arrival,
        command("b", PersonalData("José Luis", "Díaz Cabrera", date(1999, 8, 5)), **later(90)),
    )
    [row] = await service.rows(reviews)
    await service.handle(decide_review, DecideReview(row.review_id, Decision.DISTINCT, StaffRole.CASE_WORKER))
    assert not [e for e in await service.emitted() if isinstance(e, ReturneeRecordsMerged)]
    [row] = await service.rows(reviews)
    assert row.status == "distinct"
    assert len(await service.rows(returnees)) == 2


MANIFEST = b"""ref,given_names,family_names,date_of_birth,sex,document_number,destination_municipality,family_group,relationship
1,Marta,Zelaya Pineda,1985-03-02,female,0501-1985-00001,HN-0501,F1,head
2,Kevin,Zelaya Pineda,2015-06-01,male,,HN-0501,F1,child
3,Luis,Zelaya Pineda,2012-06-01,male,,HN-0501,F2,grandchild
4,Rosa,Amaya Paz,1960-01-01,female,,HN-0501,F2,head
5,Brayan,Funes Lagos,2010-02-02,male,,HN-0801,,
6,Bad,Sex,1990-01-01,unknown,,HN-0501,,
7,Future,Born,2999-01-01,male,,HN-0501,,
8,Marta,Zelaya Pineda,1985-03-02,female,0501-1985-00001,HN-0501,,
"""
FLIGHT = {
    "arrived_at": ARRIVED.isoformat(),
    "port_of_entry": "HN-SAP",
    "reception_centre": "HN-CAMR-SPS",
    "country_of_return": "HN",
    "returned_from": "US",
    "return_type": "forced",
    "transport_mode": "air",
}


async def test_a_manifest_registers_the_good_lines_and_names_each_bad_one(service: Harness) -> None:
    cmd = from_csv(MANIFEST, "AV640-20261120", FLIGHT)
    report = await service.handle(register_manifest, cmd)
    assert [(p.line, p.field) for p in report.problems] == [(7, "sex"), (8, "date_of_birth"), (9, "person")]
    assert "line 2" in report.problems[-1].message
    by_line = {r.line: r.case for r in report.registered}
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    assert Vulnerability.CHILD_IN_FAMILY in by_line[3].vulnerabilities
    assert Vulnerability.SEPARATED_CHILD in by_line[4].vulnerabilities  # with a grandparent, not a guardian
    assert Vulnerability.UNACCOMPANIED_CHILD in by_line[6].vulnerabilities
    assert {by_line[n].travel_group_size for n in (2, 3)} == {2}
    concerns = [e for e in await service.emitted() if isinstance(e, ProtectionConcernRaised)]
    assert sorted((c.concern_type.value, c.lead_agency) for c in concerns) == [
        ("separated_child", "hn-senaf"),
        ("unaccompanied_child", "hn-senaf"),
    ]
    assert all(
        c.urgency is Urgency.IMMEDIATE and c.service_category is ServiceCategory.CHILD_PROTECTION
        for c in concerns
    )

    again = await service.handle(register_manifest, from_csv(MANIFEST, "AV640-20261120", FLIGHT))
    assert [r.created for r in again.registered] == [False] * 5  # re-sent: nobody registered twice
    assert len(await service.rows(cases)) == 5


async def test_all_or_nothing_registers_nobody_when_a_line_is_bad(service: Harness) -> None:
    with pytest.raises(ManifestRejectedError) as refused:
        await service.handle(
            register_manifest, from_csv(MANIFEST, "AV640-20261120", FLIGHT, all_or_nothing=True)
        )
    assert [e["line"] for e in refused.value.details["errors"]] == [7, 8, 9]  # type: ignore[index]
    assert await service.rows(cases) == []
    assert await service.emitted() == []


def announcement(**kw: object) -> AnnounceReturn:
    base = AnnounceReturn(
        announcement_id=uuid4(),
        case_id=uuid4(),
        announced_by="hn-consulado-houston",
        expected_arrival_at=ARRIVED,
        port_of_entry="HN-SAP",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        persons=(
            AnnouncedPersonIn(reference="P-1", vulnerabilities=frozenset({Vulnerability.CHRONIC_ILLNESS})),
            AnnouncedPersonIn(reference="P-2", person=ANA),
            AnnouncedPersonIn(reference="P-3"),
        ),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_an_announcement_is_matched_on_arrival_by_reference_then_by_identity(service: Harness) -> None:
    announced, created = await service.handle(announce_return, announcement())
    assert created
    [event] = await service.emitted()
    assert isinstance(event, ReturnAnnounced)
    assert "Reyes" not in event.model_dump_json()  # the identity is kept as keys only, never published
    assert event.persons[0].vulnerabilities == []  # chronic illness is health data: kept here (ADR 0080)
    assert Vulnerability.CHRONIC_ILLNESS in announced.persons[0].vulnerabilities
    by_ref, _ = await service.handle(
        register_arrival,
        command(
            "r1",
            PersonalData("Pedro", "Sosa", date(1980, 1, 1)),
            announcement_id=announced.announcement_id,
            announced_ref="P-1",
        ),
    )
    by_identity, _ = await service.handle(
        register_arrival, command("r2", PersonalData("ANA LUCIA", "MATUTE REYES", date(1990, 5, 1)))
    )
    unannounced, _ = await service.handle(
        register_arrival,
        command(
            "r3", PersonalData("Otro", "Nadie", date(1977, 1, 1)), announcement_id=announced.announcement_id
        ),
    )
    p1, p2, _p3 = announced.persons
    assert by_ref.announced_person_id == p1.announced_person_id
    assert (by_identity.announcement_id, by_identity.announced_person_id) == (
        announced.announcement_id,
        p2.announced_person_id,
    )
    assert (unannounced.announcement_id, unannounced.announced_person_id) == (announced.announcement_id, None)
    async with service.uow() as uow:
        stored = await uow.announcements.get(announced.announcement_id)
    assert stored is not None
    assert [p.case_id for p in stored.persons] == [
        by_ref.case_id,
        by_identity.case_id,
        None,
    ]  # P-3 not arrived

    same, created = await service.handle(
        announce_return, announcement(announcement_id=announced.announcement_id, case_id=announced.case_id)
    )
    assert (same.announcement_id, created) == (announced.announcement_id, False)
    with pytest.raises(ConflictError, match="other content"):
        await service.handle(announce_return, announcement(announcement_id=announced.announcement_id))


async def test_the_kafka_announce_return_command_is_handled_once_and_a_malformed_one_is_parked(
    service: Harness,
) -> None:
    command_event = AnnounceReturnCommand(
        case_id=uuid4(),
        announcement_id=uuid4(),
        announced_by="us-ice",
        expected_arrival_at=ARRIVED,
        port_of_entry="HN-SAP",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        persons=[
            AnnouncedPerson(
                announced_person_id=uuid4(),
                reference="A-1",
                vulnerabilities=[Vulnerability.UNACCOMPANIED_CHILD],
            )
        ],
    )
    handlers = {AnnounceReturnCommand: [on_announce_return]}
    assert await service.deliver(handlers, command_event, event_id="cmd-1") is Outcome.PROCESSED
    assert await service.deliver(handlers, command_event, event_id="cmd-1") is Outcome.DUPLICATE
    assert (
        await service.deliver(handlers, command_event, event_id="another-id") is Outcome.PROCESSED
    )  # idempotent
    assert len([e for e in await service.emitted() if isinstance(e, ReturnAnnounced)]) == 1
    bad_port = command_event.model_copy(update={"announcement_id": uuid4(), "port_of_entry": "sap airport"})
    assert await service.deliver(handlers, bad_port) is Outcome.REFUSED
    good = record_of(command_event)
    broken = Record(value=b'{"case_id": "not a uuid"}', headers=good.headers, key=good.key, topic=good.topic)
    assert await service.consumer(handlers).process(broken) is Outcome.PARKED
    assert "case_id" in service.dead_letters.reasons[-1]


async def test_assistance_and_screening_are_recorded_and_a_concern_is_raised_once(service: Harness) -> None:
    case, _ = await service.handle(register_arrival, command("x"))
    await service.handle(
        provide_assistance,
        ProvideAssistance(
            case.case_id, (ImmediateAssistance.FOOD, ImmediateAssistance.HYGIENE_KIT), NOW, "cruz-roja-hn"
        ),
    )
    screening = ScreenProtection(
        case.case_id,
        (Finding(ConcernType.TRAFFICKING), Finding(ConcernType.GENDER_BASED_VIOLENCE, Urgency.IMMEDIATE)),
        StaffRole.RECEPTION_OFFICER,
    )
    screened = await service.handle(screen_protection, screening)
    await service.handle(screen_protection, screening)  # screened again: nothing new
    events = await service.emitted()
    [given] = [e for e in events if isinstance(e, ImmediateAssistanceProvided)]
    assert given.assistance == [ImmediateAssistance.FOOD, ImmediateAssistance.HYGIENE_KIT]
    concerns = [e for e in events if isinstance(e, ProtectionConcernRaised)]
    # on the log the kind is undisclosed (special-category data, ADR 0080); what to do is not
    assert [(c.concern_type, c.urgency, c.service_category) for c in concerns] == [
        (ConcernType.UNDISCLOSED, Urgency.IMMEDIATE, ServiceCategory.PROTECTION),
        (ConcernType.UNDISCLOSED, Urgency.IMMEDIATE, ServiceCategory.PROTECTION),
    ]
    assert all(c.destination_municipality == "HN-0501" for c in concerns)
    assert [c.concern_type for c in screened.concerns] == [
        ConcernType.TRAFFICKING,
        ConcernType.GENDER_BASED_VIOLENCE,
    ]
    assert Vulnerability.SURVIVOR_OF_TRAFFICKING in screened.vulnerabilities
    assert all(special_category_values(e) == [] for e in events)
    with pytest.raises(Exception, match="before the arrival"):
        await service.handle(
            provide_assistance,
            ProvideAssistance(case.case_id, (ImmediateAssistance.FOOD,), ARRIVED - timedelta(days=1)),
        )


async def test_returnees_registered_before_identity_matching_get_their_keys(service: Harness) -> None:
    case, _ = await service.handle(register_arrival, command("old"))
    async with service.uow() as uow:
        await uow.session.execute(identity_keys.delete())
        await uow.commit()
    assert await service.handle(index_identities, 100) == 1
    assert await service.handle(index_identities, 100) == 0
    again, _ = await service.handle(register_arrival, command("new", **later(30)))
    assert again.returnee_id == case.returnee_id


async def test_arrival_registered_carries_a_protection_priority_instead_of_special_category_flags(
    service: Harness,
) -> None:
    flagged = command(
        "flags",
        vulnerabilities=(Vulnerability.SURVIVOR_OF_GBV, Vulnerability.SINGLE_CAREGIVER),
        has_disability=True,
        indigenous_people="lenca",
    )
    case, _ = await service.handle(register_arrival, flagged)
    [arrived] = [e for e in await service.emitted() if isinstance(e, ArrivalRegistered)]
    assert arrived.vulnerabilities == [Vulnerability.SINGLE_CAREGIVER]
    assert arrived.protection_priority is Priority.URGENT  # a survivor of GBV, without saying so
    assert (arrived.has_disability, arrived.indigenous_people) == (False, None)
    assert special_category_values(arrived) == []
    # reception keeps every flag it was told
    assert {Vulnerability.SURVIVOR_OF_GBV, Vulnerability.DISABILITY, Vulnerability.INDIGENOUS} <= set(
        case.vulnerabilities
    )
    plain, _ = await service.handle(register_arrival, command("plain", **later(40)))
    last = [e for e in await service.emitted() if isinstance(e, ArrivalRegistered)][-1]
    assert (last.case_id, last.protection_priority) == (plain.case_id, Priority.MEDIUM)
