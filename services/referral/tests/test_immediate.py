"""Referral acting at once on reception's triage, and re-keying merged cases (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import (
    SERVICE_CATEGORY_DIMENSION,
    ConcernType,
    Priority,
    ReturnType,
    ServiceCategory,
    Sex,
    StaffRole,
    TransportMode,
    Urgency,
    Vulnerability,
)
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.reception import (
    ArrivalRegistered,
    ProtectionConcernRaised,
    ReturneeRecordsMerged,
)
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.consumer import Outcome
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_referral.directory_io import load_samples
from reintegra_referral.domain.commands import ImportDirectory
from reintegra_referral.handlers import record_arrival, refer_needs, seed_directory
from reintegra_referral.immediate import refer_immediate_needs, refer_protection_concern
from reintegra_referral.merges import rekey_merged_cases
from reintegra_referral.orm import case_profiles, referrals
from reintegra_referral.repository import ReferralUnitOfWork

from .test_handlers import START, harness

RECEPTION = {
    ArrivalRegistered: [record_arrival, refer_immediate_needs],
    ProtectionConcernRaised: [refer_protection_concern],
    ReturneeRecordsMerged: [rekey_merged_cases],
    AssessmentCompleted: [refer_needs],
}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[HandlerHarness[ReferralUnitOfWork]]:
    async with harness(database_url) as h:
        agencies_, services_ = load_samples()
        await h.handle(seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True))
        yield h


def child_alone(country: str = "HN", municipality: str = "HN-0501") -> ArrivalRegistered:
    """The 17-year-old of the issue: alone, urgent, immediate need child_protection."""
    return ArrivalRegistered(
        case_id=uuid4(),
        returnee_id=uuid4(),
        arrived_at=START,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return=country,
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        age=17,
        sex=Sex.MALE,
        destination_municipality=municipality,
        vulnerabilities=[Vulnerability.UNACCOMPANIED_CHILD],
        immediate_needs=[ServiceCategory.CHILD_PROTECTION, ServiceCategory.HEALTH],
        registered_at=START,
    )


def concern_for(arrival: ArrivalRegistered, lead: str | None, **kw: object) -> ProtectionConcernRaised:
    values: dict[str, object] = {
        "case_id": arrival.case_id,
        "concern_id": uuid4(),
        "returnee_id": arrival.returnee_id,
        "concern_type": ConcernType.UNACCOMPANIED_CHILD,
        "urgency": Urgency.IMMEDIATE,
        "raised_at": START,
        "raised_by_role": StaffRole.RECEPTION_OFFICER,
        "lead_agency": lead,
        "service_category": ServiceCategory.CHILD_PROTECTION,
        "destination_municipality": arrival.destination_municipality,
        **kw,
    }
    return ProtectionConcernRaised.model_validate(values)


async def test_an_unaccompanied_child_is_referred_to_child_protection_at_once(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    arrival = child_alone()
    assert await service.deliver(RECEPTION, arrival) is Outcome.PROCESSED
    assert await service.deliver(RECEPTION, concern_for(arrival, "hn-senaf")) is Outcome.PROCESSED
    assert await service.deliver(RECEPTION, arrival, event_id="re-sent") is Outcome.PROCESSED
    requested = [e for e in await service.emitted() if isinstance(e, ReferralRequested)]
    assert sorted((r.category.value, r.agency_id, r.priority.value) for r in requested) == [
        ("child_protection", "hn-senaf", "urgent"),
        ("health", "hn-sesal", "urgent"),
    ]
    child = next(r for r in requested if r.category is ServiceCategory.CHILD_PROTECTION)
    assert (child.respond_by - child.requested_at).total_seconds() <= 4 * 3600  # urgent: four hours at most
    assert len(await service.rows(referrals)) == 2  # one referral per need, whichever event said it


async def test_the_assessment_listing_the_same_service_again_does_not_make_a_second_referral(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    arrival = child_alone()
    await service.deliver(RECEPTION, arrival)
    assessed = AssessmentCompleted(
        case_id=arrival.case_id,
        assessment_id=uuid4(),
        completed_at=START,
        instrument="rss",
        instrument_version="1",
        priority=Priority.URGENT,
        destination_municipality=arrival.destination_municipality,
        needs=[
            Need(need_id=uuid4(), category=c, dimension=SERVICE_CATEGORY_DIMENSION[c], priority=Priority.HIGH)
            for c in (ServiceCategory.CHILD_PROTECTION, ServiceCategory.EDUCATION)
        ],
    )
    assert await service.deliver(RECEPTION, assessed) is Outcome.PROCESSED
    categories = sorted(r.category for r in await service.rows(referrals))
    assert categories == ["child_protection", "education", "health"]  # child protection once


async def test_a_concern_prefers_its_lead_agency_and_falls_back_to_the_directory(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    arrival = child_alone("GT", "GT-0101").model_copy(update={"immediate_needs": []})
    await service.deliver(RECEPTION, arrival)
    await service.deliver(RECEPTION, concern_for(arrival, "gt-pgn"))  # not in the sample directory
    other = child_alone()
    await service.deliver(RECEPTION, other)
    trafficking = concern_for(
        other,
        None,
        concern_type=ConcernType.GENDER_BASED_VIOLENCE,
        urgency=Urgency.WITHIN_24_HOURS,
        service_category=ServiceCategory.PROTECTION,
    )
    await service.deliver(RECEPTION, trafficking)
    rows = sorted((r.category, r.status, r.agency_id, r.priority) for r in await service.rows(referrals))
    assert ("child_protection", "requested", "gt-sbs", "urgent") in rows
    assert any(r[0] == "protection" and r[3] == Priority.HIGH.value for r in rows)


async def test_a_concern_without_a_service_waits_for_the_assessment(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    old = concern_for(child_alone(), None, service_category=None, destination_municipality=None)
    assert await service.deliver(RECEPTION, old) is Outcome.PROCESSED
    assert await service.rows(referrals) == []


async def test_the_referrals_of_a_merged_registration_follow_it_into_the_surviving_case(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    kept, dup = child_alone(), child_alone()
    await service.deliver(RECEPTION, dup)
    merged = ReturneeRecordsMerged(
        case_id=kept.case_id,
        surviving_returnee_id=kept.returnee_id,
        merged_returnee_ids=[dup.returnee_id],
        merged_case_ids=[dup.case_id],
        merged_at=START,
        decided_by_role=StaffRole.CASE_WORKER,
    )
    assert await service.deliver(RECEPTION, merged) is Outcome.PROCESSED
    assert {r.case_id for r in await service.rows(referrals)} == {kept.case_id}


async def test_reception_s_protection_priority_makes_an_immediate_need_urgent_without_the_flag(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    adult = child_alone().model_copy(
        update={
            "age": 30,
            "vulnerabilities": [],
            "immediate_needs": [ServiceCategory.HEALTH],
            "protection_priority": Priority.URGENT,  # e.g. a survivor of trafficking, kept at reception
        }
    )
    await service.deliver(RECEPTION, adult)
    [row] = await service.rows(referrals)
    assert (row.category, row.priority) == ("health", "urgent")
    routine = adult.model_copy(update={"case_id": uuid4(), "protection_priority": Priority.HIGH})
    await service.deliver(RECEPTION, routine)
    assert {r.priority for r in await service.rows(referrals) if r.case_id == routine.case_id} == {"high"}


async def test_an_older_producers_special_category_flags_are_not_kept(
    service: HandlerHarness[ReferralUnitOfWork],
) -> None:
    old = child_alone().model_copy(
        update={
            "age": 30,
            "vulnerabilities": [Vulnerability.SURVIVOR_OF_TRAFFICKING, Vulnerability.SINGLE_CAREGIVER],
            "immediate_needs": [ServiceCategory.HEALTH],
        }
    )
    await service.deliver(RECEPTION, old)
    [profile] = await service.rows(case_profiles)
    assert profile.vulnerabilities == '["single_caregiver"]'
    [row] = await service.rows(referrals)
    assert row.priority == "urgent"  # the rule of producers before 1.3 still reads the flag it was sent
    assert "survivor" not in row.vulnerabilities
