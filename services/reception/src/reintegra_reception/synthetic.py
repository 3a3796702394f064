"""Made-up Central American identities: the labelled test set of identity matching and its benchmark.

Nobody here is real. Names are drawn from lists of common given and family names of Honduras,
Guatemala and El Salvador with a Zipf-like frequency (a few names are very common — "common names are
common"), so namesakes occur as they do in the field. :func:`labelled_set` builds people already known
and probes that are either one of them again, written the way registrations really differ (typos,
swapped or missing family names, missing accents, other spellings, day and month swapped, a new
document), or somebody else who looks alike (siblings, twins, namesakes, strangers). The same seed
always gives the same set.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from uuid import UUID, uuid5

from .domain.commands import PersonalData
from .domain.identity import blocking_keys, identity_of
from .domain.matching import Candidate, MatchPolicy, Verdict, match

_NS = UUID("0b9f6a4e-5f0a-4c59-8a53-6a1f1f0d2c77")

MALE = (
    "José", "Juan", "Carlos", "Luis", "Jorge", "Mario", "Óscar", "Francisco", "Miguel", "Denis",
    "Wilmer", "Elvin", "Marvin", "Kevin", "Josué", "Edwin", "Nelson", "Cristian", "Ángel", "David",
    "Julio", "Pedro", "Manuel", "Santos", "Jesús", "Antonio", "Víctor", "Fernando", "Roberto", "Héctor",
    "Ricardo", "Selvin", "Walter", "Byron", "Erick", "Brayan", "Jonathan", "Alexander", "Daniel", "Hugo",
    "Rigoberto", "Edgar", "Melvin", "Jairo", "Yovani", "Osman", "Germán", "Axel", "Gerson", "Eduardo",
)  # fmt: skip
FEMALE = (
    "María", "Ana", "Gloria", "Karla", "Sandra", "Reina", "Suyapa", "Dania", "Lesly", "Yolanda",
    "Marta", "Rosa", "Wendy", "Dilcia", "Iris", "Nohemí", "Tania", "Yessenia", "Alba", "Lourdes",
    "Sonia", "Delmy", "Glenda", "Ingrid", "Heidy", "Mirna", "Xiomara", "Jennifer", "Gabriela", "Daniela",
    "Andrea", "Carmen", "Brenda", "Sindy", "Evelyn", "Keila", "Yuridia", "Maritza", "Lilian", "Marleny",
)  # fmt: skip
FAMILY = (
    "Hernández", "López", "Martínez", "García", "Rodríguez", "Mejía", "Flores", "Reyes", "Cruz", "Pérez",
    "Sánchez", "Ramírez", "Castro", "Díaz", "Rivera", "Gómez", "González", "Vásquez", "Mendoza", "Morales",
    "Zelaya", "Aguilar", "Pineda", "Orellana", "Padilla", "Velásquez", "Romero", "Ramos", "Chávez", "Paz",
    "Molina", "Álvarez", "Torres", "Escobar", "Argueta", "Girón", "Ayala", "Alvarado", "Guzmán", "Osorio",
    "Membreño", "Portillo", "Fuentes", "Villatoro", "Quiñónez", "Amaya", "Bonilla", "Euceda", "Jiménez",
    "Guevara", "Lara", "Sorto", "Ventura", "Barahona", "Santos", "Galeas", "Turcios", "Lagos", "Figueroa",
    "Murillo", "Rosales", "Cárcamo", "Recinos", "Banegas", "Matute", "Maradiaga", "Ortiz", "Cáceres",
    "Valladares", "Funes", "Tzul", "Coc", "Caal", "Choc", "Pop", "Xicará", "Cabrera", "Mazariegos",
)  # fmt: skip

SPELLINGS = (
    ("V", "B"), ("B", "V"), ("Z", "S"), ("S", "Z"), ("LL", "Y"), ("Y", "LL"), ("J", "G"), ("SS", "S"),
    ("S", "SS"), ("H", ""), ("I", "Y"), ("Y", "I"), ("C", "S"), ("QU", "K"),
)  # fmt: skip
"""Other spellings of one sound, as a registration clerk might write a name heard aloud."""


def _weights(n: int, exponent: float = 1.0) -> list[float]:
    return [1 / (rank**exponent) for rank in range(1, n + 1)]


_W_MALE, _W_FEMALE, _W_FAMILY = _weights(len(MALE)), _weights(len(FEMALE)), _weights(len(FAMILY), 0.8)


@dataclass(frozen=True)
class Person:
    """A made-up person: what a registration writes down, and their sex."""

    data: PersonalData
    sex: str


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


class Generator:
    """Draws made-up people and the ways their registrations differ."""

    def __init__(self, seed: int = 2026, *, today: date = date(2026, 11, 20)) -> None:
        self.rng = random.Random(seed)
        self.today = today

    def given(self, sex: str) -> str:
        names, weights = (MALE, _W_MALE) if sex == "male" else (FEMALE, _W_FEMALE)
        first = self.rng.choices(names, weights)[0]
        if self.rng.random() < 0.45:
            second = self.rng.choices(names, weights)[0]
            if second != first:
                return f"{first} {second}"
        return first

    def family(self) -> str:
        return " ".join(self.rng.choices(FAMILY, _W_FAMILY, k=2))

    def birth(self, min_age: int = 14, max_age: int = 65) -> date:
        days = self.rng.randrange(min_age * 365, max_age * 365)
        return self.today - timedelta(days=days)

    def document(self, born: date) -> str:
        return f"{self.rng.randrange(1, 19):02d}{self.rng.randrange(1, 29):02d}-{born.year}-{self.rng.randrange(100000):05d}"

    def person(self) -> Person:
        sex = "male" if self.rng.random() < 0.8 else "female"
        born = self.birth()
        data = PersonalData(
            given_names=self.given(sex),
            family_names=self.family(),
            date_of_birth=born,
            document_number=self.document(born) if self.rng.random() < 0.7 else None,
        )
        return Person(data, sex)

    # ------------------------------------------------------------------ the same person, written again

    def typo(self, name: str) -> str:
        """One keyboard slip in a name: a letter dropped, doubled, replaced, or two swapped."""
        letters = list(name)
        positions = [i for i, c in enumerate(letters) if c.isalpha()][1:]
        if not positions:
            return name
        i = self.rng.choice(positions)
        kind = self.rng.randrange(4)
        if kind == 0:
            del letters[i]
        elif kind == 1:
            letters.insert(i, letters[i])
        elif kind == 2:
            letters[i] = self.rng.choice("aeioulnrst")
        elif i + 1 < len(letters) and letters[i + 1].isalpha():
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        return "".join(letters)

    def respell(self, name: str) -> str:
        upper = name.upper()
        options = [(a, b) for a, b in SPELLINGS if a in strip_accents(upper)[1:]]
        if not options:
            return self.typo(name)
        a, b = self.rng.choice(options)
        plain = strip_accents(upper)
        at = plain.find(a, 1)
        return (plain[:at] + b + plain[at + len(a) :]).title()

    VARIATIONS = (
        "exact", "no_accents", "typo_given", "typo_family", "swapped_family", "one_family_name",
        "respelled", "new_document", "day_month_swapped", "birth_digit", "second_given_dropped",
        "upper_case", "two_changes",
    )  # fmt: skip

    def again(self, person: Person, variation: str) -> Person:
        """``person`` registered again, differing by ``variation`` (see :data:`VARIATIONS`)."""
        if variation == "two_changes":
            first, second = self.rng.sample(self.VARIATIONS[1:-1], 2)
            return self.again(self.again(person, first), second)
        d = person.data
        family = d.family_names.split()
        if variation == "no_accents":
            d = replace(
                d, given_names=strip_accents(d.given_names), family_names=strip_accents(d.family_names)
            )
        elif variation == "typo_given":
            d = replace(d, given_names=self.typo(d.given_names))
        elif variation == "typo_family":
            family[0] = self.typo(family[0])
            d = replace(d, family_names=" ".join(family))
        elif variation == "swapped_family" and len(family) == 2:
            d = replace(d, family_names=f"{family[1]} {family[0]}")
        elif variation == "one_family_name":
            d = replace(d, family_names=family[0])
        elif variation == "respelled":
            target = self.rng.randrange(2)
            if target == 0:
                d = replace(d, given_names=self.respell(d.given_names))
            else:
                family[0] = self.respell(family[0])
                d = replace(d, family_names=" ".join(family))
        elif variation == "new_document":
            d = replace(d, document_number=self.document(d.date_of_birth))
        elif (
            variation == "day_month_swapped"
            and d.date_of_birth.day <= 12
            and d.date_of_birth.day != d.date_of_birth.month
        ):
            b = d.date_of_birth
            d = replace(d, date_of_birth=date(b.year, b.day, b.month))
        elif variation == "birth_digit":
            b = d.date_of_birth
            day = b.day + 1 if b.day < 28 else b.day - 1
            d = replace(d, date_of_birth=date(b.year, b.month, day))
        elif variation == "second_given_dropped":
            d = replace(d, given_names=d.given_names.split()[0])
        elif variation == "upper_case":
            d = replace(d, given_names=d.given_names.upper(), family_names=d.family_names.upper())
        return Person(d, person.sex)

    # ------------------------------------------------------------------ somebody else who looks alike

    LOOKALIKES = ("sibling", "twin", "namesake", "stranger")

    def lookalike(self, person: Person, kind: str) -> Person:
        """Somebody else: a sibling (same family names), a twin (same family names and birth date), a
        namesake (same names, another birth date) or a stranger."""
        d = person.data
        if kind == "stranger":
            return self.person()
        if kind == "namesake":
            born = self.birth()
            while born == d.date_of_birth:
                born = self.birth()
            return Person(replace(d, date_of_birth=born, document_number=None), person.sex)
        sex = "male" if self.rng.random() < 0.6 else "female"
        given = self.given(sex)
        while strip_accents(given.split()[0]) == strip_accents(d.given_names.split()[0]):
            given = self.given(sex)
        if kind == "twin":
            born = d.date_of_birth
        else:
            born = d.date_of_birth + timedelta(days=self.rng.choice((-1, 1)) * self.rng.randrange(300, 4000))
        return Person(PersonalData(given, d.family_names, born, self.document(born)), sex)


@dataclass(frozen=True)
class Probe:
    """A registration to match, and the truth: the index of the known person it is, or ``None``."""

    person: Person
    truth: int | None
    kind: str


def labelled_set(
    known: int = 2_000, probes: int = 1_000, seed: int = 2026
) -> tuple[list[Person], list[Probe]]:
    """``known`` people already registered and ``probes`` new registrations: about half are one of the
    known people again (each variation equally often), half somebody else who looks alike."""
    gen = Generator(seed)
    people = [gen.person() for _ in range(known)]
    out: list[Probe] = []
    for i in range(probes):
        index = gen.rng.randrange(known)
        if i % 2 == 0:
            variation = Generator.VARIATIONS[(i // 2) % len(Generator.VARIATIONS)]
            out.append(Probe(gen.again(people[index], variation), index, variation))
        else:
            kind = Generator.LOOKALIKES[(i // 2) % len(Generator.LOOKALIKES)]
            out.append(Probe(gen.lookalike(people[index], kind), None, kind))
    return people, out


def people(count: int, seed: int = 7) -> Iterator[Person]:
    """``count`` made-up people (the benchmark's known returnees)."""
    gen = Generator(seed)
    for _ in range(count):
        yield gen.person()


@dataclass
class Quality:
    """How matching did on a labelled set (counts of probes)."""

    linked_right: int = 0
    reviewed_match: int = 0
    missed: int = 0
    false_merge: int = 0
    reviewed_other: int = 0
    new_right: int = 0
    candidates: int = 0

    @property
    def matches(self) -> int:
        return self.linked_right + self.reviewed_match + self.missed + self.wrong_link_of_match

    wrong_link_of_match: int = 0

    @property
    def others(self) -> int:
        return self.false_merge + self.reviewed_other + self.new_right

    @property
    def probes(self) -> int:
        return self.matches + self.others

    @property
    def false_merge_rate(self) -> float:
        """Automatic links to the wrong person, over all probes."""
        return (self.false_merge + self.wrong_link_of_match) / max(1, self.probes)

    @property
    def missed_rate(self) -> float:
        """Repeat returns neither linked nor sent to review, over the probes that were repeat returns."""
        return self.missed / max(1, self.matches)

    @property
    def auto_link_rate(self) -> float:
        return self.linked_right / max(1, self.matches)

    @property
    def review_rate(self) -> float:
        """Probes sent to a person, over all probes (the review queue's load)."""
        return (self.reviewed_match + self.reviewed_other) / max(1, self.probes)


def evaluate(policy: MatchPolicy, known: list[Person], probes: list[Probe], country: str = "HN") -> Quality:
    """Run the matching rules over a labelled set, with blocking as reception does it (shared keys)."""
    identities = [identity_of(p.data, sex=p.sex, country=country) for p in known]
    index: dict[str, list[int]] = {}
    for i, ident in enumerate(identities):
        for key in blocking_keys(ident):
            index.setdefault(key, []).append(i)
    ids = [uuid5(_NS, str(i)) for i in range(len(known))]
    quality = Quality()
    for probe in probes:
        ident = identity_of(probe.person.data, sex=probe.person.sex, country=country)
        found = sorted({i for key in blocking_keys(ident) for i in index.get(key, ())})
        quality.candidates += len(found)
        result = match(
            ident,
            [Candidate(ids[i], identities[i], last_arrival=None) for i in found],
            policy,
            arriving_on=date(2026, 11, 20),
        )
        chosen = ids.index(result.returnee_id) if result.returnee_id is not None else None
        if probe.truth is not None:
            if result.verdict is Verdict.LINK:
                if chosen == probe.truth:
                    quality.linked_right += 1
                else:
                    quality.wrong_link_of_match += 1
            elif result.verdict is Verdict.REVIEW:
                quality.reviewed_match += 1
            else:
                quality.missed += 1
        elif result.verdict is Verdict.LINK:
            quality.false_merge += 1
        elif result.verdict is Verdict.REVIEW:
            quality.reviewed_other += 1
        else:
            quality.new_right += 1
    return quality
