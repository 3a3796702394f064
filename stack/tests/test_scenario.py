"""The synthetic flight: seeded, plausible, and valid against reception's field rules. No network."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import Priority, ServiceCategory, Vulnerability
from reintegra_stack.demo import DEMO_ROLES, percentile, relative
from reintegra_stack.scenario import (
    BAD_ROWS,
    LINKED_AUTOMATICALLY,
    MUNICIPALITIES,
    Flight,
    age_on,
    announcement,
    bad_rows,
    consent_body,
    date_of_birth_for,
    generate_flight,
    holding_back,
    manifest_csv,
    manifest_defaults,
    manifest_row,
    strip_accents,
)

NOW = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,49}$")
ARRIVAL_FIELDS = {
    "manifest_ref", "person", "sex", "arrived_at", "port_of_entry", "reception_centre",
    "country_of_return", "returned_from", "return_type", "transport_mode", "destination_municipality",
    "preferred_language", "indigenous_people", "has_disability", "travelling_with_family",
    "family_group_ref", "previous_returns", "vulnerabilities", "immediate_needs", "relationship",
}  # fmt: skip


@pytest.fixture(scope="module")
def flight() -> Flight:
    return generate_flight(120, 2026, now=NOW)


def field_problems(arrival: dict, now: datetime) -> list[str]:
    """The field rules of ``POST /v1/arrivals``, written out independently of the service."""
    problems = [f"unknown field {k}" for k in arrival if k not in ARRIVAL_FIELDS]
    person = arrival["person"]
    if set(person) - {"given_names", "family_names", "date_of_birth", "document_number", "phone"}:
        problems.append("unknown person field")
    for name in ("given_names", "family_names"):
        if not 1 <= len(person[name].strip()) <= 200:
            problems.append(f"person.{name} length")
    born = date.fromisoformat(person["date_of_birth"])
    if born > now.date() or born.year < 1900:
        problems.append("date_of_birth out of range")
    if len(person.get("document_number") or "") > 100 or len(person.get("phone") or "") > 50:
        problems.append("document/phone too long")
    if arrival["sex"] not in {"female", "male", "intersex", "undisclosed"}:
        problems.append("sex")
    arrived = datetime.fromisoformat(arrival["arrived_at"])
    if arrived.tzinfo is None or arrived > now:
        problems.append("arrived_at must be aware and in the past")
    for name in ("port_of_entry", "reception_centre", "destination_municipality"):
        if not CODE.match(arrival[name]):
            problems.append(f"{name} is not a code")
    for name in ("country_of_return", "returned_from"):
        if not re.fullmatch(r"[A-Z]{2}", arrival[name]):
            problems.append(name)
    if arrival["return_type"] not in {"forced", "voluntary", "assisted_voluntary"}:
        problems.append("return_type")
    if arrival["transport_mode"] not in {"air", "land", "sea"}:
        problems.append("transport_mode")
    if not 0 <= arrival["previous_returns"] <= 100:
        problems.append("previous_returns")
    if len(arrival["manifest_ref"]) > 100 or len(arrival.get("family_group_ref") or "") > 100:
        problems.append("ref too long")
    for v in arrival.get("vulnerabilities", []):
        if v not in {x.value for x in Vulnerability}:
            problems.append(f"vulnerability {v}")
    for c in arrival.get("immediate_needs", []):
        if c not in {x.value for x in ServiceCategory}:
            problems.append(f"immediate need {c}")
    if arrival.get("family_group_ref") and not arrival["travelling_with_family"]:
        problems.append("family_group_ref without travelling_with_family")
    return problems


def test_same_seed_same_flight() -> None:
    a = generate_flight(40, 7, now=NOW)
    b = generate_flight(40, 7, now=NOW.replace(minute=45))  # later the same day: same manifest
    assert [r.arrival["manifest_ref"] for r in a.returnees] == [
        r.arrival["manifest_ref"] for r in b.returnees
    ]
    assert [r.arrival["person"] for r in a.returnees] == [r.arrival["person"] for r in b.returnees]
    assert [r.needs for r in a.returnees] == [r.needs for r in b.returnees]


def test_other_seed_other_flight() -> None:
    a = generate_flight(40, 7, now=NOW)
    b = generate_flight(40, 8, now=NOW)
    assert {r.manifest_ref for r in a.returnees}.isdisjoint(r.manifest_ref for r in b.returnees)
    assert [r.arrival["person"] for r in a.returnees] != [r.arrival["person"] for r in b.returnees]


def test_manifest_refs_unique_and_shaped(flight: Flight) -> None:
    refs = [r.manifest_ref for r in flight.returnees]
    assert len(set(refs)) == len(refs) == 120
    assert all(re.fullmatch(r"FLIGHT-20260301-S2026N120-\d{3}", ref) for ref in refs)


@pytest.mark.parametrize(("size", "seed"), [(120, 2026), (40, 2026), (20, 1), (135, 99), (1, 3), (7, 5)])
def test_every_payload_is_valid(size: int, seed: int) -> None:
    flight = generate_flight(size, seed, now=NOW)
    assert len(flight.returnees) == size
    for r in flight.returnees:
        assert field_problems(r.arrival, NOW) == [], r.arrival


def test_payloads_accepted_by_reception_model(flight: Flight) -> None:
    """Cross-check with reception's own request model when it is installed (it is in the workspace)."""
    http = pytest.importorskip("reintegra_reception.http")
    for r in flight.returnees:
        http.ArrivalIn.model_validate(r.arrival)


def test_flight_composition(flight: Flight) -> None:
    assert 2 <= flight.count("unaccompanied_child") <= 4
    assert len(flight.families) >= 5
    adult_men = sum(r.sex == "male" and r.age >= 18 for r in flight.returnees)
    assert 0.6 <= adult_men / 120 <= 0.8
    assert any(
        r.arrival["sex"] == "female" and r.age >= 18 and not r.family_group_ref for r in flight.returnees
    )
    assert flight.count("older_adult") >= 1
    assert any(r.arrival.get("indigenous_people") for r in flight.returnees)
    assert any(r.arrival["previous_returns"] > 0 for r in flight.returnees)
    assert all(0 <= r.arrival["previous_returns"] <= 3 for r in flight.returnees)
    assert {r.arrival["destination_municipality"] for r in flight.returnees} <= set(MUNICIPALITIES)
    assert {r.arrival["arrived_at"] for r in flight.returnees} == {flight.arrived_at.isoformat()}
    assert 3 * 60 <= (NOW - flight.arrived_at).total_seconds() <= 10 * 60


def test_families_travel_together(flight: Flight) -> None:
    for ref, members in flight.families.items():
        assert re.fullmatch(r"FLIGHT-20260301-S2026N120-FAM-\d{3}", ref)
        assert re.fullmatch(r"FAM-\d{3}", members[0].family_label or "")
        assert any(m.age >= 18 for m in members), ref
        assert any(m.age < 18 for m in members), ref
        assert all(m.arrival["travelling_with_family"] for m in members)
        assert len({m.arrival["destination_municipality"] for m in members}) == 1
        assert len({m.arrival["person"]["family_names"] for m in members}) == 1


def test_unaccompanied_children(flight: Flight) -> None:
    for r in flight.returnees:
        if r.kind == "unaccompanied_child":
            assert 12 <= r.age <= 17
            assert r.arrival["travelling_with_family"] is False
            assert "family_group_ref" not in r.arrival
            cats = {n.category: n.priority for n in r.needs}
            assert cats[ServiceCategory.CHILD_PROTECTION] == Priority.URGENT
            assert {ServiceCategory.EDUCATION, ServiceCategory.FAMILY_REUNIFICATION} <= set(cats)
        elif r.age < 18:
            assert r.kind == "child_in_family"
            assert r.family_group_ref


def test_ages_match_dates_of_birth(flight: Flight) -> None:
    for r in flight.returnees:
        born = date.fromisoformat(r.arrival["person"]["date_of_birth"])
        assert age_on(born, flight.arrived_at.date()) == r.age


@pytest.mark.parametrize("on", [date(2026, 3, 1), date(2028, 2, 29), date(2026, 12, 31)])
def test_date_of_birth_for_gives_exact_age(on: date) -> None:
    import random

    rng = random.Random(1)
    for age in range(90):
        for _ in range(5):
            assert age_on(date_of_birth_for(age, on, rng), on) == age


def test_completion_bodies(flight: Flight) -> None:
    for r in flight.returnees:
        body = r.completion()
        assert body["instrument"] == "reintegration-sustainability-survey"
        assert set(body["scores"]) == {"economic", "social", "psychosocial", "composite"}
        assert all(0 <= v <= 1 for v in body["scores"].values())
        categories = [n["category"] for n in body["needs"]]
        assert len(categories) == len(set(categories))
        for need in body["needs"]:
            assert ServiceCategory(need["category"])
            assert Priority(need["priority"])
            assert need["level"] == "individual"
        if r.arrival["has_disability"]:
            assert "health" in categories
    employed = sum(any(n.category == ServiceCategory.EMPLOYMENT for n in r.needs) for r in flight.returnees)
    assert employed > 60


def test_naive_now_and_empty_flight_rejected() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate_flight(10, 1, now=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="at least one"):
        generate_flight(0, 1, now=NOW)


def test_relative_and_percentile() -> None:
    assert relative(datetime(2026, 1, 1, 0, 0, 29, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)) == "in 29 s"
    assert (
        relative(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 12, tzinfo=UTC)) == "12 s ago"
    )
    assert relative(datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)) == "in 89 d"
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95) == 10
    assert percentile([4.0], 0.95) == 4.0


def test_repeat_returners_were_registered_before_and_are_written_differently_now() -> None:
    flight = generate_flight(135, 31, now=NOW, unaccompanied=12, repeat_returns=10)
    assert flight.count("unaccompanied_child") == 12
    repeaters = [r for r in flight.returnees if r.repeat_of]
    assert len(repeaters) == len(flight.earlier) == 10
    for r, before in zip(repeaters, flight.earlier, strict=True):
        assert before["arrived_at"] < r.arrival["arrived_at"]
        assert before["manifest_ref"] != r.arrival["manifest_ref"]
        now_p, then = r.arrival["person"], before["person"]
        assert now_p != then
        assert now_p["date_of_birth"] == then["date_of_birth"]
        if r.repeat_of == "no_accents":
            assert now_p["family_names"] == strip_accents(then["family_names"])
        if r.repeat_of == "swapped_family_names":
            assert now_p["family_names"].split() == then["family_names"].split()[::-1]
    assert sum(r.repeat_of in LINKED_AUTOMATICALLY for r in repeaters) == 9


def test_the_manifest_is_read_by_reception_line_by_line_with_the_bad_lines_named() -> None:
    manifests = pytest.importorskip("reintegra_reception.manifests")
    flight = generate_flight(135, 31, now=NOW, unaccompanied=12, repeat_returns=10)
    data = manifest_csv([manifest_row(r) for r in flight.returnees] + bad_rows(900))
    defaults = {k: v for k, v in manifest_defaults(flight).items() if k != "manifest_id"}
    cmd = manifests.from_csv(data, flight.flight_ref, defaults)
    assert len(cmd.rows) == 135
    assert [p.field for p in cmd.problems] == [column for column, _ in BAD_ROWS]
    assert [p.line for p in cmd.problems] == list(range(137, 147))


def test_the_announcement_is_valid_for_reception() -> None:
    http = pytest.importorskip("reintegra_reception.http")
    flight = generate_flight(40, 3, now=NOW)
    body = http.AnnouncementIn.model_validate(announcement(flight))
    assert len(body.persons) == 40 - 2 + 2  # two not announced, two announced who do not come


def test_each_person_consents_and_one_adult_holds_back_referral() -> None:
    flight = generate_flight(120, 2026, now=NOW, repeat_returns=10)
    holder = holding_back(flight)
    assert holder is not None
    assert (holder.kind, holder.repeat_of, bool(holder.needs)) == ("adult", None, True)
    for r in flight.returnees:
        body = consent_body(r, shares=r is not holder)
        purposes = [s["purpose"] for s in body["scopes"]]
        assert body["information_language"] == "es"
        assert body["method"] in ("written", "verbal_witnessed")
        if r is holder:
            assert purposes == ["assessment", "followup_contact"]
            continue
        assert purposes[0] == "assessment"
        assert purposes[-2:] == ["followup_contact", "statistics"]
        wanted = {n.category.value for n in r.needs} | set(r.arrival.get("immediate_needs", []))
        for scope in body["scopes"]:
            if scope["purpose"] in ("referral", "contact_by_provider"):
                assert set(scope["service_categories"]) == wanted  # the kinds of service needed, no more
        if r.age >= 18:
            assert body["given_by"] == "self"
            assert "child_view" not in body
        elif r.kind == "unaccompanied_child":
            assert body["given_by"] == "child_protection_authority"
            assert body["child_view"] == "agrees"
        else:
            assert body["given_by"] == "guardian"
            assert body["child_view"] == ("agrees" if r.age >= 7 else "not_able_to_express")


def test_reception_decides_who_consents_from_its_own_view_of_the_case() -> None:
    flight = generate_flight(40, 3, now=NOW)
    child = next(r for r in flight.returnees if r.kind == "child_in_family")
    # reception found the child travelling without a guardian after all (declared separated)
    body = consent_body(child, {"age": child.age, "vulnerabilities": ["separated_child"]})
    assert body["given_by"] == "child_protection_authority"
    # and reception's immediate needs (a child alone always needs child protection) are consented to
    adult = next(r for r in flight.returnees if r.kind == "adult")
    body = consent_body(adult, {"age": adult.age, "immediate_needs": ["shelter"]})
    referral = next(s for s in body["scopes"] if s["purpose"] == "referral")
    assert "shelter" in referral["service_categories"]


def test_a_flight_without_an_adult_in_need_has_nobody_holding_back() -> None:
    flight = generate_flight(1, 5, now=NOW)  # one unaccompanied child
    assert [r.kind for r in flight.returnees] == ["unaccompanied_child"]
    assert holding_back(flight) is None


def test_the_consents_pass_reception_request_model_and_its_consent_rules() -> None:
    """Each body as reception's own request model and consent rules take it, recorded by the role the
    demo records it as (a case worker; SENAF's protection officer for a child alone)."""
    http = pytest.importorskip("reintegra_reception.http_privacy")
    consent = pytest.importorskip("reintegra_reception.domain.consent")
    commands = pytest.importorskip("reintegra_reception.domain.commands")
    flight = generate_flight(120, 2026, now=NOW, repeat_returns=10)
    holder = holding_back(flight)
    staff = commands.Actor("demo", frozenset(DEMO_ROLES), None, "HN-CAMR-SPS", "HN")
    officer = commands.Actor("senaf", frozenset({"protection_officer"}), "hn-senaf", None, "HN")
    for r in flight.returnees:
        body = http.ConsentIn.model_validate(consent_body(r, shares=r is not holder))
        case_id, returnee_id = uuid4(), uuid4()
        subject = consent.ConsentSubject(
            case_id, returnee_id, r.age, travelling_alone=r.kind == "unaccompanied_child", country="HN"
        )
        by_authority = body.given_by.value == "child_protection_authority"
        cmd = commands.RecordConsent(
            case_id=case_id,
            given_by=body.given_by,
            method=body.method,
            scopes=tuple(s.to_scope() for s in body.scopes),
            actor=officer if by_authority else staff,
            information_language=body.information_language,
            child_view=body.child_view,
        )
        record = consent.CaseConsent(case_id, returnee_id).record_consent(cmd, subject, NOW)
        assert record.recorded_by.role == ("protection_officer" if by_authority else "case_worker")
