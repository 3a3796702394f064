"""Reception's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save.

One registration path serves a single arrival and a whole manifest: the rows of a manifest are
claimed, matched and written together, one statement per table, in the caller's one transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from reintegra_contracts.events import reception as contract
from reintegra_kit.clock import Clock
from reintegra_kit.domain import ConflictError, DomainError, NotFoundError

from .domain import (
    AnnouncedPersonIn,
    Announcement,
    AnnounceReturn,
    ArrivalRejectedError,
    Case,
    DecideReview,
    Decision,
    DuplicateReview,
    MatchPolicy,
    ProvideAssistance,
    RegisterArrival,
    RegisterManifest,
    Registration,
    Relationship,
    Returnee,
    RowProblem,
    ScreenProtection,
)
from .domain.identity import BlindIndex, Identity, identity_of, sure_keys
from .domain.matching import Candidate, MatchResult, Verdict, match
from .domain.model import AnnouncedPersonRecord
from .domain.rules import ADULT_AGE, age_at
from .repository import ReceptionUnitOfWork

ANNOUNCEMENT_WINDOW = timedelta(days=3)
"""An arrival is looked for among announcements expected this close to it (identity keys)."""

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,49}$")


class ManifestRejectedError(DomainError):
    """A manifest sent with ``all_or_nothing`` has bad lines: nobody was registered."""

    code = "manifest-rejected"
    title = "The manifest has bad lines; nobody was registered"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__(
            f"{len(problems)} bad line(s); with all_or_nothing nobody was registered",
            errors=[_problem(p) for p in problems],
        )


def _problem(p: RowProblem) -> dict[str, object]:
    return {"line": p.line, "field": p.field, "message": p.message, "type": p.type}


@dataclass(frozen=True)
class Registered:
    """The outcome of one arrival: its case, whether it is new, and what matching found."""

    line: int | None
    case: Case
    created: bool
    verdict: Verdict | None = None
    review_id: UUID | None = None


@dataclass(frozen=True)
class ManifestReport:
    manifest_id: str
    registered: list[Registered] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False
    good_lines: int = 0
    """Lines without a problem (registered now, before, or — in a dry run — that would be)."""


@dataclass
class _Row:
    line: int | None
    cmd: RegisterArrival
    case_id: UUID
    identity: Identity
    keys: frozenset[str]
    """The blind indexes of the blocking keys (what is stored and looked up)."""
    sure: frozenset[str]
    """The blind indexes of the sure keys only (announcements keep these)."""
    age: int


# ------------------------------------------------------------------------------------- registration


async def register_arrival(
    cmd: RegisterArrival,
    uow: ReceptionUnitOfWork,
    clock: Clock,
    match_policy: MatchPolicy,
    blind_index: BlindIndex,
) -> tuple[Case, bool]:
    """Register an arrival (``arrival_registered``); return the case and whether it is new.

    Idempotent by manifest line: a repeated ``manifest_ref`` returns the case registered the first
    time, even when the retry races the first request (the line is claimed first; a concurrent claim
    waits for the other transaction and then finds its case).
    """
    rows = _rows([(None, cmd)], [], blind_index)
    if not rows:
        raise ArrivalRejectedError("date_of_birth is after the arrival")
    [done] = await _register(uow, rows, clock.now(), match_policy, whole_groups=False)
    return done.case, done.created


async def register_manifest(
    cmd: RegisterManifest,
    uow: ReceptionUnitOfWork,
    clock: Clock,
    match_policy: MatchPolicy,
    blind_index: BlindIndex,
) -> ManifestReport:
    """Register the good lines of a manifest in this one transaction; report every bad line.

    A line registered before (the same manifest re-sent) is reported with its case, not registered
    again. With ``all_or_nothing`` any bad line refuses the whole manifest.
    """
    problems = list(cmd.problems)
    rows = _rows([(r.line, r.arrival) for r in cmd.rows], problems, blind_index)
    problems.sort(key=lambda p: (p.line, p.field))
    if problems and cmd.all_or_nothing:
        raise ManifestRejectedError(problems)
    if cmd.dry_run:
        known = await uow.cases.by_manifest_refs([r.cmd.manifest_ref for r in rows if r.cmd.manifest_ref])
        done = [
            Registered(r.line, known[r.cmd.manifest_ref], False) for r in rows if r.cmd.manifest_ref in known
        ]
        return ManifestReport(cmd.manifest_id, done, problems, dry_run=True, good_lines=len(rows))
    done = await _register(uow, rows, clock.now(), match_policy, whole_groups=True)
    return ManifestReport(cmd.manifest_id, done, problems, good_lines=len(rows))


def _rows(
    items: Sequence[tuple[int | None, RegisterArrival]], problems: list[RowProblem], blind: BlindIndex
) -> list[_Row]:
    """Normalise each arrival and compute its blind indexes; refuse (as a problem) a birth after the
    arrival, and the second line of a person listed twice in one manifest."""
    rows: list[_Row] = []
    seen: dict[str, int | None] = {}
    for line, cmd in items:
        age = age_at(cmd.person.date_of_birth, cmd.facts.arrived_at.date())
        if age < 0:
            problems.append(RowProblem(line or 0, "date_of_birth", "date_of_birth is after the arrival"))
            continue
        identity = identity_of(cmd.person, sex=cmd.facts.sex.value, country=cmd.facts.country_of_return)
        twice = next((seen[k] for k in sure_keys(identity) if k in seen), None)
        if twice is not None and line is not None:
            problems.append(
                RowProblem(
                    line,
                    "person",
                    f"the same person as line {twice} (same document, or names and date of birth)",
                    "duplicate_line",
                )
            )
            continue
        for k in sure_keys(identity):
            seen.setdefault(k, line)
        rows.append(
            _Row(line, cmd, uuid4(), identity, blind.blocking_keys(identity), blind.sure_keys(identity), age)
        )
    return rows


async def _register(
    uow: ReceptionUnitOfWork, rows: list[_Row], now: datetime, policy: MatchPolicy, *, whole_groups: bool
) -> list[Registered]:
    results: dict[int, Registered] = {}
    # 1. Claim the manifest lines: a line claimed before returns its first case.
    refs = {r.cmd.manifest_ref: r.case_id for r in rows if r.cmd.manifest_ref}
    claimed = await uow.cases.claim_manifest_lines(refs) if refs else set()
    earlier = await uow.cases.by_manifest_refs([ref for ref in refs if ref not in claimed])
    todo: list[_Row] = []
    for i, r in enumerate(rows):
        ref = r.cmd.manifest_ref
        if ref and ref not in claimed:
            if ref not in earlier:
                raise ConflictError(f"manifest line {ref!r} is claimed but has no case")
            results[i] = Registered(r.line, earlier[ref], False)
        else:
            todo.append(r)
    index = {id(r): i for i, r in enumerate(rows)}
    if not todo:
        return [results[i] for i in range(len(rows))]

    # 2. Travel groups: their pseudonymous ids, sizes, and (for a whole manifest) who the adults are.
    group_refs = sorted({r.cmd.facts.family_group_ref for r in todo if r.cmd.facts.family_group_ref})
    groups = await uow.cases.travel_groups(group_refs)
    already = await uow.cases.group_sizes(list(groups.values()))
    in_batch = Counter(r.cmd.facts.family_group_ref for r in todo if r.cmd.facts.family_group_ref)
    adults: dict[str, list[Relationship | None]] = {}
    for r in todo:
        ref = r.cmd.facts.family_group_ref
        if ref and r.age >= ADULT_AGE:
            adults.setdefault(ref, []).append(r.cmd.facts.relationship)

    # 3. Announcements: the one named, else those expected around the arrival with a matching person.
    announcements = await _announcements_for(uow, todo)

    # 4. Identity: candidates through shared blocking keys (indexed), then the matching rules.
    found = await uow.returnees.candidates(
        {k for r in todo for k in r.keys}, limit_per_key=policy.max_candidates_per_key
    )
    candidate_ids = sorted({rid for ids in found.values() for rid in ids})
    arrivals = await uow.cases.arrivals_of(candidate_ids)
    country = {rid: todo[0].cmd.facts.country_of_return for rid in candidate_ids}
    known = await uow.returnees.get_many(candidate_ids, country)

    new_returnees: list[Returnee] = []
    extra_keys: dict[UUID, frozenset[str]] = {}
    """Blind indexes to store per person: a new person's, and a known person's new spellings."""
    new_cases: list[Case] = []
    new_reviews: list[DuplicateReview] = []
    arrived: dict[UUID, UUID] = {}
    linked_now: set[UUID] = set()
    for r in todo:
        facts = r.cmd.facts
        ids = sorted({rid for k in r.keys for rid in found.get(k, ())}, key=str)
        candidates = [
            Candidate(rid, known[rid].identity, arrivals[rid][-1][1].date() if rid in arrivals else None)
            for rid in ids
            if rid in known and known[rid].merged_into is None and known[rid].person is not None
        ]
        result = match(r.identity, candidates, policy, arriving_on=facts.arrived_at.date())
        if result.verdict is Verdict.LINK and result.returnee_id in linked_now:
            result = MatchResult(Verdict.REVIEW, result.best, result.considered, result.others)
        if result.verdict is Verdict.LINK and result.returnee_id is not None:
            returnee_id = result.returnee_id
            linked_now.add(returnee_id)
            extra_keys[returnee_id] = extra_keys.get(returnee_id, frozenset()) | r.keys
            previous = len(arrivals.get(returnee_id, []))
        else:
            returnee_id = uuid4()
            new_returnees.append(Returnee(returnee_id, r.cmd.person, facts.sex, facts.country_of_return, now))
            extra_keys[returnee_id] = r.keys
            previous = 0
        ref = facts.family_group_ref
        group_id = groups.get(ref) if ref else None
        size = facts.travel_group_size or (
            (already.get(group_id, 0) + in_batch[ref]) if ref and group_id else None
        )
        announcement, person = _announced(announcements, r)
        case = Case.register(
            r.cmd,
            Registration(
                case_id=r.case_id,
                returnee_id=returnee_id,
                now=now,
                previous_returns=previous,
                travel_group_id=group_id,
                travel_group_size=size,
                adults_in_group=adults.get(ref, []) if whole_groups and ref else None,
                announcement_id=announcement.announcement_id if announcement else None,
                announced_person_id=person.announced_person_id if person else None,
            ),
        )
        if announcement and person:
            announcement.arrived(person, case.case_id)
            arrived[person.announced_person_id] = case.case_id
        review = None
        if result.verdict is Verdict.REVIEW and result.best is not None:
            past = arrivals.get(result.best.returnee_id)
            if past:
                review = DuplicateReview.raise_for(case, result.best, past[-1][0], now)
                new_reviews.append(review)
        new_cases.append(case)
        results[index[id(r)]] = Registered(
            r.line, case, True, result.verdict, review.review_id if review else None
        )

    # 5. Write: one statement per table (the outbox gets each case's events in order).
    await uow.returnees.add_many(new_returnees, extra_keys)
    await uow.cases.add_many(new_cases, {r.case_id: r.cmd.manifest_ref for r in todo if r.cmd.manifest_ref})
    await uow.reviews.add_many(new_reviews)
    if arrived:
        await uow.announcements.mark_arrived(arrived)
    return [results[i] for i in range(len(rows))]


async def _announcements_for(uow: ReceptionUnitOfWork, rows: list[_Row]) -> dict[UUID, Announcement]:
    named = {r.cmd.facts.announcement_id for r in rows if r.cmd.facts.announcement_id}
    unnamed = [r for r in rows if not r.cmd.facts.announcement_id]
    if unnamed:
        start = min(r.cmd.facts.arrived_at for r in unnamed) - ANNOUNCEMENT_WINDOW
        end = max(r.cmd.facts.arrived_at for r in unnamed) + ANNOUNCEMENT_WINDOW
        named.update(
            await uow.announcements.expected_between(start, end, {k for r in unnamed for k in r.sure})
        )
    found: dict[UUID, Announcement] = {}
    for announcement_id in sorted(named, key=str):
        announcement = await uow.announcements.get(announcement_id)
        if announcement is None:
            raise NotFoundError(f"announcement {announcement_id} not found")
        found[announcement_id] = announcement
    return found


def _announced(
    announcements: dict[UUID, Announcement], r: _Row
) -> tuple[Announcement | None, AnnouncedPersonRecord | None]:
    """The announcement and announced person an arrival matches (by reference first, then identity)."""
    facts = r.cmd.facts
    if facts.announcement_id:
        announcement = announcements[facts.announcement_id]
        return announcement, announcement.find(facts.announced_ref, r.sure)
    for announcement in announcements.values():
        person = announcement.find(None, r.sure)
        if person is not None:
            return announcement, person
    return None, None


# ------------------------------------------------------------------------------------ announcements


async def announce_return(
    cmd: AnnounceReturn, uow: ReceptionUnitOfWork, clock: Clock, blind_index: BlindIndex
) -> tuple[Announcement, bool]:
    """Record an announced return (``return_announced``); the same announcement again changes nothing."""
    existing = await uow.announcements.get(cmd.announcement_id)
    if existing is not None:
        if not existing.same_as(cmd):
            raise ConflictError(f"announcement {cmd.announcement_id} exists with other content")
        return existing, False
    for name, code in (("port_of_entry", cmd.port_of_entry), ("reception_centre", cmd.reception_centre)):
        if code is not None and not CODE.fullmatch(code):
            raise DomainError(f"{name} {code!r} is not a code (upper-case letters, digits, - and _)")
    refs = sorted({f"{cmd.announcement_id}:{p.family_group_ref}" for p in cmd.persons if p.family_group_ref})
    ids = await uow.cases.travel_groups(refs)
    groups = {ref.split(":", 1)[1]: gid for ref, gid in ids.items()}
    announcement = Announcement.announce(cmd, groups, clock.now(), blind_index)
    await uow.announcements.add(announcement)
    return announcement, True


async def on_announce_return(
    message: contract.AnnounceReturn, uow: ReceptionUnitOfWork, clock: Clock, blind_index: BlindIndex
) -> None:
    """The ``announce_return`` Kafka command: the same as ``POST /v1/announcements`` (no personal data)."""
    await announce_return(
        AnnounceReturn(
            announcement_id=message.announcement_id,
            case_id=message.case_id,
            announced_by=message.announced_by,
            expected_arrival_at=message.expected_arrival_at,
            port_of_entry=message.port_of_entry,
            reception_centre=message.reception_centre,
            country_of_return=message.country_of_return,
            returned_from=message.returned_from,
            return_type=message.return_type,
            transport_mode=message.transport_mode,
            transport_reference=message.transport_reference,
            persons=tuple(
                AnnouncedPersonIn(
                    reference=p.reference,
                    age_group=p.age_group,
                    sex=p.sex,
                    vulnerabilities=frozenset(p.vulnerabilities),
                    needs_medical_attention=p.needs_medical_attention,
                    announced_person_id=p.announced_person_id,
                )
                for p in message.persons
            ),
        ),
        uow,
        clock,
        blind_index,
    )


# ----------------------------------------------------------------------------- at the centre


async def _case(uow: ReceptionUnitOfWork, case_id: UUID) -> Case:
    case = await uow.cases.get(case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    return case


async def provide_assistance(cmd: ProvideAssistance, uow: ReceptionUnitOfWork, clock: Clock) -> Case:
    """Record immediate assistance (``immediate_assistance_provided``)."""
    case = await _case(uow, cmd.case_id)
    case.provide_assistance(cmd, clock.now())
    await uow.cases.save(case)
    return case


async def screen_protection(cmd: ScreenProtection, uow: ReceptionUnitOfWork, clock: Clock) -> Case:
    """Record the protection screening (``protection_concern_raised`` per new concern)."""
    case = await _case(uow, cmd.case_id)
    case.screen(cmd, clock.now())
    await uow.cases.save(case)
    return case


async def index_identities(batch: int, uow: ReceptionUnitOfWork, blind_index: BlindIndex) -> int:
    """Store the blind indexes of up to ``batch`` returnees that have none (registered before identity
    matching existed; a start-up step, repeated until none is left); return how many were indexed."""
    found = await uow.returnees.without_keys(batch)
    await uow.returnees.add_keys({r.returnee_id: blind_index.blocking_keys(r.identity) for r in found})
    return len(found)


# ------------------------------------------------------------------------------------ review queue


async def decide_review(cmd: DecideReview, uow: ReceptionUnitOfWork, clock: Clock) -> DuplicateReview:
    """A person decides a possible duplicate. A merge re-links the newer record's cases to the person
    known before — a case of the same day is a duplicate registration, merged into that day's case —
    and publishes ``returnee_records_merged`` so that every service re-keys its records."""
    review = await uow.reviews.get(cmd.review_id)
    if review is None:
        raise NotFoundError(f"review {cmd.review_id} not found")
    now = clock.now()
    review.decide(cmd.decision, cmd.decided_by_role, now)
    if cmd.decision is Decision.MERGE:
        surviving = review.candidate_returnee_id
        kept = await uow.cases.for_returnee(surviving)
        kept_days = {c.arrived_at.date(): c for c in kept if c.status.value == "registered"}
        moved = await uow.cases.for_returnee(review.returnee_id)
        merged_cases: list[UUID] = []
        key_case = review.case_id
        for case in moved:
            twin = kept_days.get(case.arrived_at.date())
            if twin is not None:
                case.merge_into(twin.case_id)
                merged_cases.append(case.case_id)
                key_case = twin.case_id
            else:
                before = sum(
                    1
                    for c in [*kept, *moved]
                    if c.arrived_at < case.arrived_at and c.case_id not in merged_cases
                )
                case.belong_to(surviving, before)
            await uow.cases.save(case)
        await uow.returnees.merge(review.returnee_id, surviving)
        review.merged(key_case, merged_cases, now)
    await uow.reviews.save(review)
    return review


__all__ = [
    "ManifestRejectedError",
    "ManifestReport",
    "Registered",
    "announce_return",
    "decide_review",
    "index_identities",
    "on_announce_return",
    "provide_assistance",
    "register_arrival",
    "register_manifest",
    "screen_protection",
]
