from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from reintegra_contracts.codelists import ReturnType, ServiceCategory, Sex, TransportMode, Vulnerability
from reintegra_reception.domain import (
    ArrivalRejectedError,
    PersonalData,
    RegisterArrival,
    age_at,
    immediate_needs_of,
    vulnerabilities_of,
)


def command(birth: date, **kw: object) -> RegisterArrival:
    values: dict[str, object] = {
        "person": PersonalData("Ana", "Reyes", birth),
        "sex": Sex.FEMALE,
        "arrived_at": datetime(2026, 11, 20, 14, tzinfo=UTC),
        "port_of_entry": "HN-SAP",
        "reception_centre": "HN-CAMR-SPS",
        "country_of_return": "HN",
        "returned_from": "US",
        "return_type": ReturnType.FORCED,
        "transport_mode": TransportMode.AIR,
        "destination_municipality": "HN-0501",
    }
    values.update(kw)
    return RegisterArrival(**values)  # type: ignore[arg-type]


def test_age_counts_completed_years() -> None:
    assert age_at(date(2010, 11, 21), date(2026, 11, 20)) == 15
    assert age_at(date(2010, 11, 20), date(2026, 11, 20)) == 16


def test_a_birth_after_the_arrival_is_rejected() -> None:
    with pytest.raises(ArrivalRejectedError):
        age_at(date(2027, 1, 1), date(2026, 11, 20))


def test_a_child_travelling_alone_is_an_unaccompanied_child_needing_child_protection() -> None:
    cmd = command(date(2011, 1, 1))
    flags = vulnerabilities_of(cmd, 15)
    assert flags == [Vulnerability.UNACCOMPANIED_CHILD]
    assert immediate_needs_of(cmd, flags) == [ServiceCategory.CHILD_PROTECTION]


def test_a_child_with_family_is_flagged_as_such_and_not_as_unaccompanied() -> None:
    cmd = command(date(2016, 1, 1), travelling_with_family=True)
    assert vulnerabilities_of(cmd, 10) == [Vulnerability.CHILD_IN_FAMILY]
    assert immediate_needs_of(cmd, [Vulnerability.CHILD_IN_FAMILY]) == []


def test_age_disability_and_people_add_their_flags_to_the_declared_ones() -> None:
    cmd = command(
        date(1950, 1, 1),
        has_disability=True,
        indigenous_people="Garífuna",
        declared_vulnerabilities=frozenset({Vulnerability.CHRONIC_ILLNESS}),
    )
    assert vulnerabilities_of(cmd, 76) == sorted(
        [
            Vulnerability.CHRONIC_ILLNESS,
            Vulnerability.DISABILITY,
            Vulnerability.INDIGENOUS,
            Vulnerability.OLDER_ADULT,
        ]
    )
