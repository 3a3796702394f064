"""Referral's unit of work and repositories: they map aggregates to rows, nothing else."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from reintegra_contracts import Event
from reintegra_contracts.codelists import (
    AgeGroup,
    AgencyKind,
    CancellationReason,
    ConsentBasis,
    CostArrangement,
    Dimension,
    FailureReason,
    Level,
    MatchReason,
    NeedOutcome,
    PartnerChannel,
    Priority,
    ReferralStatus,
    RejectionReason,
    ServiceCategory,
    Sex,
    UnmatchedReason,
    Vulnerability,
)
from reintegra_contracts.topics import PARTNER_TOPIC_TEMPLATE
from reintegra_kit import jsontext
from reintegra_kit.auth import RecordFilter, RecordScope, visible
from reintegra_kit.clock import as_utc
from reintegra_kit.db import delete_by, insert_or_ignore, lock_case, lock_cases, plain_insert, select_by
from reintegra_kit.deferred import write_later
from reintegra_kit.erasure import ErasedCaseRepository
from reintegra_kit.repository import RememberedByCase, Repository
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import and_, bindparam, case, delete, func, insert, literal, or_, select, update

from .domain import (
    Agency,
    AgencyFacts,
    Candidate,
    CaseConsent,
    DirectoryService,
    Grant,
    OfficeHours,
    Profile,
    Referral,
    Scope,
    ServiceFacts,
)
from .domain.model import HistoryEntry
from .orm import (
    agencies,
    case_profiles,
    consents,
    directory_services,
    erased_cases,
    escalations,
    idempotency_keys,
    partner_messages,
    pending_assessments,
    referral_history,
    referrals,
    webhook_attempts,
    webhook_deliveries,
)

COUNTED_FOR_CAPACITY = (
    ReferralStatus.REQUESTED,
    ReferralStatus.RECEIVED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
    ReferralStatus.SERVICE_DELIVERED,
    ReferralStatus.COMPLETED,
    ReferralStatus.FAILED,
)
"""Referrals that used a place of a service's weekly capacity (sent and not rejected or withdrawn)."""

# The statements of the event path, built once (docs/adr/0024-statements-built-once.md).
_SCOPE = ("reception_centre", "country")
_DEFERRED = select_by(pending_assessments, "case_id", columns=("payload",), order_by=("received_at",))
# A service's places taken this week, counted no further than its capacity: the scan of the index on
# (service_id, requested_at) stops there, so its cost does not grow with the referrals a full service
# took (nor does anyone count those of a service without a capacity).
_USED_THIS_WEEK = select(func.count()).select_from(
    select(literal(1))
    .where(
        referrals.c.service_id == bindparam("service_id"),
        referrals.c.requested_at >= bindparam("since"),
        referrals.c.status.in_([s.value for s in COUNTED_FOR_CAPACITY]),
    )
    .limit(bindparam("capacity"))
    .subquery()
)
_REFERRED_NEEDS = (
    select(referrals.c.need_id)
    .where(referrals.c.need_id.in_(bindparam("need_ids", expanding=True)))
    .distinct()
)
_NEW_PARTNER_MESSAGE = insert(partner_messages).returning(partner_messages.c.seq)
_NEW_DELIVERY = insert(webhook_deliveries).from_select(
    ["agency_id", "message_seq", "status", "attempts", "next_attempt_at", "created_at"],
    select(
        agencies.c.agency_id,
        bindparam("seq", type_=webhook_deliveries.c.message_seq.type),
        literal("pending"),
        literal(0),
        bindparam("now", type_=webhook_deliveries.c.next_attempt_at.type),
        bindparam("now", type_=webhook_deliveries.c.created_at.type),
    ).where(
        agencies.c.agency_id == bindparam("agency_id"),
        agencies.c.webhook_url.is_not(None),
        agencies.c.webhook_url != "",
    ),
)


def _json(values: Iterable[Any]) -> str:
    return jsontext.dumps([v.value if hasattr(v, "value") else v for v in values])


# -- the directory ----------------------------------------------------------------------------------


class DirectoryRepository(Repository):
    async def agency(self, agency_id: str) -> Agency | None:
        row = (await self.session.execute(select_by(agencies, "agency_id"), {"agency_id": agency_id})).first()
        return _agency(row) if row else None

    async def service(self, service_id: str) -> DirectoryService | None:
        row = (
            await self.session.execute(
                select_by(directory_services, "service_id"), {"service_id": service_id}
            )
        ).first()
        return _service(row) if row else None

    async def is_empty(self) -> bool:
        return not (await self.session.execute(select(func.count()).select_from(agencies))).scalar_one()

    async def save_agency(self, agency: Agency) -> None:
        f = agency.facts
        values = {
            "label_es": f.label_es,
            "label_en": f.label_en,
            "agency_kind": f.agency_kind.value,
            "country": f.country,
            "timezone": f.timezone,
            "contact_role": f.contact_role,
            "office_hours": jsontext.dumps(
                [{"days": list(h.days), "opens": h.opens, "closes": h.closes} for h in f.office_hours]
            ),
            "response_time_hours": f.response_time_hours,
            "channel": f.channel.value,
            "coordinator": f.coordinator,
            "active": f.active,
            "removed": agency.removed,
            "webhook_url": agency.webhook_url,
            "webhook_secret": agency.webhook_secret,
        }
        if agency.version == 0:
            await self.insert_versioned(agencies, agency, {"agency_id": f.agency_id, **values})
        else:
            await self.update_versioned(agencies, {"agency_id": f.agency_id}, agency, values)
        self._uow.remembered.clear()  # this transaction reads the directory it changed
        await self.publish_events(agency)

    async def save_service(self, service: DirectoryService) -> None:
        f = service.facts
        assert f.level is not None
        assert f.dimension is not None
        values = {
            "agency_id": f.agency_id,
            "label_es": f.label_es,
            "label_en": f.label_en,
            "category": f.category.value,
            "level": f.level.value,
            "dimension": f.dimension.value,
            "country": f.country,
            "national": f.national,
            "departments": _json(f.departments),
            "municipalities": _json(f.municipalities),
            "min_age": f.min_age,
            "max_age": f.max_age,
            "sexes": _json(f.sexes),
            "groups": _json(f.groups),
            "weekly_capacity": f.weekly_capacity,
            "cost": f.cost.value,
            "response_time_hours": f.response_time_hours,
            "active": f.active,
            "removed": service.removed,
        }
        if service.version == 0:
            await self.insert_versioned(directory_services, service, {"service_id": f.service_id, **values})
        else:
            await self.update_versioned(directory_services, {"service_id": f.service_id}, service, values)
        self._uow.remembered.clear()  # this transaction reads the directory it changed
        await self.publish_events(service)

    async def agencies(self, *, country: str | None = None, include_removed: bool = False) -> list[Agency]:
        query = select(agencies).order_by(agencies.c.agency_id)
        if not include_removed:
            query = query.where(agencies.c.removed.is_(False))
        if country:
            query = query.where(agencies.c.country == country)
        return [_agency(r) for r in await self.session.execute(query)]

    async def services(
        self,
        *,
        category: ServiceCategory | None = None,
        agency_id: str | None = None,
        country: str | None = None,
    ) -> list[DirectoryService]:
        query = select(directory_services).where(directory_services.c.removed.is_(False))
        if category is not None:
            query = query.where(directory_services.c.category == category.value)
        if agency_id is not None:
            query = query.where(directory_services.c.agency_id == agency_id)
        if country is not None:
            query = query.where(directory_services.c.country == country)
        return [
            _service(r) for r in await self.session.execute(query.order_by(directory_services.c.service_id))
        ]

    async def agency_facts(self, agency_ids: Iterable[str] | None = None) -> dict[str, AgencyFacts]:
        """The facts of the agencies not removed (only ``agency_ids``, when given), for matching.

        Those of ``agency_ids`` are read once per transaction (``uow.remembered``): a consumer batch
        matches all its needs against the same few agencies."""
        if agency_ids is None:
            rows = await self.session.execute(_ALL_AGENCY_FACTS)
            return {f.agency_id: f for f in (_agency_facts(tuple(row)) for row in rows)}
        memo = self._uow.remembered
        wanted = set(agency_ids)
        missing = sorted(i for i in wanted if ("agency_facts", i) not in memo)
        if missing:
            rows = await self.session.execute(_SOME_AGENCY_FACTS, {"ids": missing})
            found = {f.agency_id: f for f in (_agency_facts(tuple(row)) for row in rows)}
            for agency_id in missing:  # None: removed or unknown, remembered too
                memo[("agency_facts", agency_id)] = found.get(agency_id)
        facts = {i: memo[("agency_facts", i)] for i in wanted}
        return {i: f for i, f in facts.items() if f is not None}

    async def service_facts(self, category: ServiceCategory) -> dict[str, ServiceFacts]:
        """The facts of the services of ``category`` not removed, for matching (read once per
        transaction, as the agencies')."""
        key = ("service_facts", category)
        memo = self._uow.remembered
        if key not in memo:
            rows = await self.session.execute(_CATEGORY_FACTS, {"category": category.value})
            memo[key] = {f.service_id: f for f in (_service_facts(tuple(row)) for row in rows)}
        return dict(memo[key])

    async def coordinator_of(self, country: str) -> str | None:
        row = (
            await self.session.execute(
                select(agencies.c.agency_id)
                .where(
                    agencies.c.country == country,
                    agencies.c.coordinator.is_(True),
                    agencies.c.removed.is_(False),
                )
                .order_by(agencies.c.agency_id)
                .limit(1)
            )
        ).first()
        return str(row[0]) if row else None


# Matching reads the facts of a category's services and of their agencies for every need it routes.
# Facts are frozen and wholly determined by their row's values, so each distinct row is turned into
# facts once (JSON, enums, office hours) and the same object is handed out while the row is unchanged:
# a changed row is a new key, so nothing stale is ever returned.
_AGENCY_FACTS = tuple(
    c for c in agencies.c if c.name not in {"removed", "webhook_url", "webhook_secret", "version"}
)
_SERVICE_FACTS = tuple(c for c in directory_services.c if c.name not in {"removed", "version"})
_ALL_AGENCY_FACTS = select(*_AGENCY_FACTS).where(agencies.c.removed.is_(False))
_SOME_AGENCY_FACTS = _ALL_AGENCY_FACTS.where(agencies.c.agency_id.in_(bindparam("ids", expanding=True)))
_CATEGORY_FACTS = select(*_SERVICE_FACTS).where(
    directory_services.c.removed.is_(False), directory_services.c.category == bindparam("category")
)


@functools.lru_cache(maxsize=4096)
def _agency_facts(values: tuple[Any, ...]) -> AgencyFacts:
    return _agency_row_facts(dict(zip((c.name for c in _AGENCY_FACTS), values, strict=True)))


@functools.lru_cache(maxsize=8192)
def _service_facts(values: tuple[Any, ...]) -> ServiceFacts:
    return _service_row_facts(dict(zip((c.name for c in _SERVICE_FACTS), values, strict=True)))


def _agency(row: Any) -> Agency:
    return Agency(
        facts=_agency_row_facts(row._mapping),
        webhook_url=row.webhook_url,
        webhook_secret=row.webhook_secret,
        removed=bool(row.removed),
        version=row.version,
    )


def _agency_row_facts(row: Mapping[str, Any]) -> AgencyFacts:
    return AgencyFacts(
        agency_id=row["agency_id"],
        label_es=row["label_es"],
        label_en=row["label_en"],
        agency_kind=AgencyKind(row["agency_kind"]),
        country=row["country"],
        contact_role=row["contact_role"],
        office_hours=tuple(
            OfficeHours(tuple(h["days"]), h["opens"], h["closes"])
            for h in jsontext.loads(row["office_hours"])
        ),
        response_time_hours=float(row["response_time_hours"]),
        channel=PartnerChannel(row["channel"]),
        timezone=row["timezone"],
        coordinator=bool(row["coordinator"]),
        active=bool(row["active"]),
    )


def _service(row: Any) -> DirectoryService:
    return DirectoryService(
        facts=_service_row_facts(row._mapping), removed=bool(row.removed), version=row.version
    )


def _service_row_facts(row: Mapping[str, Any]) -> ServiceFacts:
    hours = row["response_time_hours"]
    return ServiceFacts(
        service_id=row["service_id"],
        agency_id=row["agency_id"],
        label_es=row["label_es"],
        label_en=row["label_en"],
        category=ServiceCategory(row["category"]),
        country=row["country"],
        level=Level(row["level"]),
        dimension=Dimension(row["dimension"]),
        national=bool(row["national"]),
        departments=tuple(jsontext.loads(row["departments"])),
        municipalities=tuple(jsontext.loads(row["municipalities"])),
        min_age=row["min_age"],
        max_age=row["max_age"],
        sexes=tuple(Sex(s) for s in jsontext.loads(row["sexes"])),
        groups=tuple(Vulnerability(g) for g in jsontext.loads(row["groups"])),
        weekly_capacity=row["weekly_capacity"],
        cost=CostArrangement(row["cost"]),
        response_time_hours=float(hours) if hours is not None else None,
        active=bool(row["active"]),
    )


# -- what matching knows of a case -----------------------------------------------------------------


def _visible_by_case(reach: RecordFilter | None, case_id: Any, agency_id: Any, sent: Any = None) -> Any:
    """Rows of the cases of the caller's centres or countries, or sent to the caller's agencies
    (``sent``: the condition that the row was really sent to its agency — a referral matched to an
    agency but waiting for consent, or cancelled before it was shared, was not)."""
    if reach is None or reach.unrestricted:
        return visible(reach)
    by_agency = visible(reach, agency=agency_id)
    clauses = [by_agency if sent is None else and_(by_agency, sent)]
    if reach.centres or reach.countries:
        seen = select(case_profiles.c.case_id).where(
            visible(reach, centre=case_profiles.c.reception_centre, country=case_profiles.c.country)
        )
        # an erased person's profile is gone; whose record the case was stays with the erasure
        erased = select(erased_cases.c.case_id).where(
            visible(reach, centre=erased_cases.c.reception_centre, country=erased_cases.c.country)
        )
        clauses.append(or_(case_id.in_(seen), case_id.in_(erased)))
    return or_(*clauses)


def visible_referrals(reach: RecordFilter | None) -> Any:
    """The referrals ``reach`` sees: of its centres' or countries' cases, or sent to its agency."""
    return _visible_by_case(
        reach, referrals.c.case_id, referrals.c.agency_id, sent=referrals.c.partner_cursor.is_not(None)
    )


class CaseRepository(Repository):
    async def lock_case(self, case_id: UUID) -> None:
        """Hold the case until the transaction ends, so that an arrival and an assessment of one case,
        handled by two replicas at once, see each other's work (ADR 0060; PostgreSQL: a
        transaction-level advisory lock; SQLite already runs one writer at a time)."""
        await lock_case(self.session, case_id)

    async def profile(self, case_id: UUID) -> Profile | None:
        row = (await self.session.execute(select_by(case_profiles, "case_id"), {"case_id": case_id})).first()
        if row is None:
            return None
        return Profile(
            age=row.age,
            sex=Sex(row.sex),
            municipality=row.municipality,
            vulnerabilities=frozenset(Vulnerability(v) for v in jsontext.loads(row.vulnerabilities)),
            language=row.language,
        )

    async def scope(self, case_id: UUID) -> RecordScope:
        """Whose record the case is: its reception centre and country (unknown before its arrival)."""
        row = (
            await self.session.execute(
                select_by(case_profiles, "case_id", columns=_SCOPE), {"case_id": case_id}
            )
        ).first()
        if row is None:  # an erased person's profile is gone, whose record it was is not
            row = (
                await self.session.execute(
                    select_by(erased_cases, "case_id", columns=_SCOPE), {"case_id": case_id}
                )
            ).first()
        return RecordScope(centre=row.reception_centre, country=row.country) if row else RecordScope()

    async def save_profile(
        self,
        case_id: UUID,
        profile: Profile,
        at: datetime,
        *,
        reception_centre: str | None = None,
        country: str | None = None,
    ) -> bool:
        return await insert_or_ignore(
            self.session,
            case_profiles,
            {
                "case_id": case_id,
                "age": profile.age,
                "sex": profile.sex.value,
                "language": profile.language,
                "municipality": profile.municipality,
                "vulnerabilities": _json(sorted(profile.vulnerabilities)),
                "recorded_at": at,
                "reception_centre": reception_centre,
                "country": country,
            },
            ["case_id"],
        )

    async def defer(self, case_id: UUID, assessment_id: UUID, payload: str, at: datetime) -> None:
        await insert_or_ignore(
            self.session,
            pending_assessments,
            {"assessment_id": assessment_id, "case_id": case_id, "payload": payload, "received_at": at},
            ["assessment_id"],
        )

    async def take_deferred(self, case_id: UUID) -> list[str]:
        key = {"case_id": case_id}
        rows = (await self.session.execute(_DEFERRED, key)).all()
        if rows:
            await self.session.execute(delete_by(pending_assessments, "case_id"), key)
        return [r[0] for r in rows]

    async def forget(self, case_id: UUID) -> None:
        """Drop what matching knew of the person (exact age, sex, language, municipality, flags) and
        any assessment waiting for their arrival."""
        await self.session.execute(delete(case_profiles).where(case_profiles.c.case_id == case_id))
        await self.session.execute(
            delete(pending_assessments).where(pending_assessments.c.case_id == case_id)
        )


# -- referrals ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartnerMessage:
    seq: int
    agency_id: str
    referral_id: UUID
    event_id: str
    event_type: str
    payload: str
    created_at: datetime


class ReferralRepository(Repository):
    async def get(self, referral_id: UUID) -> Referral | None:
        row = (
            await self.session.execute(select_by(referrals, "referral_id"), {"referral_id": referral_id})
        ).first()
        return _referral(row) if row else None

    async def for_need(self, need_id: UUID) -> list[Referral]:
        rows = await self.session.execute(
            select_by(referrals, "need_id", order_by=("attempt",)), {"need_id": need_id}
        )
        return [_referral(r) for r in rows]

    async def referred_needs(self, need_ids: Sequence[UUID]) -> set[UUID]:
        """Those of ``need_ids`` that have a referral (whatever its case: a merge moves referrals)."""
        if not need_ids:
            return set()
        rows = await self.session.execute(_REFERRED_NEEDS, {"need_ids": list(need_ids)})
        return {UUID(str(r[0])) for r in rows}

    async def save(self, r: Referral) -> None:
        """Stage a referral's events — partner views also in the agency's HTTP feed (and webhook
        queue) — then insert the referral or update the loaded one (optimistic), with the feed's cursor
        of its last partner view in the same statement, and write its history."""
        cursor = None
        events = r.pull_events()
        if events:
            await self._uow.track_case(r.case_id)  # the case's trace (reintegra_kit.case_trace)
        for event in events:
            event_id = await self._uow.emit(event)
            if event.topic == PARTNER_TOPIC_TEMPLATE:
                cursor = await self._uow.partner.record(event, event_id, r.referral_id)  # type: ignore[attr-defined]
        values = _row(r)
        if cursor is not None:
            values["partner_cursor"] = cursor
        if r.version == 0:
            await self.insert_versioned(referrals, r, values)
        else:
            key = {"referral_id": values.pop("referral_id")}
            await self.update_versioned(referrals, key, r, values)
        if r.pull_history_erased():
            await self.session.execute(
                update(referral_history)
                .where(referral_history.c.referral_id == r.referral_id)
                .values(detail="")
            )
        history = [_history_row(r.referral_id, entry) for entry in r.pull_history()]
        if history:
            await write_later(self.session, plain_insert(referral_history), history)

    async def history(self, referral_id: UUID) -> list[HistoryEntry]:
        from .domain.model import Actor, Channel

        rows = await self.session.execute(
            select(referral_history)
            .where(referral_history.c.referral_id == referral_id)
            .order_by(referral_history.c.id)
        )
        return [
            HistoryEntry(
                at=as_utc(h.at),
                from_status=ReferralStatus(h.from_status) if h.from_status else None,
                to_status=ReferralStatus(h.to_status),
                action=h.action,
                actor=Actor(h.actor),
                channel=Channel(h.channel),
                detail=h.detail,
            )
            for h in rows
        ]

    async def for_case(self, case_id: UUID, visible_to: RecordFilter | None = None) -> list[Referral]:
        if visible_to is None:  # the event path: a statement built once
            rows = await self.session.execute(
                select_by(referrals, "case_id", order_by=("requested_at", "attempt")), {"case_id": case_id}
            )
        else:
            rows = await self.session.execute(
                select(referrals)
                .where(referrals.c.case_id == case_id, visible_referrals(visible_to))
                .order_by(referrals.c.requested_at, referrals.c.attempt)
            )
        return [_referral(r) for r in rows]

    async def page(
        self, status: ReferralStatus | None, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[Referral]:
        query = select(referrals).where(visible_referrals(visible_to))
        if status is not None:
            query = query.where(referrals.c.status == status.value)
        rows = await self.session.execute(
            query.order_by(referrals.c.requested_at, referrals.c.referral_id).limit(limit).offset(offset)
        )
        return [_referral(r) for r in rows]

    async def count(self, status: ReferralStatus, visible_to: RecordFilter | None = None) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(referrals)
                    .where(referrals.c.status == status.value, visible_referrals(visible_to))
                )
            ).scalar_one()
        )

    async def count_by_agency(self, status: ReferralStatus) -> dict[str, int]:
        """How many referrals of ``status`` each agency has (those with none are left out)."""
        rows = await self.session.execute(
            select(referrals.c.agency_id, func.count())
            .where(referrals.c.status == status.value, referrals.c.agency_id.is_not(None))
            .group_by(referrals.c.agency_id)
        )
        return {str(agency): int(n) for agency, n in rows}

    async def overdue_by_agency(self, now: datetime) -> dict[str, int]:
        """Referrals past their answer-by time without an answer, per agency."""
        rows = await self.session.execute(
            select(referrals.c.agency_id, func.count())
            .where(
                referrals.c.status.in_([ReferralStatus.REQUESTED.value, ReferralStatus.RECEIVED.value]),
                referrals.c.respond_by < now,
            )
            .group_by(referrals.c.agency_id)
        )
        return {str(agency): int(n) for agency, n in rows}

    async def used_this_week(self, capacities: Mapping[str, int], since: datetime) -> dict[str, int]:
        """Places taken since ``since`` of each service of ``capacities`` (service id → weekly
        capacity), counted up to its capacity: a full service reads as exactly full."""
        used: dict[str, int] = {}
        for service_id, capacity in capacities.items():
            params = {"service_id": service_id, "since": since, "capacity": capacity}
            used[service_id] = int((await self.session.execute(_USED_THIS_WEEK, params)).scalar_one())
        return used

    async def inbox(
        self, agency_id: str, *, since: int, status: ReferralStatus | None, limit: int
    ) -> list[tuple[int, Referral]]:
        """Referrals sent to ``agency_id`` whose partner feed moved past ``since``, oldest change first."""
        query = select(referrals).where(
            referrals.c.agency_id == agency_id,
            referrals.c.partner_cursor.is_not(None),
            referrals.c.partner_cursor > since,
        )
        if status is not None:
            query = query.where(referrals.c.status == status.value)
        rows = await self.session.execute(query.order_by(referrals.c.partner_cursor).limit(limit))
        return [(int(r.partner_cursor), _referral(r)) for r in rows]

    async def reconciliation(self, agency_id: str) -> dict[str, int]:
        """Counts of what was sent to an agency and what became of it."""
        r = referrals
        answered = [
            ReferralStatus.ACCEPTED,
            ReferralStatus.REJECTED,
            ReferralStatus.IN_PROGRESS,
            ReferralStatus.SERVICE_DELIVERED,
            ReferralStatus.COMPLETED,
            ReferralStatus.FAILED,
        ]
        sent_statuses = [
            *answered,
            ReferralStatus.REQUESTED,
            ReferralStatus.RECEIVED,
            ReferralStatus.CANCELLED,
        ]
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.sum(
                        case(
                            (
                                r.c.status.in_([ReferralStatus.RECEIVED.value, *[s.value for s in answered]]),
                                1,
                            ),
                            else_=0,
                        )
                    ),
                    func.sum(case((r.c.status.in_([s.value for s in answered]), 1), else_=0)),
                    func.sum(case((r.c.overdue_at.is_not(None), 1), else_=0)),
                    func.sum(
                        case((r.c.cancel_reason == CancellationReason.REFERRED_ELSEWHERE.value, 1), else_=0)
                    ),
                    func.sum(
                        case(
                            (
                                r.c.status.in_(
                                    [ReferralStatus.REQUESTED.value, ReferralStatus.RECEIVED.value]
                                ),
                                1,
                            ),
                            else_=0,
                        )
                    ),
                ).where(r.c.agency_id == agency_id, r.c.status.in_([s.value for s in sent_statuses]))
            )
        ).one()
        history_received = (
            await self.session.execute(
                select(func.count(func.distinct(referral_history.c.referral_id)))
                .select_from(referral_history.join(r, r.c.referral_id == referral_history.c.referral_id))
                .where(r.c.agency_id == agency_id, referral_history.c.action == "receive")
            )
        ).scalar_one()
        sent, received_now, answered_n, overdue, rerouted, waiting = (int(v or 0) for v in row)
        return {
            "sent": sent,
            "received": max(received_now, int(history_received or 0)),
            "answered": answered_n,
            "overdue": overdue,
            "rerouted": rerouted,
            "awaiting_answer": waiting,
        }


def _row(r: Referral) -> dict[str, Any]:
    return {
        "referral_id": r.referral_id,
        "case_id": r.case_id,
        "assessment_id": r.assessment_id,
        "need_id": r.need_id,
        "category": r.category.value,
        "dimension": r.dimension.value,
        "level": r.level.value,
        "priority": r.priority.value,
        "status": r.status.value,
        "service_id": r.service_id,
        "agency_id": r.agency_id,
        "requested_at": r.requested_at,
        "respond_by": r.respond_by,
        "municipality": r.municipality,
        "age_group": r.age_group.value,
        "sex": r.sex.value,
        "language": r.language,
        "vulnerabilities": _json(r.vulnerabilities),
        "attempt": r.attempt,
        "previous_referral_id": r.previous_referral_id,
        "candidates": jsontext.dumps([c.as_dict() for c in r.candidates]),
        "match_reasons": _json(r.match_reasons),
        "unmatched_reason": r.unmatched_reason.value if r.unmatched_reason else None,
        "contact_reference": r.contact_reference,
        "contact_reference_expires_at": r.contact_reference_expires_at,
        "consent_id": r.consent_id,
        "updated_at": r.updated_at,
        "overdue_at": r.overdue_at,
        "reroute_at": r.reroute_at,
        "cancel_reason": r.cancel_reason.value if r.cancel_reason else None,
        "reject_reason": r.reject_reason.value if r.reject_reason else None,
        "fail_reason": r.fail_reason.value if r.fail_reason else None,
        "outcome": r.outcome.value if r.outcome else None,
        "deliveries": jsontext.dumps([str(d) for d in r.deliveries]),
    }


def _history_row(referral_id: UUID, h: HistoryEntry) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "at": h.at,
        "from_status": h.from_status.value if h.from_status else None,
        "to_status": h.to_status.value,
        "action": h.action,
        "actor": h.actor.value,
        "channel": h.channel.value,
        "detail": h.detail[:500],
    }


def _opt(value: Any) -> datetime | None:
    return as_utc(value) if value is not None else None


def _referral(row: Any) -> Referral:
    return Referral(
        referral_id=UUID(str(row.referral_id)),
        case_id=UUID(str(row.case_id)),
        assessment_id=UUID(str(row.assessment_id)),
        need_id=UUID(str(row.need_id)),
        category=ServiceCategory(row.category),
        dimension=Dimension(row.dimension),
        level=Level(row.level),
        priority=Priority(row.priority),
        status=ReferralStatus(row.status),
        service_id=row.service_id,
        agency_id=row.agency_id,
        requested_at=as_utc(row.requested_at),
        respond_by=_opt(row.respond_by),
        municipality=row.municipality,
        age_group=AgeGroup(row.age_group),
        sex=Sex(row.sex),
        language=row.language,
        vulnerabilities=tuple(Vulnerability(v) for v in jsontext.loads(row.vulnerabilities)),
        attempt=row.attempt,
        previous_referral_id=UUID(str(row.previous_referral_id)) if row.previous_referral_id else None,
        candidates=tuple(Candidate.from_dict(c) for c in jsontext.loads(row.candidates)),
        match_reasons=tuple(MatchReason(m) for m in jsontext.loads(row.match_reasons)),
        unmatched_reason=UnmatchedReason(row.unmatched_reason) if row.unmatched_reason else None,
        contact_reference=row.contact_reference,
        contact_reference_expires_at=_opt(row.contact_reference_expires_at),
        consent_id=UUID(str(row.consent_id)) if row.consent_id else None,
        updated_at=_opt(row.updated_at),
        overdue_at=_opt(row.overdue_at),
        reroute_at=_opt(row.reroute_at),
        cancel_reason=CancellationReason(row.cancel_reason) if row.cancel_reason else None,
        reject_reason=RejectionReason(row.reject_reason) if row.reject_reason else None,
        fail_reason=FailureReason(row.fail_reason) if row.fail_reason else None,
        outcome=NeedOutcome(row.outcome) if row.outcome else None,
        deliveries=tuple(UUID(d) for d in jsontext.loads(row.deliveries)),
        version=row.version,
    )


# -- the partner channel: HTTP feed, webhooks, idempotency, escalations -------------------------------


@dataclass(frozen=True)
class WebhookDelivery:
    id: int
    agency_id: str
    message_seq: int
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: str


class PartnerRepository(Repository):
    async def record(self, event: Event, event_id: str, referral_id: UUID) -> int:
        """Add a partner view to its agency's HTTP feed (and webhook queue); return its cursor."""
        agency_id = str(getattr(event, "agency_id"))  # noqa: B009 - every partner view has one
        now = self._uow.clock.now()
        body = {
            "specversion": "1.0",
            "id": event_id,
            "source": self._uow.event_source,  # type: ignore[attr-defined]
            "type": event.event_type,
            "subject": str(event.case_id),
            "time": now.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": event.model_dump(mode="json"),
        }
        result = await self.session.execute(
            _NEW_PARTNER_MESSAGE,
            {
                "agency_id": agency_id,
                "referral_id": referral_id,
                "event_id": event_id,
                "event_type": event.event_type,
                "payload": jsontext.dumps(body),
                "created_at": now,
            },
        )
        seq = int(result.scalar_one())
        # queued for the agency's webhook, if it has one (one statement: INSERT … SELECT FROM agencies),
        # with the transaction's commit, the batch's deliveries together (reintegra_kit.deferred)
        await write_later(self.session, _NEW_DELIVERY, {"agency_id": agency_id, "seq": seq, "now": now})
        return seq

    async def messages(self, agency_id: str, *, since: int, limit: int) -> list[PartnerMessage]:
        rows = await self.session.execute(
            select(partner_messages)
            .where(partner_messages.c.agency_id == agency_id, partner_messages.c.seq > since)
            .order_by(partner_messages.c.seq)
            .limit(limit)
        )
        return [
            PartnerMessage(
                r.seq,
                r.agency_id,
                UUID(str(r.referral_id)),
                r.event_id,
                r.event_type,
                r.payload,
                as_utc(r.created_at),
            )
            for r in rows
        ]

    async def views(self, referral_ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
        """The partner view (``referral_requested`` data) each referral was sent with."""
        if not referral_ids:
            return {}
        rows = await self.session.execute(
            select(partner_messages.c.referral_id, partner_messages.c.payload)
            .where(
                partner_messages.c.referral_id.in_(list(referral_ids)),
                partner_messages.c.event_type == "org.reintegra.partner.referral_requested.v1",
            )
            .order_by(partner_messages.c.seq)
        )
        return {UUID(str(rid)): jsontext.loads(payload)["data"] for rid, payload in rows}

    async def cursor_of(self, referral_id: UUID) -> int:
        value = (
            await self.session.execute(
                select(referrals.c.partner_cursor).where(referrals.c.referral_id == referral_id)
            )
        ).scalar_one_or_none()
        return int(value or 0)

    async def seen_key(self, agency_id: str, key: str) -> tuple[str, UUID] | None:
        row = (
            await self.session.execute(
                select(idempotency_keys.c.request_hash, idempotency_keys.c.referral_id).where(
                    idempotency_keys.c.agency_id == agency_id, idempotency_keys.c.idempotency_key == key
                )
            )
        ).first()
        return (str(row[0]), UUID(str(row[1]))) if row else None

    async def remember_key(self, agency_id: str, key: str, request_hash: str, referral_id: UUID) -> bool:
        return await insert_or_ignore(
            self.session,
            idempotency_keys,
            {
                "agency_id": agency_id,
                "idempotency_key": key,
                "request_hash": request_hash,
                "referral_id": referral_id,
                "created_at": self._uow.clock.now(),
            },
            ["agency_id", "idempotency_key"],
        )

    # escalations (the coordinating office's queue)

    async def open_escalation(self, r: Referral, escalated_to: str | None) -> None:
        assert r.agency_id is not None
        assert r.overdue_at is not None
        await insert_or_ignore(
            self.session,
            escalations,
            {
                "referral_id": r.referral_id,
                "case_id": r.case_id,
                "agency_id": r.agency_id,
                "escalated_to": escalated_to,
                "escalated_at": r.overdue_at,
                "reroute_at": r.reroute_at,
                "status": "open",
            },
            ["referral_id"],
        )

    async def resolve_escalation(self, referral_id: UUID, resolution: str) -> None:
        await self.session.execute(
            update(escalations)
            .where(escalations.c.referral_id == referral_id, escalations.c.status == "open")
            .values(status="resolved", resolved_at=self._uow.clock.now(), resolution=resolution)
        )

    async def escalations(
        self, *, status: str | None, limit: int, offset: int, visible_to: RecordFilter | None = None
    ) -> list[Any]:
        query = select(escalations).where(
            _visible_by_case(visible_to, escalations.c.case_id, escalations.c.agency_id)
        )
        if status:
            query = query.where(escalations.c.status == status)
        return list(
            (
                await self.session.execute(
                    query.order_by(escalations.c.escalated_at).limit(limit).offset(offset)
                )
            ).all()
        )

    # webhooks

    async def due_webhooks(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """The oldest pending delivery of each agency, if due (one at a time per agency keeps order)."""
        d = webhook_deliveries
        heads = (
            select(d.c.agency_id, func.min(d.c.message_seq).label("seq"))
            .where(d.c.status == "pending")
            .group_by(d.c.agency_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                d,
                agencies.c.webhook_url,
                agencies.c.webhook_secret,
                partner_messages.c.event_id,
                partner_messages.c.event_type,
                partner_messages.c.payload,
            )
            .join(heads, and_(heads.c.agency_id == d.c.agency_id, heads.c.seq == d.c.message_seq))
            .join(agencies, agencies.c.agency_id == d.c.agency_id)
            .join(partner_messages, partner_messages.c.seq == d.c.message_seq)
            .where(d.c.status == "pending", d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at)
            .limit(limit)
        )
        return [
            WebhookDelivery(
                r.id,
                r.agency_id,
                r.message_seq,
                r.attempts,
                r.webhook_url or "",
                r.webhook_secret or "",
                r.event_id,
                r.event_type,
                r.payload,
            )
            for r in rows
            if r.webhook_url
        ]

    async def claim_webhook(self, delivery: WebhookDelivery, lease_until: datetime) -> bool:
        """Take a delivery for one attempt (another replica that read it too gets False)."""
        d = webhook_deliveries
        result = await self.session.execute(
            update(d)
            .where(d.c.id == delivery.id, d.c.status == "pending", d.c.attempts == delivery.attempts)
            .values(
                attempts=delivery.attempts + 1,
                next_attempt_at=lease_until,
                last_attempt_at=self._uow.clock.now(),
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def webhook_attempted(
        self,
        delivery: WebhookDelivery,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        delivered: bool,
        next_attempt_at: datetime,
    ) -> None:
        now = self._uow.clock.now()
        await self.session.execute(
            insert(webhook_attempts).values(
                delivery_id=delivery.id,
                agency_id=delivery.agency_id,
                attempt=delivery.attempts + 1,
                at=now,
                status_code=status_code,
                error=(error or None) and error[:500],
                duration_ms=duration_ms,
            )
        )
        await self.session.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id)
            .values(
                status="delivered" if delivered else "pending",
                delivered_at=now if delivered else None,
                last_status_code=status_code,
                last_error=(error or None) and error[:500],
                next_attempt_at=next_attempt_at,
            )
        )

    async def webhook_status(self, agency_id: str) -> dict[str, Any]:
        d = webhook_deliveries
        pending, delivered = (
            await self.session.execute(
                select(
                    func.sum(case((d.c.status == "pending", 1), else_=0)),
                    func.sum(case((d.c.status == "delivered", 1), else_=0)),
                ).where(d.c.agency_id == agency_id)
            )
        ).one()
        last_error = (
            await self.session.execute(
                select(webhook_attempts.c.at, webhook_attempts.c.status_code, webhook_attempts.c.error)
                .where(
                    webhook_attempts.c.agency_id == agency_id,
                    or_(webhook_attempts.c.error.is_not(None), webhook_attempts.c.status_code >= 300),
                )
                .order_by(webhook_attempts.c.id.desc())
                .limit(1)
            )
        ).first()
        attempts = (
            await self.session.execute(
                select(func.count())
                .select_from(webhook_attempts)
                .where(webhook_attempts.c.agency_id == agency_id)
            )
        ).scalar_one()
        last_seq = (
            await self.session.execute(
                select(func.max(partner_messages.c.seq)).where(partner_messages.c.agency_id == agency_id)
            )
        ).scalar_one()
        return {
            "webhook_pending": int(pending or 0),
            "webhook_delivered": int(delivered or 0),
            "webhook_attempts": int(attempts or 0),
            "last_delivery_error": (
                {
                    "at": as_utc(last_error.at),
                    "status_code": last_error.status_code,
                    "error": last_error.error,
                }
                if last_error
                else None
            ),
            "last_cursor": int(last_seq or 0),
        }

    async def attempts_of(self, agency_id: str) -> list[Any]:
        return list(
            (
                await self.session.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.agency_id == agency_id)
                    .order_by(webhook_attempts.c.id)
                )
            ).all()
        )


# -- consents (a read model of reception's events) ---------------------------------------------------


_CONSENTS_MEMO = "referral.consents_of_case"
"""``uow.remembered`` key: the consents of the cases a consumer batch is about, by case."""


def _recorded(grant: Grant) -> Any:
    return grant.recorded_at


class ConsentRepository(Repository):
    async def get(self, consent_id: UUID) -> Grant | None:
        row = (
            await self.session.execute(select_by(consents, "consent_id"), {"consent_id": consent_id})
        ).first()
        return _grant(row) if row else None

    @property
    def _remembered(self) -> RememberedByCase[Grant]:
        return RememberedByCase(self._uow, _CONSENTS_MEMO)

    async def of_case(self, case_id: UUID) -> CaseConsent:
        """The case's consents, in the order recorded; from what :meth:`remember` read for this
        transaction if it read the case."""
        remembered = self._remembered.of(case_id)
        if remembered is not None:
            return CaseConsent(case_id, tuple(remembered))
        rows = await self.session.execute(
            select_by(consents, "case_id", order_by=("recorded_at",)), {"case_id": case_id}
        )
        grants = [_grant(r) for r in rows]
        self._remembered.keep(case_id, grants)
        return CaseConsent(case_id, tuple(grants))

    async def remember(self, case_ids: Sequence[UUID]) -> None:
        """Read the consents of every one of ``case_ids`` in one statement, for :meth:`of_case` to
        answer from for the rest of the transaction (a consumer batch's, after its cases were
        locked: ADR 0031). A write forgets what it changes."""
        await self._remembered.read(consents, case_ids, _grant, order=_recorded)

    async def add(self, grant: Grant) -> bool:
        """Record a consent once (a re-sent ``consent_recorded`` changes nothing)."""
        self._remembered.forget(grant.case_id)
        return await insert_or_ignore(self.session, consents, _grant_row(grant), ["consent_id"])

    async def replace(self, grant: Grant) -> None:
        values = _grant_row(grant)
        key = values.pop("consent_id")
        self._remembered.forget_all()  # the consent's case may be another one now
        await self.session.execute(update(consents).where(consents.c.consent_id == key).values(**values))

    async def rekey(self, from_case: UUID, to_case: UUID) -> None:
        self._remembered.forget(from_case, to_case)
        await self.session.execute(
            update(consents).where(consents.c.case_id == from_case).values(case_id=to_case)
        )


def _scopes(values: Iterable[Scope]) -> str:
    return jsontext.dumps([s.as_dict() for s in values])


def _grant_row(g: Grant) -> dict[str, Any]:
    return {
        "consent_id": g.consent_id,
        "case_id": g.case_id,
        "basis": g.basis.value,
        "scopes": _scopes(g.scopes),
        "valid_from": g.valid_from,
        "valid_until": g.valid_until,
        "recorded_at": g.recorded_at,
        "withdrawn_scopes": _scopes(g.withdrawn),
        "withdrawn_whole": g.withdrawn_whole,
        "withdrawn_at": g.withdrawn_at,
    }


def _grant(row: Any) -> Grant:
    return Grant(
        consent_id=UUID(str(row.consent_id)),
        case_id=UUID(str(row.case_id)),
        basis=ConsentBasis(row.basis),
        scopes=tuple(Scope.from_dict(d) for d in jsontext.loads(row.scopes)),
        valid_from=as_utc(row.valid_from),
        valid_until=_opt(row.valid_until),
        recorded_at=as_utc(row.recorded_at),
        withdrawn=tuple(Scope.from_dict(d) for d in jsontext.loads(row.withdrawn_scopes)),
        withdrawn_whole=bool(row.withdrawn_whole),
        withdrawn_at=_opt(row.withdrawn_at),
    )


class ReferralUnitOfWork(UnitOfWork):
    async def prepare_cases(self, case_ids: Sequence[UUID]) -> None:
        """A consumer batch's cases, before its handlers run: every case locked and every erasure
        read, one statement each (ADR 0031); each handler then locks its case and checks its
        erasure without a round trip."""
        await lock_cases(self.session, case_ids)
        await self.erasures.remember(case_ids)
        await self.consents.remember(case_ids)  # every referral checks its case's consents

    @property
    def consents(self) -> ConsentRepository:
        return ConsentRepository(self)

    @property
    def directory(self) -> DirectoryRepository:
        return DirectoryRepository(self)

    @property
    def cases(self) -> CaseRepository:
        return CaseRepository(self)

    @property
    def erasures(self) -> ErasedCaseRepository:
        return ErasedCaseRepository(self, erased_cases)

    @property
    def referrals(self) -> ReferralRepository:
        return ReferralRepository(self)

    @property
    def partner(self) -> PartnerRepository:
        return PartnerRepository(self)

    @property
    def event_source(self) -> str:
        """The CloudEvents ``source`` of what this service publishes (also in the HTTP partner feed)."""
        return str(getattr(self._outbox, "_source", "/reintegra/referral"))
