"""Identity matching: is a new arrival someone reception already knows? Pure: no I/O.

Rules, in order (docs/adr/0050-identity-matching.md; thresholds in settings):

1. **Deterministic** — a *sure* match:
   * the same document number for the same country, with the same date of birth or similar names;
   * the same names and date of birth after normalisation (accents, case, particles, the order of the
     two family names — :mod:`.identity`).
2. **Probabilistic** — a score in 0..1 from Jaro-Winkler similarity of given and family names (the
   best pairing of the family names, so swapped names still score), the agreement of the dates of
   birth (equal, day and month swapped, one digit wrong, one year off) and of the documents. At or above
   ``auto_link`` the arrival is linked; at or above ``review`` it goes to the review queue.
3. **Never guessed**: a match that would otherwise be linked automatically is only *reviewed* when
   the dates of birth differ (a typo, or a namesake: common names are common), when the given names
   are not compatible (``José Ángel`` vs ``José Luis`` — twins and brothers share the
   rest), when the sexes differ, when a document matches but the names and dates do not, when the
   candidate already arrived the same day (that is a duplicate registration, not a repeat return), or
   when two known people match equally well. A wrong automatic link merges two people's histories,
   which is worse than a missed one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from reintegra_contracts.codelists import DuplicateMatchBasis

from .identity import Identity


@dataclass(frozen=True)
class MatchPolicy:
    """Thresholds of the probabilistic score (configurable: ``REINTEGRA_MATCH_*``)."""

    auto_link: float = 0.95
    review: float = 0.85
    max_candidates_per_key: int = 50
    """A key shared by more people than this finds only the first ones (bounds the cost of a lookup)."""

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.auto_link <= 1:
            raise ValueError("match thresholds must satisfy 0 < review <= auto_link <= 1")


@dataclass(frozen=True)
class Candidate:
    """A known returnee found through a shared blocking key, with what matching needs of them."""

    returnee_id: UUID
    identity: Identity
    last_arrival: date | None = None
    """Day of their latest arrival (``None`` when only announced)."""


class Verdict(enum.StrEnum):
    NEW = "new"
    LINK = "link"
    REVIEW = "review"


@dataclass(frozen=True)
class Comparison:
    """How one candidate compares with the arrival (what a reviewer sees: no personal data)."""

    returnee_id: UUID
    score: float
    sure: bool
    basis: tuple[DuplicateMatchBasis, ...]
    given: float
    family: float
    birth: float
    document: str
    """``same``, ``different`` or ``missing``."""
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    verdict: Verdict
    best: Comparison | None = None
    considered: int = 0
    others: tuple[Comparison, ...] = field(default_factory=tuple)

    @property
    def returnee_id(self) -> UUID | None:
        return self.best.returnee_id if self.best else None


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.similarity(a, b)) if a and b else 0.0


def given_similarity(a: Identity, b: Identity) -> float:
    """Similarity of the given names: whole strings, or the first names when one has fewer names."""
    whole = _jw(a.given_text, b.given_text)
    if a.given and b.given and min(len(a.given), len(b.given)) < max(len(a.given), len(b.given)):
        shorter, longer = sorted((a.given, b.given), key=len)
        prefix = _jw(" ".join(shorter), " ".join(longer[: len(shorter)]))
        return max(whole, 0.97 * prefix)
    return whole


def given_agree(a: Identity, b: Identity) -> bool:
    """Whether the given names are the same after normalisation, one perhaps with a name fewer
    (``María`` and ``María José``). A different given name is what tells siblings and twins apart, so
    any other difference — even one that looks like a typo (``José``/``Josué``) — is for a person to judge."""
    shorter, longer = sorted((a.given, b.given), key=len)
    return bool(shorter) and longer[: len(shorter)] == shorter


def family_compatible(a: Identity, b: Identity) -> bool:
    """Whether each family name of the shorter list is close (Jaro-Winkler >= 0.9) to a different one
    of the longer list, in any order: a typo or a missing second name, not another family."""
    shorter, longer = sorted((a.family, b.family), key=len)
    if not shorter:
        return False
    if len(shorter) == 1:
        return any(_jw(shorter[0], t) >= 0.9 for t in longer)
    straight = all(_jw(x, y) >= 0.9 for x, y in zip(shorter, longer, strict=False))
    swapped = all(_jw(x, y) >= 0.9 for x, y in zip(shorter, reversed(longer[:2]), strict=False))
    return straight or swapped


def family_similarity(a: Identity, b: Identity) -> float:
    """Similarity of the family names, in whichever order pairs them best; one missing family name
    (common in records from abroad) costs a little."""
    fa, fb = a.family, b.family
    if not fa or not fb:
        return 0.0
    if len(fa) >= 2 and len(fb) >= 2:
        straight = (_jw(fa[0], fb[0]) + _jw(fa[1], fb[1])) / 2
        swapped = (_jw(fa[0], fb[1]) + _jw(fa[1], fb[0])) / 2
        whole = _jw(a.family_text, b.family_text)
        return max(straight, swapped, whole)
    shorter, longer = sorted((fa, fb), key=len)
    best = max(_jw(shorter[0], t) for t in longer)
    return best if len(shorter) == len(longer) else 0.95 * best


def birth_similarity(a: date, b: date) -> float:
    """1 for the same date; less for the usual slips of the pen; 0 otherwise."""
    if a == b:
        return 1.0
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return 0.9  # day and month swapped (US and Central American formats)
    if DamerauLevenshtein.distance(a.strftime("%Y%m%d"), b.strftime("%Y%m%d")) == 1:
        return 0.85  # one digit wrong or two adjacent digits swapped
    if (a.month, a.day) == (b.month, b.day) and abs(a.year - b.year) == 1:
        return 0.75
    if a.year == b.year and a.month == b.month:
        return 0.6
    return 0.0


WEIGHTS = {"given": 0.30, "family": 0.35, "birth": 0.35}
"""Weights of the probabilistic score (names 65 %, date of birth 35 %)."""


def compare(arrival: Identity, candidate: Candidate) -> Comparison:
    """Compare an arrival with one known person."""
    known = candidate.identity
    given = given_similarity(arrival, known)
    family = family_similarity(arrival, known)
    birth = birth_similarity(arrival.date_of_birth, known.date_of_birth)
    score = WEIGHTS["given"] * given + WEIGHTS["family"] * family + WEIGHTS["birth"] * birth
    if arrival.document and known.document:
        same_doc = arrival.document == known.document and arrival.country == known.country
        document = "same" if same_doc else "different"
    else:
        same_doc, document = False, "missing"
    basis: list[DuplicateMatchBasis] = []
    names_equal = arrival.given == known.given and sorted(arrival.family) == sorted(known.family)
    sure = False
    if same_doc:
        basis.append(DuplicateMatchBasis.DOCUMENT_MATCH)
        if birth == 1.0 or (given + family) / 2 >= 0.85:
            sure = True
            score = max(score, 0.99)
    if names_equal and birth == 1.0:
        basis.append(DuplicateMatchBasis.NAME_AND_BIRTH_DATE_MATCH)
        sure, score = True, 1.0
    if not basis:
        basis.append(DuplicateMatchBasis.NAME_SIMILARITY)
    caveats: list[str] = []
    if arrival.sex != known.sex and "undisclosed" not in (arrival.sex, known.sex):
        caveats.append("sex differs")
        sure = False
    # Once a deterministic rule holds, a typo elsewhere does not undo it.
    if not sure and not given_agree(arrival, known):
        caveats.append("given names differ (a sibling or twin?)")
    if not sure and not family_compatible(arrival, known):
        caveats.append("family names differ")
    differences = sum(
        (
            arrival.given != known.given,
            sorted(arrival.family) != sorted(known.family),
            arrival.date_of_birth != known.date_of_birth,
        )
    )
    if not sure and differences > 1:
        caveats.append("more than one difference")
    elif not sure and birth < 1.0:
        caveats.append("date of birth differs (a typo, or a namesake?)")
    if same_doc and not sure:
        caveats.append("same document, different names and date of birth")
    return Comparison(
        returnee_id=candidate.returnee_id,
        score=round(min(score, 1.0), 4),
        sure=sure and not caveats,
        basis=tuple(basis),
        given=round(given, 4),
        family=round(family, 4),
        birth=birth,
        document=document,
        caveats=tuple(caveats),
    )


def match(
    arrival: Identity, candidates: Sequence[Candidate], policy: MatchPolicy, *, arriving_on: date
) -> MatchResult:
    """Decide whether ``arrival`` is one of ``candidates``: link, review, or a new person."""
    comparisons = sorted(
        (compare(arrival, c) for c in candidates), key=lambda c: (-c.score, str(c.returnee_id))
    )
    by_id = {c.returnee_id: c for c in candidates}
    above = [c for c in comparisons if c.sure or c.score >= policy.review]
    if not above:
        return MatchResult(Verdict.NEW, considered=len(candidates))
    best, others = above[0], tuple(above[1:])
    same_day = by_id[best.returnee_id].last_arrival == arriving_on
    linkable = best.sure or (best.score >= policy.auto_link and not best.caveats)
    rivals = [o for o in others if o.sure or o.score >= policy.auto_link]
    if same_day:
        best = _with_caveat(best, "already arrived the same day (a duplicate registration?)")
    if rivals:
        best = _with_caveat(best, "another known person matches as well")
    verdict = Verdict.LINK if linkable and not same_day and not rivals else Verdict.REVIEW
    return MatchResult(verdict, best, considered=len(candidates), others=others)


def _with_caveat(comparison: Comparison, caveat: str) -> Comparison:
    return replace(comparison, caveats=(*comparison.caveats, caveat), sure=False)
