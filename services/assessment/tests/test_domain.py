from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reintegra_assessment.domain import Assessment
from reintegra_assessment.domain.rules import overall_priority, scheduled_for, triage
from reintegra_contracts.codelists import Priority, Vulnerability
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.samples import example_of


def test_children_alone_trafficking_gbv_and_displacement_are_seen_first() -> None:
    for flag in (
        Vulnerability.UNACCOMPANIED_CHILD,
        Vulnerability.SURVIVOR_OF_TRAFFICKING,
        Vulnerability.SURVIVOR_OF_GBV,
        Vulnerability.DISPLACEMENT_RISK,
    ):
        assert triage([flag], 0) is Priority.URGENT


def test_other_vulnerabilities_or_immediate_needs_are_high_and_the_rest_medium() -> None:
    assert triage([Vulnerability.OLDER_ADULT], 0) is Priority.HIGH
    assert triage([], 1) is Priority.HIGH
    assert triage([], 0) is Priority.MEDIUM


def test_urgent_cases_are_assessed_on_arrival_and_others_within_days() -> None:
    arrived = datetime(2026, 11, 20, 14, tzinfo=UTC)
    assert scheduled_for(arrived, Priority.URGENT) == arrived
    assert scheduled_for(arrived, Priority.MEDIUM) == arrived + timedelta(days=3)


def test_the_case_takes_the_most_urgent_of_its_triage_and_needs() -> None:
    assert overall_priority(Priority.MEDIUM, [Priority.LOW, Priority.HIGH]) is Priority.HIGH
    assert overall_priority(Priority.URGENT, [Priority.LOW]) is Priority.URGENT
    assert overall_priority(Priority.MEDIUM, []) is Priority.MEDIUM


def test_receptions_protection_priority_decides_the_triage_without_the_flags() -> None:
    arrival = example_of(ArrivalRegistered).model_copy(
        update={"vulnerabilities": [], "immediate_needs": [], "protection_priority": Priority.URGENT}
    )
    assessment = Assessment.schedule(arrival, arrival.arrived_at)
    assert (assessment.priority, assessment.scheduled_for) == (Priority.URGENT, arrival.arrived_at)
    assert assessment.vulnerabilities == []


def test_an_older_producers_flags_still_triage_but_special_ones_are_not_kept() -> None:
    arrival = example_of(ArrivalRegistered).model_copy(
        update={
            "vulnerabilities": [Vulnerability.SURVIVOR_OF_GBV, Vulnerability.OLDER_ADULT],
            "immediate_needs": [],
            "protection_priority": None,
        }
    )
    assessment = Assessment.schedule(arrival, arrival.arrived_at)
    assert assessment.priority is Priority.URGENT
    assert assessment.vulnerabilities == [Vulnerability.OLDER_ADULT]
