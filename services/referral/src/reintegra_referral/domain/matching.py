"""Explainable matching of a need to the services of the directory. Pure: no I/O.

Every service of the need's category in the person's country is considered and kept with the reasons it was ranked or left
out: coverage of the person's municipality, eligibility (age range, sex, groups), remaining weekly
capacity, and whether the need was already sent to its agency. Eligible services are ranked local
before department-wide before national, then by response time, then by load (share of the weekly
capacity already used).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reintegra_contracts.codelists import (
    SPECIAL_CATEGORY_VULNERABILITIES,
    MatchReason,
    ServiceCategory,
    Sex,
    UnmatchedReason,
    Vulnerability,
)

from .directory import AgencyFacts, ServiceFacts

_COVERAGE_RANK = {"municipality": 0, "department": 1, "national": 2}
_COVERAGE_REASON = {
    "municipality": MatchReason.LOCAL_COVERAGE,
    "department": MatchReason.DEPARTMENT_COVERAGE,
    "national": MatchReason.NATIONAL_COVERAGE,
}


@dataclass(frozen=True)
class Profile:
    """What matching may know of the person (from ``arrival_registered``; never who they are, and never
    a special-category flag: those stay at reception, ADR 0080)."""

    age: int
    sex: Sex
    municipality: str
    vulnerabilities: frozenset[Vulnerability] = frozenset()
    language: str = "es"


@dataclass(frozen=True)
class Candidate:
    """One service considered for a need, and why it was ranked or left out."""

    service_id: str
    agency_id: str
    eligible: bool
    reasons: tuple[MatchReason, ...]
    coverage: str | None = None
    response_time_hours: float | None = None
    load: float | None = None
    rank: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "service_id": self.service_id,
            "agency_id": self.agency_id,
            "eligible": self.eligible,
            "reasons": [r.value for r in self.reasons],
            "coverage": self.coverage,
            "response_time_hours": self.response_time_hours,
            "load": self.load,
            "rank": self.rank,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Candidate:
        reasons = data.get("reasons") or []
        assert isinstance(reasons, list)
        return cls(
            service_id=str(data["service_id"]),
            agency_id=str(data["agency_id"]),
            eligible=bool(data["eligible"]),
            reasons=tuple(MatchReason(r) for r in reasons),
            coverage=data.get("coverage") if isinstance(data.get("coverage"), str) else None,  # type: ignore[arg-type]
            response_time_hours=_float(data.get("response_time_hours")),
            load=_float(data.get("load")),
            rank=int(str(data["rank"])) if data.get("rank") is not None else None,
        )


def _float(value: object) -> float | None:
    return float(str(value)) if value is not None else None


@dataclass(frozen=True)
class Match:
    """The result of matching one need: every service considered, the one chosen, or why none."""

    considered: tuple[Candidate, ...]
    chosen: Candidate | None
    unmatched_reason: UnmatchedReason | None = None
    chosen_reasons: tuple[MatchReason, ...] = field(default=())


def match(
    category: ServiceCategory,
    profile: Profile,
    services: Iterable[ServiceFacts],
    agencies: Mapping[str, AgencyFacts],
    *,
    used_this_week: Mapping[str, int] | None = None,
    tried_agencies: Iterable[str] = (),
    owner_vouches: bool = False,
) -> Match:
    """Rank the services of ``category`` for a person with ``profile``; see the module docstring.

    A service for a special-category group (survivors of violence, a health condition, …; ADR 0080)
    cannot be checked against the profile — those flags never reach referral — so it is eligible only
    when the owner of the flags vouches for the person: ``owner_vouches`` (reception named the service's
    agency as the lead agency of a concern), or a coordinator's assignment."""
    used = used_this_week or {}
    tried = set(tried_agencies)
    considered: list[Candidate] = []
    eligible: list[tuple[tuple[object, ...], Candidate]] = []
    seen_excluded: set[MatchReason] = set()
    country = profile.municipality[:2]
    of_country = (s for s in services if s.category == category and s.country == country)
    for s in sorted(of_country, key=lambda s: s.service_id):
        agency = agencies.get(s.agency_id)
        reasons: list[MatchReason] = []
        coverage = s.covers(profile.municipality)
        if agency is None or not agency.active or not s.active:
            reasons.append(MatchReason.INACTIVE)
        if coverage is None:
            reasons.append(MatchReason.OUTSIDE_COVERAGE)
        if (s.min_age is not None and profile.age < s.min_age) or (
            s.max_age is not None and profile.age > s.max_age
        ):
            reasons.append(MatchReason.AGE_NOT_ELIGIBLE)
        if s.sexes and profile.sex not in s.sexes:
            reasons.append(MatchReason.SEX_NOT_ELIGIBLE)
        if s.groups and not _in_group(set(s.groups), profile.vulnerabilities, owner_vouches):
            reasons.append(MatchReason.GROUP_NOT_ELIGIBLE)
        load = None
        if s.weekly_capacity is not None:
            taken = used.get(s.service_id, 0)
            load = round(taken / s.weekly_capacity, 3) if s.weekly_capacity else 1.0
            if taken >= s.weekly_capacity:
                reasons.append(MatchReason.NO_CAPACITY)
        if s.agency_id in tried:
            reasons.append(MatchReason.ALREADY_TRIED)
        hours = s.response_time_hours or (agency.response_time_hours if agency else None)
        if reasons:
            seen_excluded.update(reasons)
            considered.append(
                Candidate(s.service_id, s.agency_id, False, tuple(reasons), coverage, hours, load)
            )
            continue
        assert coverage is not None
        assert hours is not None
        key = (_COVERAGE_RANK[coverage], hours, load or 0.0, s.service_id)
        eligible.append(
            (
                key,
                Candidate(
                    s.service_id, s.agency_id, True, (_COVERAGE_REASON[coverage],), coverage, hours, load
                ),
            )
        )
    eligible.sort(key=lambda item: item[0])
    ranked = [
        Candidate(
            c.service_id, c.agency_id, True, c.reasons, c.coverage, c.response_time_hours, c.load, i + 1
        )
        for i, (_key, c) in enumerate(eligible)
    ]
    everything = tuple(ranked + considered)
    if not ranked:
        return Match(everything, None, _unmatched_reason(considered, seen_excluded))
    chosen = ranked[0]
    return Match(everything, chosen, None, _why(chosen, ranked[1:]))


def _in_group(groups: set[Vulnerability], flags: frozenset[Vulnerability], owner_vouches: bool) -> bool:
    return bool(groups & flags) or (owner_vouches and bool(groups & SPECIAL_CATEGORY_VULNERABILITIES))


def _why(chosen: Candidate, others: list[Candidate]) -> tuple[MatchReason, ...]:
    reasons = list(chosen.reasons)
    if not others:
        return (*reasons, MatchReason.ONLY_CANDIDATE)
    runner_up = others[0]
    if runner_up.coverage == chosen.coverage:
        if (chosen.response_time_hours or 0) < (runner_up.response_time_hours or 0):
            reasons.append(MatchReason.FASTEST_RESPONSE)
        elif (chosen.load or 0.0) < (runner_up.load or 0.0):
            reasons.append(MatchReason.LOWEST_LOAD)
    return tuple(reasons)


def _unmatched_reason(considered: list[Candidate], excluded: set[MatchReason]) -> UnmatchedReason:
    if not considered:
        return UnmatchedReason.NO_SERVICE_FOR_CATEGORY
    if all(
        MatchReason.OUTSIDE_COVERAGE in c.reasons or MatchReason.INACTIVE in c.reasons for c in considered
    ):
        return UnmatchedReason.NONE_COVERS_MUNICIPALITY
    eligibility = {MatchReason.AGE_NOT_ELIGIBLE, MatchReason.SEX_NOT_ELIGIBLE, MatchReason.GROUP_NOT_ELIGIBLE}
    open_ones = [
        c for c in considered if not ({MatchReason.OUTSIDE_COVERAGE, MatchReason.INACTIVE} & set(c.reasons))
    ]
    if all(eligibility & set(c.reasons) for c in open_ones):
        return UnmatchedReason.NONE_ELIGIBLE
    fitting = [c for c in open_ones if not (eligibility & set(c.reasons))]
    if all(MatchReason.ALREADY_TRIED in c.reasons for c in fitting):
        return UnmatchedReason.ALL_CANDIDATES_TRIED
    return UnmatchedReason.NONE_WITH_CAPACITY
