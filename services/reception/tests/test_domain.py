from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from reintegra_contracts.events.reception import ArrivalRegistered, ProtectionConcernRaised
from reintegra_reception.domain import (
    ArrivalFacts,
    ArrivalRejectedError,
    Case,
    PersonalData,
    RegisterArrival,
    Registration,
)
from reintegra_reception.domain.rules import age_at, immediate_needs_of, vulnerabilities_of

ARRIVED = datetime(2026, 11, 20, 14, tzinfo=UTC)


def facts(**kw: object) -> ArrivalFacts:
    base = ArrivalFacts(
        sex=Sex.FEMALE,
        arrived_at=ARRIVED,
        port_of_entry="HN-SAP",
        reception_centre="HN-CAMR-SPS",
        country_of_return="HN",
        returned_from="US",
        return_type=ReturnType.FORCED,
        transport_mode=TransportMode.AIR,
        destination_municipality="HN-0501",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def register(birth: date, reg: dict[str, object] | None = None, **kw: object) -> Case:
    reg = reg or {}
    cmd = RegisterArrival(PersonalData("Ana", "Reyes", birth), facts(**kw))
    return Case.register(cmd, Registration(case_id=uuid4(), returnee_id=uuid4(), now=ARRIVED, **reg))


def test_age_counts_completed_years() -> None:
    assert age_at(date(2010, 11, 21), date(2026, 11, 20)) == 15
    assert age_at(date(2010, 11, 20), date(2026, 11, 20)) == 16


def test_a_birth_after_the_arrival_is_refused_as_a_domain_rule() -> None:
    with pytest.raises(ArrivalRejectedError, match="date_of_birth is after the arrival") as caught:
        register(date(2027, 1, 1))
    assert caught.value.http_status == 422


def test_a_child_travelling_alone_is_an_unaccompanied_child_needing_child_protection() -> None:
    alone = facts()
    flags = vulnerabilities_of(alone, 15)
    assert flags == [Vulnerability.UNACCOMPANIED_CHILD]
    assert immediate_needs_of(alone, flags) == [ServiceCategory.CHILD_PROTECTION]


def test_a_child_with_family_is_flagged_as_such_and_not_as_unaccompanied() -> None:
    with_family = facts(travelling_with_family=True)
    assert vulnerabilities_of(with_family, 10) == [Vulnerability.CHILD_IN_FAMILY]
    assert immediate_needs_of(with_family, [Vulnerability.CHILD_IN_FAMILY]) == []


def test_a_separated_child_stays_separated_and_is_not_also_called_unaccompanied() -> None:
    separated = facts(vulnerabilities=frozenset({Vulnerability.SEPARATED_CHILD}))
    assert vulnerabilities_of(separated, 12) == [Vulnerability.SEPARATED_CHILD]


@pytest.mark.parametrize(
    ("age", "child", "older"), [(17, True, False), (18, False, False), (59, False, False), (60, False, True)]
)
def test_the_age_boundaries_are_exactly_18_and_60(age: int, child: bool, older: bool) -> None:
    flags = vulnerabilities_of(facts(), age)
    assert (Vulnerability.UNACCOMPANIED_CHILD in flags) is child
    assert (Vulnerability.OLDER_ADULT in flags) is older


def test_age_disability_and_people_add_their_flags_to_the_declared_ones() -> None:
    declared = facts(
        has_disability=True,
        indigenous_people="Garífuna",
        vulnerabilities=frozenset({Vulnerability.CHRONIC_ILLNESS}),
    )
    assert vulnerabilities_of(declared, 76) == sorted(
        [
            Vulnerability.CHRONIC_ILLNESS,
            Vulnerability.DISABILITY,
            Vulnerability.INDIGENOUS,
            Vulnerability.OLDER_ADULT,
        ]
    )


def test_registration_records_arrival_registered_with_the_facts_and_what_follows_from_them() -> None:
    case = register(
        date(2011, 1, 1),
        {"previous_returns": 2},
        previous_returns=5,
        immediate_needs=(ServiceCategory.HEALTH,),
        country_of_return="HN",
    )
    [event, concern] = case.pull_events()
    assert isinstance(event, ArrivalRegistered)
    assert isinstance(concern, ProtectionConcernRaised)
    assert concern.lead_agency == "hn-senaf"
    assert (event.case_id, event.returnee_id, event.age) == (case.case_id, case.returnee_id, 15)
    assert event.reception_centre == "HN-CAMR-SPS"
    assert event.sex is Sex.FEMALE
    assert event.immediate_needs == [ServiceCategory.HEALTH, ServiceCategory.CHILD_PROTECTION]
    assert event.is_repeat_return
    assert event.previous_returns == 2  # found by matching, not the 5 declared
    assert case.declared_previous_returns == 5
    assert case.pull_events() == []  # pulled once
