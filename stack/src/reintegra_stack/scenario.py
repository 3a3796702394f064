"""A synthetic charter flight of returnees, generated from a seed. Pure: no I/O, no clock.

Everybody here is made up: names come from short lists of common Honduran given and family names,
documents carry a ``DEMO-`` prefix, phone numbers are drawn at random. The same ``seed``, ``size`` and
date always give the same flight, and the same ``manifest_ref`` per person, so registering the flight
twice is idempotent (reception answers 200 for a manifest line it already knows).
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from reintegra_contracts.codelists import (
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    Priority,
    ServiceCategory,
    Vulnerability,
)

COUNTRY_OF_RETURN = "HN"
RETURNED_FROM = "US"
PORT_OF_ENTRY = "HN-SAP"  # Ramón Villeda Morales international airport, San Pedro Sula
RECEPTION_CENTRE = "HN-CAMR-SPS"  # Centro de Atención al Migrante Retornado, San Pedro Sula
INSTRUMENT = "reintegration-sustainability-survey"
INSTRUMENT_VERSION = "1"

MUNICIPALITIES: dict[str, str] = {
    "HN-0501": "San Pedro Sula",
    "HN-0801": "Distrito Central",
    "HN-0101": "La Ceiba",
    "HN-0301": "Comayagua",
}
MUNICIPALITY_WEIGHTS = (40, 30, 15, 15)
INDIGENOUS_PEOPLES = ("Garífuna", "Lenca", "Miskito")

MALE_NAMES = (
    "José", "Juan", "Carlos", "Luis", "Jorge", "Mario", "Óscar", "Francisco", "Miguel", "Denis",
    "Wilmer", "Elvin", "Marvin", "Kevin", "Josué", "Edwin", "Nelson", "Cristian", "Ángel", "David",
)  # fmt: skip
FEMALE_NAMES = (
    "María", "Ana", "Gloria", "Karla", "Sandra", "Reina", "Suyapa", "Dania", "Lesly", "Yolanda",
    "Marta", "Rosa", "Wendy", "Dilcia", "Iris", "Nohemí", "Tania", "Yessenia", "Alba", "Lourdes",
)  # fmt: skip
FAMILY_NAMES = (
    "López", "Hernández", "Martínez", "Rodríguez", "García", "Mejía", "Flores", "Reyes", "Cruz",
    "Castro", "Sánchez", "Pérez", "Ramírez", "Díaz", "Rivera", "Zelaya", "Aguilar", "Banegas",
    "Matute", "Maradiaga", "Ortiz", "Cáceres", "Valladares", "Funes",
)  # fmt: skip

Kind = Literal["adult", "older_adult", "parent", "child_in_family", "unaccompanied_child"]


@dataclass(frozen=True)
class PlannedNeed:
    """A need the simulated case worker will find at the assessment."""

    category: ServiceCategory
    priority: Priority

    def to_json(self) -> dict[str, str]:
        return {"category": self.category.value, "priority": self.priority.value, "level": "individual"}


@dataclass(frozen=True)
class Returnee:
    """One line of the flight manifest: the arrival to register and the assessment to come."""

    line: int
    kind: Kind
    sex: Literal["female", "male"]
    age: int
    family_group_ref: str | None
    arrival: dict[str, Any]
    needs: tuple[PlannedNeed, ...]
    scores: dict[str, float]
    repeat_of: str | None = None
    """For a repeat return: how this registration differs from the earlier one (see REPEAT_VARIATIONS)."""

    @property
    def family_label(self) -> str | None:
        """``FAM-007``: the family reference without the flight prefix."""
        if not self.family_group_ref:
            return None
        return "FAM-" + self.family_group_ref.rsplit("-FAM-", 1)[-1]

    @property
    def manifest_ref(self) -> str:
        return str(self.arrival["manifest_ref"])

    def completion(self) -> dict[str, Any]:
        """Body of ``POST /v1/assessments/{id}/completion`` for this person."""
        return {
            "instrument": INSTRUMENT,
            "instrument_version": INSTRUMENT_VERSION,
            "scores": self.scores,
            "needs": [n.to_json() for n in self.needs],
        }


@dataclass(frozen=True)
class Flight:
    """A charter flight of returnees from the United States to San Pedro Sula."""

    flight_ref: str
    arrived_at: datetime
    seed: int
    returnees: tuple[Returnee, ...] = field(default_factory=tuple)
    earlier: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    """``POST /v1/arrivals`` bodies of the repeat returners' earlier returns (months before)."""

    @property
    def families(self) -> dict[str, list[Returnee]]:
        groups: dict[str, list[Returnee]] = {}
        for r in self.returnees:
            if r.family_group_ref:
                groups.setdefault(r.family_group_ref, []).append(r)
        return groups

    def count(self, kind: Kind) -> int:
        return sum(1 for r in self.returnees if r.kind == kind)


def date_of_birth_for(age: int, on: date, rng: random.Random) -> date:
    """A date of birth giving exactly ``age`` completed years on ``on``."""
    latest = _years_before(on, age)  # turned ``age`` on this day
    earliest = _years_before(on, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class _Builder:
    def __init__(self, flight_ref: str, arrived_at: datetime, rng: random.Random) -> None:
        self.flight_ref = flight_ref
        self.arrived_at = arrived_at
        self.rng = rng
        self.returnees: list[Returnee] = []

    def municipality(self) -> str:
        return self.rng.choices(list(MUNICIPALITIES), weights=MUNICIPALITY_WEIGHTS)[0]

    def add(
        self,
        kind: Kind,
        sex: Literal["female", "male"],
        age: int,
        *,
        family_names: str | None = None,
        family_group_ref: str | None = None,
        municipality: str | None = None,
        indigenous_people: str | None = None,
        relationship: str | None = None,
    ) -> Returnee:
        rng = self.rng
        line = len(self.returnees) + 1
        adult = age >= 18
        given = rng.choice(FEMALE_NAMES if sex == "female" else MALE_NAMES)
        if rng.random() < 0.4:
            second = rng.choice(FEMALE_NAMES if sex == "female" else MALE_NAMES)
            if second != given:
                given = f"{given} {second}"
        surnames = family_names or f"{rng.choice(FAMILY_NAMES)} {rng.choice(FAMILY_NAMES)}"
        if indigenous_people is None and kind != "child_in_family" and rng.random() < 0.08:
            indigenous_people = rng.choice(INDIGENOUS_PEOPLES)
        has_disability = rng.random() < (0.05 if adult else 0.02)
        previous_returns = rng.choice((1, 1, 1, 2, 2, 3)) if adult and rng.random() < 0.25 else 0
        declared: list[Vulnerability] = []
        immediate: list[ServiceCategory] = []
        if sex == "female" and 18 <= age <= 40 and kind != "older_adult" and rng.random() < 0.06:
            declared.append(Vulnerability.PREGNANT)
            immediate.append(ServiceCategory.HEALTH)
        if adult and rng.random() < 0.04:
            declared.append(Vulnerability.DISPLACEMENT_RISK)  # cannot go home: violence, extortion
            immediate.append(ServiceCategory.SHELTER)
        if adult and rng.random() < 0.04:
            declared.append(Vulnerability.CHRONIC_ILLNESS)
        birth = date_of_birth_for(age, self.arrived_at.date(), rng)
        person: dict[str, Any] = {
            "given_names": given,
            "family_names": surnames,
            "date_of_birth": birth.isoformat(),
        }
        if adult or rng.random() < 0.3:
            person["document_number"] = f"DEMO-{birth.year}-{rng.randrange(100000):05d}"
        if adult and rng.random() < 0.8:
            person["phone"] = f"+504 9{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"
        dest = municipality or self.municipality()
        arrival: dict[str, Any] = {
            "manifest_ref": f"{self.flight_ref}-{line:03d}",
            "person": person,
            "sex": sex,
            "arrived_at": self.arrived_at.isoformat(),
            "port_of_entry": PORT_OF_ENTRY,
            "reception_centre": RECEPTION_CENTRE,
            "country_of_return": COUNTRY_OF_RETURN,
            "returned_from": RETURNED_FROM,
            "return_type": "forced",
            "transport_mode": "air",
            "destination_municipality": dest,
            "preferred_language": "es",
            "has_disability": has_disability,
            "travelling_with_family": family_group_ref is not None,
            "previous_returns": previous_returns,
        }
        if indigenous_people:
            arrival["indigenous_people"] = indigenous_people
        if family_group_ref:
            arrival["family_group_ref"] = family_group_ref
        if relationship:
            arrival["relationship"] = relationship
        if declared:
            arrival["vulnerabilities"] = [v.value for v in declared]
        if immediate:
            arrival["immediate_needs"] = [c.value for c in immediate]
        needs = plan_needs(kind, age, has_disability, previous_returns, set(declared), rng)
        returnee = Returnee(
            line=line,
            kind=kind,
            sex=sex,
            age=age,
            family_group_ref=family_group_ref,
            arrival=arrival,
            needs=needs,
            scores=plan_scores(needs, rng),
        )
        self.returnees.append(returnee)
        return returnee


def plan_needs(
    kind: Kind,
    age: int,
    has_disability: bool,
    previous_returns: int,
    declared: set[Vulnerability],
    rng: random.Random,
) -> tuple[PlannedNeed, ...]:
    """Plausible needs for a profile, as a case worker's interview might find them."""
    needs: dict[ServiceCategory, Priority] = {}

    def need(category: ServiceCategory, priority: Priority) -> None:
        needs.setdefault(category, priority)

    if kind == "unaccompanied_child":
        need(ServiceCategory.CHILD_PROTECTION, Priority.URGENT)
        need(ServiceCategory.FAMILY_REUNIFICATION, Priority.HIGH)
        need(ServiceCategory.EDUCATION, Priority.HIGH)
    elif kind == "child_in_family":
        if age >= 6:
            need(ServiceCategory.EDUCATION, Priority.MEDIUM)
        elif rng.random() < 0.5:
            need(ServiceCategory.HEALTH, Priority.MEDIUM)
    else:
        if Vulnerability.DISPLACEMENT_RISK in declared:
            need(ServiceCategory.SHELTER, Priority.URGENT)
            need(ServiceCategory.LEGAL_AID, Priority.HIGH)
        if Vulnerability.PREGNANT in declared:
            need(ServiceCategory.HEALTH, Priority.HIGH)
        if kind == "older_adult":
            need(ServiceCategory.HEALTH, Priority.HIGH)
            need(ServiceCategory.SOCIAL_PROTECTION, Priority.MEDIUM)
        elif rng.random() < 0.85:
            need(ServiceCategory.EMPLOYMENT, Priority.HIGH if kind == "parent" else Priority.MEDIUM)
        if rng.random() < 0.3:
            need(ServiceCategory.IDENTITY_DOCUMENTS, Priority.MEDIUM)
        if rng.random() < 0.2 or Vulnerability.CHRONIC_ILLNESS in declared:
            need(ServiceCategory.HEALTH, Priority.MEDIUM)
        if rng.random() < 0.25:
            need(ServiceCategory.PSYCHOSOCIAL_SUPPORT, Priority.MEDIUM)
        if rng.random() < 0.05:
            need(ServiceCategory.MENTAL_HEALTH, Priority.HIGH)
        if rng.random() < 0.03:
            need(ServiceCategory.SHELTER, Priority.HIGH)
        if previous_returns and rng.random() < 0.4:
            need(ServiceCategory.MICROENTERPRISE, Priority.MEDIUM)
    if has_disability:
        need(ServiceCategory.HEALTH, Priority.HIGH)
    return tuple(PlannedNeed(c, p) for c, p in needs.items())


def plan_scores(needs: tuple[PlannedNeed, ...], rng: random.Random) -> dict[str, float]:
    """Reintegration scores (0..1, 1 = fully reintegrated), lower where needs were found."""
    economic_cats = {ServiceCategory.EMPLOYMENT, ServiceCategory.MICROENTERPRISE}
    psycho_cats = {
        ServiceCategory.PSYCHOSOCIAL_SUPPORT,
        ServiceCategory.MENTAL_HEALTH,
        ServiceCategory.CHILD_PROTECTION,
        ServiceCategory.FAMILY_REUNIFICATION,
    }
    cats = {n.category for n in needs}
    economic = rng.uniform(0.15, 0.45) if cats & economic_cats else rng.uniform(0.4, 0.8)
    psychosocial = rng.uniform(0.2, 0.5) if cats & psycho_cats else rng.uniform(0.5, 0.9)
    social_needs = len(cats - economic_cats - psycho_cats)
    social = max(0.05, rng.uniform(0.5, 0.85) - 0.12 * social_needs)
    composite = 0.4 * economic + 0.3 * social + 0.3 * psychosocial
    return {
        "economic": round(economic, 2),
        "social": round(social, 2),
        "psychosocial": round(psychosocial, 2),
        "composite": round(composite, 2),
    }


def flight_ref_for(on: date, seed: int, size: int) -> str:
    """``FLIGHT-<date>-<seq>``: the same date, seed and size give the same manifest."""
    return f"FLIGHT-{on:%Y%m%d}-S{seed}N{size}"


def generate_flight(
    size: int = 120,
    seed: int = 2026,
    *,
    now: datetime,
    unaccompanied: int | None = None,
    repeat_returns: int = 0,
) -> Flight:
    """A charter flight of ``size`` returnees that landed a few minutes before ``now``.

    Composition (roughly, for 120 people): ~7 families (one or two adults with one to three children),
    2-4 unaccompanied adolescents (12-17; or ``unaccompanied``), a few older adults (60+), and single
    adults, about 85% of them men, so that some 70% of the flight are adult men. ``repeat_returns``
    single adults were returned before: :attr:`Flight.earlier` holds those earlier arrivals, and this
    flight writes them differently (accents, swapped family names, a new document, a typo).
    """
    if size < 1:
        raise ValueError("a flight has at least one person")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed * 1_000_003 + size)
    arrived_at = (now - timedelta(minutes=rng.randint(3, 9))).astimezone(UTC).replace(microsecond=0)
    builder = _Builder(flight_ref_for(arrived_at.date(), seed, size), arrived_at, rng)

    alone = min(rng.randint(2, 4), max(1, size // 10))
    unaccompanied = alone if unaccompanied is None else unaccompanied
    families_wanted = max(1, round(size / 17)) if size >= 8 else 0
    family_no = 0
    while family_no < families_wanted:
        adults = 2 if rng.random() < 0.35 else 1
        children = rng.randint(1, 3)
        if len(builder.returnees) + adults + children > size - unaccompanied:
            break
        family_no += 1
        # Reception keys travel groups by this reference alone, so it must not repeat across flights.
        ref = f"{builder.flight_ref}-FAM-{family_no:03d}"
        surnames = f"{rng.choice(FAMILY_NAMES)} {rng.choice(FAMILY_NAMES)}"
        municipality = builder.municipality()
        people = rng.choice(INDIGENOUS_PEOPLES) if rng.random() < 0.1 else None
        # Mostly mothers travelling with their children; sometimes both parents.
        parent_sexes: list[Literal["female", "male"]] = ["female", "male"] if adults == 2 else ["female"]
        if adults == 1 and rng.random() < 0.2:
            parent_sexes = ["male"]
        for n, sex in enumerate(parent_sexes):
            builder.add(
                "parent",
                sex,
                rng.randint(22, 45),
                family_names=surnames,
                family_group_ref=ref,
                municipality=municipality,
                indigenous_people=people or "",
                relationship="head" if n == 0 else "spouse_or_partner",
            )
        for _ in range(children):
            builder.add(
                "child_in_family",
                rng.choice(("female", "male")),
                rng.randint(1, 16),
                family_names=surnames,
                family_group_ref=ref,
                municipality=municipality,
                indigenous_people=people or "",
                relationship="child",
            )
    for _ in range(unaccompanied):
        builder.add("unaccompanied_child", "male" if rng.random() < 0.75 else "female", rng.randint(12, 17))
    while len(builder.returnees) < size:
        if rng.random() < 0.04:
            builder.add("older_adult", "male" if rng.random() < 0.6 else "female", rng.randint(60, 72))
        else:
            age = min(59, 18 + int(rng.gammavariate(2.2, 6.0)))
            builder.add("adult", "male" if rng.random() < 0.86 else "female", age)
    returnees, earlier = _repeat_returns(builder.returnees, repeat_returns, arrived_at, rng)
    return Flight(
        flight_ref=builder.flight_ref,
        arrived_at=arrived_at,
        seed=seed,
        returnees=tuple(returnees),
        earlier=tuple(earlier),
    )


REPEAT_VARIATIONS = (
    "no_accents", "swapped_family_names", "new_document", "upper_case", "typo_in_family_name",
    "no_accents", "swapped_family_names", "new_document", "second_given_name_dropped", "typo_in_given_name",
)  # fmt: skip
"""How a repeat return's registration differs from the earlier one. All but the last are linked
automatically by reception's identity matching; a typo in a given name, without a document this time,
goes to the review queue (a different given name is how twins and brothers differ)."""

LINKED_AUTOMATICALLY = frozenset(REPEAT_VARIATIONS) - {"typo_in_given_name"}


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _typo(word: str) -> str:
    """Double the third letter: ``Zelaya`` → ``Zellaya``."""
    return word[:3] + word[2:] if len(word) > 3 else word + word[-1]


def vary(person: dict[str, Any], variation: str, rng: random.Random) -> dict[str, Any]:
    """``person`` written the way a later registration might write it."""
    out = dict(person)
    family = out["family_names"].split()
    if variation == "no_accents":
        out["given_names"], out["family_names"] = (
            strip_accents(out["given_names"]),
            strip_accents(out["family_names"]),
        )
    elif variation == "swapped_family_names" and len(family) == 2:
        out["family_names"] = f"{family[1]} {family[0]}"
    elif variation == "new_document":
        born = date.fromisoformat(out["date_of_birth"])
        out["document_number"] = f"DEMO-{born.year}-{rng.randrange(100000):05d}N"
    elif variation == "upper_case":
        out["given_names"], out["family_names"] = out["given_names"].upper(), out["family_names"].upper()
    elif variation == "typo_in_family_name":
        out["family_names"] = " ".join([_typo(family[0]), *family[1:]])
    elif variation == "second_given_name_dropped":
        out["given_names"] = out["given_names"].split()[0]
    elif variation == "typo_in_given_name":  # and no papers this time: nothing sure to go by
        given = out["given_names"].split()
        out["given_names"] = " ".join([_typo(given[0]), *given[1:]])
        out.pop("document_number", None)
    return out


def _repeat_returns(
    returnees: list[Returnee], count: int, arrived_at: datetime, rng: random.Random
) -> tuple[list[Returnee], list[dict[str, Any]]]:
    singles = [r for r in returnees if r.kind == "adult"]
    chosen = {r.line: REPEAT_VARIATIONS[i % len(REPEAT_VARIATIONS)] for i, r in enumerate(singles[:count])}
    out: list[Returnee] = []
    earlier: list[dict[str, Any]] = []
    for r in returnees:
        variation = chosen.get(r.line)
        if variation is None:
            out.append(r)
            continue
        person = dict(r.arrival["person"])
        person.setdefault(
            "document_number", f"DEMO-{person['date_of_birth'][:4]}-{rng.randrange(100000):05d}"
        )
        if variation == "second_given_name_dropped" and " " not in person["given_names"]:
            person["given_names"] += " " + rng.choice(MALE_NAMES if r.sex == "male" else FEMALE_NAMES)
        before = arrived_at - timedelta(days=rng.randint(90, 700))
        earlier.append(
            {
                **r.arrival,
                "manifest_ref": "EARLIER-" + r.arrival["manifest_ref"],
                "person": person,
                "arrived_at": before.isoformat(),
            }
        )
        arrival = {**r.arrival, "person": vary(person, variation, rng)}
        out.append(replace(r, arrival=arrival, repeat_of=variation))
    return out, earlier


MANIFEST_COLUMNS = (
    "ref", "given_names", "family_names", "date_of_birth", "sex", "document_number", "phone",
    "destination_municipality", "family_group", "relationship", "vulnerabilities", "immediate_needs",
    "has_disability", "indigenous_people", "preferred_language", "announced_ref",
)  # fmt: skip
"""The columns of the flight manifest (English names; reception also reads the Spanish ones)."""


def line_ref(returnee: Returnee) -> str:
    return f"{returnee.line:03d}"


def announced_ref(returnee: Returnee) -> str:
    return f"ANN-{returnee.line:03d}"


def manifest_row(returnee: Returnee, *, announced: bool = True) -> dict[str, str]:
    """One CSV line of the flight manifest."""
    a = returnee.arrival
    person = a["person"]
    group = returnee.family_label
    return {
        "ref": line_ref(returnee),
        "given_names": person["given_names"],
        "family_names": person["family_names"],
        "date_of_birth": person["date_of_birth"],
        "sex": a["sex"],
        "document_number": person.get("document_number", ""),
        "phone": person.get("phone", ""),
        "destination_municipality": a["destination_municipality"],
        "family_group": group or "",
        "relationship": a.get("relationship", ""),
        "vulnerabilities": ";".join(a.get("vulnerabilities", [])),
        "immediate_needs": ";".join(a.get("immediate_needs", [])),
        "has_disability": "yes" if a["has_disability"] else "no",
        "indigenous_people": a.get("indigenous_people", ""),
        "preferred_language": a.get("preferred_language", "es"),
        "announced_ref": announced_ref(returnee) if announced else "",
    }


BAD_ROWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("sex", {"sex": "unknown"}),
    ("date_of_birth", {"date_of_birth": "2999-01-01"}),
    ("given_names", {"given_names": ""}),
    ("destination_municipality", {"destination_municipality": "San Pedro Sula"}),
    ("date_of_birth", {"date_of_birth": "31/12/1990"}),
    ("vulnerabilities", {"vulnerabilities": "very_sad"}),
    ("relationship", {"relationship": "cousin_twice_removed"}),
    ("has_disability", {"has_disability": "maybe"}),
    ("family_names", {"family_names": ""}),
    ("immediate_needs", {"immediate_needs": "money"}),
)
"""Ten bad lines, each wrong in one column (the column reception must name)."""


def bad_rows(start_line: int) -> list[dict[str, str]]:
    """The :data:`BAD_ROWS` as manifest lines (refs ``BAD-…``), otherwise valid."""
    rows = []
    for i, (_column, change) in enumerate(BAD_ROWS):
        row = {c: "" for c in MANIFEST_COLUMNS}
        row.update(
            ref=f"BAD-{start_line + i:03d}",
            given_names="Error",
            family_names="De Prueba",
            date_of_birth="1990-01-01",
            sex="male",
            destination_municipality="HN-0501",
            has_disability="no",
        )
        row.update(change)
        rows.append(row)
    return rows


def manifest_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def manifest_defaults(flight: Flight, announcement_id: str | None = None) -> dict[str, str]:
    """The flight-wide values of the manifest (query parameters of ``POST /v1/manifests``)."""
    values = {
        "manifest_id": flight.flight_ref,
        "arrived_at": flight.arrived_at.isoformat(),
        "port_of_entry": PORT_OF_ENTRY,
        "reception_centre": RECEPTION_CENTRE,
        "country_of_return": COUNTRY_OF_RETURN,
        "returned_from": RETURNED_FROM,
        "return_type": "forced",
        "transport_mode": "air",
    }
    if announcement_id:
        values["announcement_id"] = announcement_id
    return values


def announcement(flight: Flight, *, unannounced: int = 2, no_shows: int = 2) -> dict[str, Any]:
    """``POST /v1/announcements`` body sent the day before landing: everybody on the flight but the
    last ``unannounced`` people, plus ``no_shows`` people who will not be on the plane."""
    people = flight.returnees[: len(flight.returnees) - unannounced]
    persons: list[dict[str, Any]] = [
        {
            "reference": announced_ref(r),
            "age_group": _age_group(r.age),
            "sex": r.sex,
            "vulnerabilities": [
                v for v in r.arrival.get("vulnerabilities", []) if v in ("pregnant", "chronic_illness")
            ]
            + (["unaccompanied_child"] if r.kind == "unaccompanied_child" else []),
            "needs_medical_attention": "health" in r.arrival.get("immediate_needs", []),
        }
        for r in people
    ]
    persons += [
        {"reference": f"ANN-NOSHOW-{i + 1}", "sex": "male", "age_group": "30_59"} for i in range(no_shows)
    ]
    return {
        "announced_by": "hn-consulado-houston",
        "expected_arrival_at": flight.arrived_at.isoformat(),
        "port_of_entry": PORT_OF_ENTRY,
        "reception_centre": RECEPTION_CENTRE,
        "country_of_return": COUNTRY_OF_RETURN,
        "returned_from": RETURNED_FROM,
        "return_type": "forced",
        "transport_mode": "air",
        "transport_reference": flight.flight_ref[:40],
        "persons": persons,
    }


def _age_group(age: int) -> str:
    for limit, group in ((5, "0_5"), (11, "6_11"), (17, "12_17"), (29, "18_29"), (59, "30_59")):
        if age <= limit:
            return group
    return "60_plus"


# ----------------------------------------------------------------------------------------- consent

WITHHELD_SHARING = (ConsentPurpose.ASSESSMENT, ConsentPurpose.FOLLOWUP_CONTACT)
"""What the one person who holds back agrees to: the assessment and being contacted for follow-up —
no referral to anyone, so referral keeps their referrals in "awaiting consent"."""

TRAVELLING_ALONE = frozenset({Vulnerability.UNACCOMPANIED_CHILD.value, Vulnerability.SEPARATED_CHILD.value})


def holding_back(flight: Flight) -> Returnee | None:
    """The person of the flight who agrees only to :data:`WITHHELD_SHARING`: the first single adult
    (not a repeat return) for whom the interview will find a need, else the first such adult at all;
    ``None`` when the flight has no adult with a need."""
    adults = [r for r in flight.returnees if r.age >= 18 and r.needs]
    for r in adults:
        if r.kind == "adult" and not r.repeat_of:
            return r
    return adults[0] if adults else None


def consent_body(
    returnee: Returnee,
    case: dict[str, Any] | None = None,
    *,
    shares: bool = True,
) -> dict[str, Any]:
    """Body of ``POST /v1/cases/{case_id}/consent`` as the person (or whoever may consent for them)
    gives it at reception, right after registration.

    ``case`` is reception's view of the case (``GET /v1/cases/{id}``): its age, its vulnerability flags
    (a child unaccompanied or separated travels without a guardian) and its immediate needs; without
    it, the flight's own data is used. Who gives it follows reception's rules: an adult themself; a
    child travelling with their family, the parent (``guardian``); a child alone, the country's
    child-protection authority (recorded by its protection officer) — both with the child's view.

    ``shares``: the assessment, referral and contact by the provider for the kinds of service the
    person needs (the needs the interview will find and the immediate needs reception noted),
    follow-up contact, and anonymous statistics. ``shares=False``: only :data:`WITHHELD_SHARING`.
    """
    case = case or {}
    age = int(case.get("age", returnee.age))
    flags = set(case.get("vulnerabilities") or returnee.arrival.get("vulnerabilities") or ())
    if returnee.kind == "unaccompanied_child":
        flags.add(Vulnerability.UNACCOMPANIED_CHILD.value)
    categories = sorted(
        {n.category.value for n in returnee.needs}
        | set(case.get("immediate_needs") or returnee.arrival.get("immediate_needs") or ())
    )
    scopes: list[dict[str, Any]]
    if shares:
        scopes = [{"purpose": ConsentPurpose.ASSESSMENT.value}]
        if categories:
            scopes += [
                {"purpose": ConsentPurpose.REFERRAL.value, "service_categories": categories},
                {"purpose": ConsentPurpose.CONTACT_BY_PROVIDER.value, "service_categories": categories},
            ]
        scopes += [
            {"purpose": ConsentPurpose.FOLLOWUP_CONTACT.value},
            {"purpose": ConsentPurpose.STATISTICS.value},
        ]
    else:
        scopes = [{"purpose": p.value} for p in WITHHELD_SHARING]
    body: dict[str, Any] = {
        "given_by": ConsentGiver.SELF.value,
        # Most sign the form; every seventh person agrees aloud before a witness.
        "method": (ConsentMethod.VERBAL_WITNESSED if returnee.line % 7 == 0 else ConsentMethod.WRITTEN).value,
        "scopes": scopes,
        "information_language": returnee.arrival.get("preferred_language") or "es",
    }
    if age < 18:
        alone = bool(flags & TRAVELLING_ALONE)
        body["given_by"] = (ConsentGiver.CHILD_PROTECTION_AUTHORITY if alone else ConsentGiver.GUARDIAN).value
        body["child_view"] = "agrees" if age >= 7 else "not_able_to_express"
    return body


def now_utc() -> datetime:
    """The current time (kept here so callers can pass a fixed ``now`` in tests)."""
    return datetime.now(UTC)
