"""Pure rules of the referral domain: working hours, matching, the lifecycle, the directory formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reintegra_contracts.codelists import (
    AgencyKind,
    MatchReason,
    Priority,
    ReferralStatus,
    ServiceCategory,
    Sex,
    UnmatchedReason,
    Vulnerability,
)
from reintegra_referral.directory_io import (
    agencies_csv,
    load_samples,
    parse_agencies_csv,
    parse_services_csv,
    services_csv,
)
from reintegra_referral.domain import (
    LIFECYCLE,
    AgencyFacts,
    InvalidDirectoryEntryError,
    OfficeHours,
    Profile,
    ServiceFacts,
    add_working_hours,
    answer_by,
    match,
)

WEEKDAYS = (OfficeHours((1, 2, 3, 4, 5), "08:00", "16:00"),)
TEGUCIGALPA = "America/Tegucigalpa"  # UTC-6, no daylight saving


def test_working_hours_skip_the_night_and_the_weekend() -> None:
    friday_3pm = datetime(2026, 11, 27, 21, tzinfo=UTC)  # 15:00 local
    # 1 hour left on Friday, the other 2 on Monday from 08:00 -> Monday 10:00 local = 16:00 UTC
    assert add_working_hours(friday_3pm, 3, WEEKDAYS, TEGUCIGALPA) == datetime(2026, 11, 30, 16, tzinfo=UTC)


def test_working_hours_asked_at_night_start_at_opening() -> None:
    tuesday_2am = datetime(2026, 11, 24, 8, tzinfo=UTC)  # 02:00 local
    assert add_working_hours(tuesday_2am, 0.5, WEEKDAYS, TEGUCIGALPA) == datetime(
        2026, 11, 24, 14, 30, tzinfo=UTC
    )


def agency(code: str = "hn-x", hours: float = 24) -> AgencyFacts:
    return AgencyFacts(code, code, code, AgencyKind.GOVERNMENT, "HN", "Ventanilla", WEEKDAYS, hours)


def service(sid: str, **kw: object) -> ServiceFacts:
    values: dict[str, object] = {"national": True, **kw}
    return ServiceFacts(
        sid, str(values.pop("agency_id", "hn-x")), sid, sid, ServiceCategory.HEALTH, "HN", **values
    )  # type: ignore[arg-type]


def test_an_urgent_need_is_answered_within_four_clock_hours() -> None:
    friday_3pm = datetime(2026, 11, 27, 21, tzinfo=UTC)
    assert answer_by(friday_3pm, agency(hours=24), service("SS"), Priority.URGENT) == friday_3pm + timedelta(
        hours=4
    )


PERSON = Profile(age=34, sex=Sex.FEMALE, municipality="HN-0501")


def test_local_before_department_before_national_then_faster_then_less_loaded() -> None:
    agencies = {"hn-a": agency("hn-a", 24), "hn-b": agency("hn-b", 8), "hn-c": agency("hn-c", 8)}
    services = [
        service("NAT", agency_id="hn-b"),
        service("DEPT", agency_id="hn-a", national=False, departments=("HN-05",)),
        service("LOCAL", agency_id="hn-a", national=False, municipalities=("HN-0501",)),
    ]
    result = match(ServiceCategory.HEALTH, PERSON, services, agencies)
    assert [c.service_id for c in result.considered if c.eligible] == ["LOCAL", "DEPT", "NAT"]
    assert result.chosen_reasons == (MatchReason.LOCAL_COVERAGE,)
    faster = match(
        ServiceCategory.HEALTH,
        PERSON,
        [service("SLOW", agency_id="hn-a"), service("FAST", agency_id="hn-b")],
        agencies,
    )
    assert faster.chosen is not None
    assert faster.chosen.service_id == "FAST"
    assert MatchReason.FASTEST_RESPONSE in faster.chosen_reasons
    loaded = match(
        ServiceCategory.HEALTH,
        PERSON,
        [
            service("BUSY", agency_id="hn-b", weekly_capacity=10),
            service("FREE", agency_id="hn-c", weekly_capacity=10),
        ],
        agencies,
        used_this_week={"BUSY": 8, "FREE": 1},
    )
    assert loaded.chosen is not None
    assert (loaded.chosen.service_id, loaded.chosen_reasons[-1]) == ("FREE", MatchReason.LOWEST_LOAD)


def test_every_excluded_service_says_why() -> None:
    services = [
        service("KIDS", max_age=17),
        service("MEN", sexes=(Sex.MALE,)),
        service("SURVIVORS", groups=(Vulnerability.SURVIVOR_OF_TRAFFICKING,)),
        service("FULL", weekly_capacity=2),
        service("ELSEWHERE", national=False, municipalities=("HN-0801",)),
    ]
    result = match(ServiceCategory.HEALTH, PERSON, services, {"hn-x": agency()}, used_this_week={"FULL": 2})
    reasons = {c.service_id: c.reasons for c in result.considered}
    assert reasons == {
        "KIDS": (MatchReason.AGE_NOT_ELIGIBLE,),
        "MEN": (MatchReason.SEX_NOT_ELIGIBLE,),
        "SURVIVORS": (MatchReason.GROUP_NOT_ELIGIBLE,),
        "FULL": (MatchReason.NO_CAPACITY,),
        "ELSEWHERE": (MatchReason.OUTSIDE_COVERAGE,),
    }
    assert result.chosen is None
    assert result.unmatched_reason is UnmatchedReason.NONE_WITH_CAPACITY


def test_a_service_for_a_special_category_group_needs_the_owner_to_vouch_for_the_person() -> None:
    survivors = [service("SURVIVORS", groups=(Vulnerability.SURVIVOR_OF_GBV,))]
    agencies = {"hn-x": agency()}
    # the flag never reaches referral (ADR 0080): a profile cannot show it
    assert match(ServiceCategory.HEALTH, PERSON, survivors, agencies).chosen is None
    vouched = match(ServiceCategory.HEALTH, PERSON, survivors, agencies, owner_vouches=True)
    assert vouched.chosen is not None
    assert vouched.chosen.service_id == "SURVIVORS"
    # a disclosed group is checked against the profile as ever, vouched or not
    elders = [service("ELDERS", groups=(Vulnerability.OLDER_ADULT,))]
    assert match(ServiceCategory.HEALTH, PERSON, elders, agencies, owner_vouches=True).chosen is None
    older = Profile(
        age=70, sex=Sex.MALE, municipality="HN-0501", vulnerabilities=frozenset({Vulnerability.OLDER_ADULT})
    )
    assert match(ServiceCategory.HEALTH, older, elders, agencies).chosen is not None


def test_the_lifecycle_allows_only_its_transitions() -> None:
    assert LIFECYCLE.allows(ReferralStatus.REQUESTED, ReferralStatus.RECEIVED)
    assert not LIFECYCLE.allows(ReferralStatus.REQUESTED, ReferralStatus.COMPLETED)
    assert not LIFECYCLE.allows(ReferralStatus.ACCEPTED, ReferralStatus.SERVICE_DELIVERED)
    for final in (
        ReferralStatus.COMPLETED,
        ReferralStatus.FAILED,
        ReferralStatus.REJECTED,
        ReferralStatus.CANCELLED,
    ):
        assert LIFECYCLE.is_final(final)


def test_a_bad_entry_is_named() -> None:
    with pytest.raises(InvalidDirectoryEntryError, match="HN_SNE"):
        agency("HN_SNE")
    with pytest.raises(InvalidDirectoryEntryError, match="GT-0101"):
        service("XX", national=False, municipalities=("GT-0101",))


def test_the_samples_cover_the_four_countries_and_survive_a_csv_round_trip() -> None:
    agencies, services = load_samples()
    assert {a.country for a in agencies} == {"HN", "GT", "SV", "MX"}
    assert {s.country for s in services if s.category is ServiceCategory.CHILD_PROTECTION} == {
        "HN",
        "GT",
        "SV",
        "MX",
    }
    assert {a.country for a in agencies if a.coordinator} == {"HN", "GT", "SV", "MX"}
    again, errors = parse_agencies_csv(agencies_csv(agencies))
    assert errors == []
    assert again == agencies
    services_again, errors = parse_services_csv(services_csv(services))
    assert errors == []
    assert services_again == services
