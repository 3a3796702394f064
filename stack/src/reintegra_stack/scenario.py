"""A synthetic charter flight of returnees, generated from a seed. Pure: no I/O, no clock.

Everybody here is made up: names come from short lists of common Honduran given and family names,
documents carry a ``DEMO-`` prefix, phone numbers are drawn at random. The same ``seed``, ``size`` and
date always give the same flight, and the same ``manifest_ref`` per person, so registering the flight
twice is idempotent (reception answers 200 for a manifest line it already knows).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from reintegra_contracts.codelists import Priority, ServiceCategory, Vulnerability

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


def generate_flight(size: int = 120, seed: int = 2026, *, now: datetime) -> Flight:
    """A charter flight of ``size`` returnees that landed a few minutes before ``now``.

    Composition (roughly, for 120 people): ~7 families (one or two adults with one to three children),
    2-4 unaccompanied adolescents (12-17), a few older adults (60+), and single adults, about 85% of
    them men, so that some 70% of the flight are adult men.
    """
    if size < 1:
        raise ValueError("a flight has at least one person")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed * 1_000_003 + size)
    arrived_at = (now - timedelta(minutes=rng.randint(3, 9))).astimezone(UTC).replace(microsecond=0)
    builder = _Builder(flight_ref_for(arrived_at.date(), seed, size), arrived_at, rng)

    unaccompanied = min(rng.randint(2, 4), max(1, size // 10))
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
        for sex in parent_sexes:
            builder.add(
                "parent",
                sex,
                rng.randint(22, 45),
                family_names=surnames,
                family_group_ref=ref,
                municipality=municipality,
                indigenous_people=people or "",
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
            )
    for _ in range(unaccompanied):
        builder.add("unaccompanied_child", "male" if rng.random() < 0.75 else "female", rng.randint(12, 17))
    while len(builder.returnees) < size:
        if rng.random() < 0.04:
            builder.add("older_adult", "male" if rng.random() < 0.6 else "female", rng.randint(60, 72))
        else:
            age = min(59, 18 + int(rng.gammavariate(2.2, 6.0)))
            builder.add("adult", "male" if rng.random() < 0.86 else "female", age)
    return Flight(
        flight_ref=builder.flight_ref,
        arrived_at=arrived_at,
        seed=seed,
        returnees=tuple(builder.returnees),
    )


def now_utc() -> datetime:
    """The current time (kept here so callers can pass a fixed ``now`` in tests)."""
    return datetime.now(UTC)
