"""Referral's handlers over its real unit of work, on SQLite and PostgreSQL (no Kafka).

Agency commands go through the real consumer with the record's real topic (the agency's own responses
topic), timers through the real timer runner, HTTP commands through the real bus.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from reintegra_contracts import Command, Event
from reintegra_contracts.codelists import (
    CancellationReason,
    CommandRefusalReason,
    Dimension,
    Level,
    MatchReason,
    NeedOutcome,
    Priority,
    ReferralStatus,
    RejectionReason,
    ServiceCategory,
    Sex,
    UnmatchedReason,
)
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.partner import (
    AGENCY_COMMANDS,
    AcceptReferral,
    CompleteReferral,
    PartnerCommandRefused,
    PartnerReferralCancelled,
    PartnerReferralOverdue,
    PartnerReferralRequested,
    ReceiveReferral,
    RecordServiceDelivery,
    RejectReferral,
    StartService,
)
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_contracts.events.referral import (
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralEscalated,
    ReferralHeld,
    ReferralOverdue,
    ReferralReceived,
    ReferralRejected,
    ReferralRequested,
    ReferralUnmatched,
    ServiceDelivered,
    ServiceStarted,
)
from reintegra_contracts.samples import example_of
from reintegra_contracts.topics import partner_responses_topic
from reintegra_kit.clock import ManualClock
from reintegra_kit.consumer import Outcome
from reintegra_kit.domain import IllegalTransitionError
from reintegra_kit.testing.handlers import HandlerHarness, record_of
from reintegra_referral.bootstrap import SPEC
from reintegra_referral.directory_io import load_samples, parse_services_csv
from reintegra_referral.domain import ANSWER_TIMER, REROUTE_TIMER, Channel, HoldEverything, ShareEverything
from reintegra_referral.domain.commands import Action, AnswerReferral, CancelReferral, ImportDirectory
from reintegra_referral.handlers import (
    DirectoryImportError,
    IdempotencyKeyReusedError,
    agency_command,
    answer_referral,
    answer_time_passed,
    cancel_referral,
    grace_passed,
    import_directory,
    record_arrival,
    refer_needs,
    refuse_agency_command,
    seed_directory,
)
from reintegra_referral.orm import (
    agencies,
    directory_services,
    escalations,
    kit_tables,
    partner_messages,
    pending_assessments,
    referral_history,
    referrals,
)
from reintegra_referral.repository import ReferralUnitOfWork
from reintegra_referral.settings import ReferralSettings
from sqlalchemy import event

START = datetime(2026, 11, 23, 14, tzinfo=UTC)  # a Monday, 08:00 in Tegucigalpa
EVENTS = {ArrivalRegistered: [record_arrival], AssessmentCompleted: [refer_needs]}
PARTNER = {cls: [agency_command] for cls in AGENCY_COMMANDS}
REFUSALS = {cls: refuse_agency_command for cls in AGENCY_COMMANDS}
TIMERS = {ANSWER_TIMER: answer_time_passed, REROUTE_TIMER: grace_passed}

Harness = HandlerHarness[ReferralUnitOfWork]


class Topics:
    """Partner topics created while running (the real ones are created on Kafka in tests/)."""

    def __init__(self) -> None:
        self.ensured: list[str] = []

    async def ensure(self, agency_ids: Iterable[str]) -> None:
        self.ensured += list(agency_ids)


def harness(database_url: str, **deps: Any) -> Harness:
    return HandlerHarness(
        database_url,
        spec=SPEC,
        tables=kit_tables,
        uow_class=ReferralUnitOfWork,
        clock=ManualClock(START),
        settings=ReferralSettings(reroute_grace=timedelta(hours=2), max_reroutes=1),
        partner_topics=Topics(),
        **{"sharing": ShareEverything(), **deps},
    )


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    async with harness(database_url) as h:
        agencies_, services_ = load_samples()
        assert await h.handle(seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True))
        yield h


def arrival(
    case_id: UUID, *, age: int = 34, sex: Sex = Sex.FEMALE, municipality: str = "HN-0501"
) -> ArrivalRegistered:
    return example_of(ArrivalRegistered).model_copy(
        update={
            "case_id": case_id,
            "age": age,
            "sex": sex,
            "destination_municipality": municipality,
            "vulnerabilities": [],
        }
    )


def need(category: ServiceCategory, priority: Priority = Priority.MEDIUM) -> Need:
    return Need(
        need_id=uuid4(),
        category=category,
        dimension=Dimension.SOCIAL,
        level=Level.INDIVIDUAL,
        priority=priority,
    )


def assessed(case_id: UUID, *needs: Need, municipality: str = "HN-0501") -> AssessmentCompleted:
    return AssessmentCompleted(
        case_id=case_id,
        assessment_id=uuid4(),
        completed_at=START,
        instrument="rss",
        instrument_version="1",
        priority=Priority.MEDIUM,
        destination_municipality=municipality,
        needs=list(needs),
    )


async def referred(service: Harness, category: ServiceCategory, **person: Any) -> PartnerReferralRequested:
    """An arrival and its assessment with one need; the partner view the chosen agency was sent."""
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id, **person))
    await service.deliver(
        EVENTS, assessed(case_id, need(category), municipality=person.get("municipality", "HN-0501"))
    )
    views = [
        e for e in await service.emitted() if isinstance(e, PartnerReferralRequested) and e.case_id == case_id
    ]
    return views[-1]


async def command(
    service: Harness, cmd: Command, *, topic_of: str | None = None, event_id: str | None = None
) -> Outcome:
    """Deliver an agency's command as read from a responses topic (its own, unless ``topic_of``)."""
    record = record_of(cmd, event_id=event_id)
    if topic_of is not None:
        record = replace(record, topic=partner_responses_topic(topic_of))
    return await service.consumer(PARTNER, refusals=REFUSALS).process(record)


def of(events: list[Event], cls: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


async def status_of(service: Harness, referral_id: UUID) -> str:
    [row] = [r for r in await service.rows(referrals) if r.referral_id == referral_id]
    return str(row.status)


# -- needs in ----------------------------------------------------------------------------------------


async def test_a_need_goes_to_the_best_candidate_with_the_reasons_and_a_minimised_partner_view(
    service: Harness,
) -> None:
    view = await referred(service, ServiceCategory.HEALTH)
    assert view.agency_id == "hn-sesal"
    assert view.service_id == "HN-SESAL-SPS"  # the local health centre before the national network
    assert view.age_group.value == "30_59"
    assert view.contact_reference
    [requested] = of(await service.emitted(), ReferralRequested)
    assert requested.match_reasons == [MatchReason.LOCAL_COVERAGE]
    assert requested.candidates_considered == 2
    [row] = await service.rows(referrals)
    assert row.status == "requested"
    assert '"HN-SESAL-NAT"' in row.candidates
    # answer by 8 working hours later: 08:00 Monday in Tegucigalpa -> 16:00 the same day
    assert view.respond_by == START + timedelta(hours=8)


async def test_an_assessment_read_before_its_arrival_waits_for_it(service: Harness) -> None:
    case_id = uuid4()
    await service.deliver(EVENTS, assessed(case_id, need(ServiceCategory.EMPLOYMENT)))
    assert await service.rows(referrals) == []
    await service.deliver(EVENTS, arrival(case_id))
    [row] = await service.rows(referrals)
    assert row.service_id == "HN-SENAEH-EMP"


async def test_an_arrival_and_an_assessment_of_one_case_handled_at_once_never_leave_the_assessment_waiting(
    service: Harness,
) -> None:
    # Two replicas may handle the reception and the assessment topics of one case at the same time
    # (ADR 0060): the per-case lock makes one see the other's work.
    for _ in range(15):
        case_id = uuid4()
        arrivals = service.consumer(EVENTS, group="test-group")
        assessments = service.consumer(EVENTS, group="test-group")
        await asyncio.gather(
            assessments.process(record_of(assessed(case_id, need(ServiceCategory.EMPLOYMENT)))),
            arrivals.process(record_of(arrival(case_id))),
        )
    assert await service.rows(pending_assessments) == []
    assert len(await service.rows(referrals)) == 15


async def test_a_child_goes_to_child_protection_and_an_adult_does_not(service: Harness) -> None:
    child = await referred(service, ServiceCategory.CHILD_PROTECTION, age=15, sex=Sex.MALE)
    assert child.agency_id == "hn-senaf"
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id, age=40))
    await service.deliver(EVENTS, assessed(case_id, need(ServiceCategory.CHILD_PROTECTION)))
    [unmatched] = of(await service.emitted(), ReferralUnmatched)
    assert unmatched.reason is UnmatchedReason.NONE_ELIGIBLE


async def test_a_need_no_service_covers_goes_to_the_unmatched_queue_with_the_reason(service: Harness) -> None:
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id, municipality="HN-0301"))
    await service.deliver(EVENTS, assessed(case_id, need(ServiceCategory.SHELTER), municipality="HN-0301"))
    [row] = await service.rows(referrals)
    assert (row.status, row.unmatched_reason) == ("unmatched", "none_covers_municipality")
    [unmatched] = of(await service.emitted(), ReferralUnmatched)
    assert unmatched.candidates_considered == 1
    assert of(await service.emitted(), PartnerReferralRequested) == []


async def test_each_need_is_referred_once_even_when_the_assessment_is_resent(service: Harness) -> None:
    case_id = uuid4()
    await service.deliver(EVENTS, arrival(case_id))
    event = assessed(case_id, need(ServiceCategory.HEALTH), need(ServiceCategory.EMPLOYMENT))
    assert await service.deliver(EVENTS, event, event_id="one") is Outcome.PROCESSED
    assert await service.deliver(EVENTS, event, event_id="two") is Outcome.PROCESSED
    assert len(await service.rows(referrals)) == 2


async def test_a_service_full_this_week_is_passed_over_until_its_places_are_a_week_old(
    service: Harness,
) -> None:
    agencies_, services_ = load_samples()
    small = [replace(s, weekly_capacity=2) if s.service_id == "HN-SESAL-SPS" else s for s in services_]
    await service.handle(import_directory, ImportDirectory(tuple(agencies_), tuple(small)))
    await referred(service, ServiceCategory.EMPLOYMENT)  # takes no place of the health centre's
    first = [await referred(service, ServiceCategory.HEALTH) for _ in range(2)]
    assert [v.service_id for v in first] == ["HN-SESAL-SPS", "HN-SESAL-SPS"]
    # a cancelled referral gives its place back
    await service.handle(
        cancel_referral, CancelReferral(first[0].referral_id, CancellationReason.RETURNEE_DECLINED)
    )
    assert (await referred(service, ServiceCategory.HEALTH)).service_id == "HN-SESAL-SPS"

    fourth = await referred(service, ServiceCategory.HEALTH)
    assert fourth.service_id == "HN-SESAL-NAT"  # the national network: the local centre is full
    [row] = [r for r in await service.rows(referrals) if r.referral_id == fourth.referral_id]
    [full] = [c for c in json.loads(row.candidates) if c["service_id"] == "HN-SESAL-SPS"]
    assert full["reasons"] == [MatchReason.NO_CAPACITY.value]
    assert full["load"] == 1.0

    service.clock.advance(timedelta(days=7, seconds=1))  # the places taken are a week old
    later = await referred(service, ServiceCategory.HEALTH)
    assert later.service_id == "HN-SESAL-SPS"


# -- the agency's answers over Kafka ----------------------------------------------------------------


async def test_the_whole_loop_receive_accept_start_deliver_complete(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    ids = {"case_id": view.case_id, "referral_id": view.referral_id, "agency_id": view.agency_id}
    steps: list[Command] = [
        ReceiveReferral(**ids, received_at=START),
        AcceptReferral(**ids, accepted_at=START, contact_point="ventanilla"),
        StartService(**ids, started_at=START),
        RecordServiceDelivery(**ids, delivery_id=uuid4(), service_id=view.service_id, delivered_at=START),
        CompleteReferral(**ids, completed_at=START, outcome=NeedOutcome.MET),
    ]
    for step in steps:
        assert await command(service, step) is Outcome.PROCESSED
    events = [e for e in await service.emitted() if getattr(e, "referral_id", None) == view.referral_id]
    assert [type(e) for e in events] == [
        ReferralRequested,
        PartnerReferralRequested,
        ReferralReceived,
        ReferralAccepted,
        ServiceStarted,
        ServiceDelivered,
        ReferralCompleted,
    ]
    history = [(h.from_status, h.to_status, h.channel) for h in await service.rows(referral_history)]
    assert history == [
        (None, "requested", "event"),
        ("requested", "received", "kafka"),
        ("received", "accepted", "kafka"),
        ("accepted", "in_progress", "kafka"),
        ("in_progress", "service_delivered", "kafka"),
        ("service_delivered", "completed", "kafka"),
    ]
    async with service.uow() as uow:
        timer = await uow.timers.get(ANSWER_TIMER, str(view.referral_id))
    assert timer is not None
    assert timer[0] == "cancelled"  # answered: the answer-by clock stopped


async def test_a_command_about_a_referral_not_sent_to_that_agency_is_refused_and_answered(
    service: Harness,
) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    # gt-sbs writes its own topic, about hn-senaeh's referral
    intruder = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id="gt-sbs", accepted_at=START
    )
    assert await command(service, intruder) is Outcome.REFUSED
    assert await status_of(service, view.referral_id) == "requested"
    [refusal] = of(await service.emitted(), PartnerCommandRefused)
    assert refusal.agency_id == "gt-sbs"
    assert refusal.kafka_topic() == "reintegra.partner.gt-sbs.v1"
    assert refusal.reason is CommandRefusalReason.NOT_SENT_TO_AGENCY
    assert refusal.current_status is None  # gt-sbs may not learn where hn-senaeh's referral stands


async def test_a_command_about_a_referral_and_case_never_seen_is_refused_and_creates_nothing(
    service: Harness,
) -> None:
    # ADR 0060: agencies answer about referrals; one this service never made is refused, not created
    invented = AcceptReferral(case_id=uuid4(), referral_id=uuid4(), agency_id="hn-senaeh", accepted_at=START)
    seeded = len(await service.emitted())  # the directory's events
    assert await command(service, invented) is Outcome.REFUSED
    assert await service.rows(referrals) == []
    assert [type(e) for e in (await service.emitted())[seeded:]] == [PartnerCommandRefused]


async def test_a_command_naming_another_agency_than_its_topic_is_refused(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    forged = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id=view.agency_id, accepted_at=START
    )
    assert await command(service, forged, topic_of="gt-sbs") is Outcome.REFUSED
    assert await status_of(service, view.referral_id) == "requested"
    [refusal] = of(await service.emitted(), PartnerCommandRefused)
    assert (refusal.agency_id, refusal.reason) == ("gt-sbs", CommandRefusalReason.AGENCY_MISMATCH)


async def test_the_same_command_twice_changes_nothing(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    accept = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id=view.agency_id, accepted_at=START
    )
    assert await command(service, accept, event_id="cmd-1") is Outcome.PROCESSED
    before = len(await service.emitted())
    assert await command(service, accept, event_id="cmd-1") is Outcome.DUPLICATE
    assert len(await service.emitted()) == before
    # re-sent under a new id: refused as an illegal transition, naming the status
    assert await command(service, accept, event_id="cmd-2") is Outcome.REFUSED
    [refusal] = of(await service.emitted(), PartnerCommandRefused)
    assert refusal.reason is CommandRefusalReason.ILLEGAL_TRANSITION
    assert "'accepted'" in refusal.detail
    assert refusal.current_status is ReferralStatus.ACCEPTED
    assert len(of(await service.emitted(), ReferralAccepted)) == 1


async def test_a_command_to_a_cancelled_referral_is_refused(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    await service.handle(
        cancel_referral, CancelReferral(view.referral_id, CancellationReason.RETURNEE_DECLINED)
    )
    [told] = of(await service.emitted(), PartnerReferralCancelled)
    assert told.agency_id == view.agency_id
    accept = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id=view.agency_id, accepted_at=START
    )
    assert await command(service, accept) is Outcome.REFUSED
    assert await status_of(service, view.referral_id) == "cancelled"
    [refusal] = of(await service.emitted(), PartnerCommandRefused)
    assert "'cancelled'" in refusal.detail


async def test_a_rejection_reroutes_the_need_to_the_next_candidate(service: Harness) -> None:
    view = await referred(service, ServiceCategory.HEALTH)
    reject = RejectReferral(
        case_id=view.case_id,
        referral_id=view.referral_id,
        agency_id=view.agency_id,
        rejected_at=START,
        reason=RejectionReason.NO_CAPACITY,
    )
    assert await command(service, reject) is Outcome.PROCESSED
    # hn-sesal was tried: the next candidate of another agency is... none for health in HN-0501
    rows = sorted(await service.rows(referrals), key=lambda r: r.attempt)
    assert [(r.attempt, r.status) for r in rows] == [(1, "rejected"), (2, "unmatched")]
    assert rows[1].unmatched_reason == "all_candidates_tried"
    assert of(await service.emitted(), ReferralRejected)[0].reason is RejectionReason.NO_CAPACITY


async def test_a_rejected_psychosocial_need_goes_to_the_red_cross(service: Harness) -> None:
    view = await referred(service, ServiceCategory.PSYCHOSOCIAL_SUPPORT)
    assert view.agency_id == "hn-umar-sps"
    reject = RejectReferral(
        case_id=view.case_id,
        referral_id=view.referral_id,
        agency_id=view.agency_id,
        rejected_at=START,
        reason=RejectionReason.NO_CAPACITY,
    )
    await command(service, reject)
    second = of(await service.emitted(), PartnerReferralRequested)[-1]
    assert (second.agency_id, second.attempt, second.need_id) == ("hn-cruz-roja", 2, view.need_id)
    requested = of(await service.emitted(), ReferralRequested)[-1]
    assert requested.previous_referral_id == view.referral_id


# -- response times ----------------------------------------------------------------------------------


async def test_silence_past_the_answer_by_time_escalates_then_reroutes_and_a_late_answer_is_refused(
    service: Harness,
) -> None:
    view = await referred(service, ServiceCategory.PSYCHOSOCIAL_SUPPORT)
    clock = service.clock
    assert isinstance(clock, ManualClock)
    clock.set(view.respond_by - timedelta(minutes=1))
    assert await service.fire_timers(TIMERS) == 0
    clock.set(view.respond_by + timedelta(seconds=1))
    assert await service.fire_timers(TIMERS) == 1
    assert await service.fire_timers(TIMERS) == 0  # once
    [overdue] = of(await service.emitted(), ReferralOverdue)
    assert overdue.escalated_to == "hn-sreci"
    [escalated] = of(await service.emitted(), ReferralEscalated)
    assert escalated.reroute_at == clock.now() + timedelta(hours=2)
    assert of(await service.emitted(), PartnerReferralOverdue)[0].agency_id == "hn-umar-sps"
    [open_] = await service.rows(escalations)
    assert open_.status == "open"

    clock.advance(timedelta(hours=2, seconds=1))
    assert await service.fire_timers(TIMERS) == 1
    assert await status_of(service, view.referral_id) == "cancelled"
    [cancelled] = of(await service.emitted(), ReferralCancelled)
    assert cancelled.reason is CancellationReason.REFERRED_ELSEWHERE
    assert of(await service.emitted(), PartnerReferralRequested)[-1].agency_id == "hn-cruz-roja"
    [closed] = await service.rows(escalations)
    assert (closed.status, closed.resolution) == ("resolved", "rerouted")

    late = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id=view.agency_id, accepted_at=clock.now()
    )
    assert await command(service, late) is Outcome.REFUSED
    [refusal] = of(await service.emitted(), PartnerCommandRefused)
    assert refusal.reason is CommandRefusalReason.REFERRED_ELSEWHERE
    assert "re-routed" in refusal.detail
    assert len(of(await service.emitted(), ReferralAccepted)) == 0


async def test_an_answer_before_the_answer_by_time_stops_the_clock(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    accept = AcceptReferral(
        case_id=view.case_id, referral_id=view.referral_id, agency_id=view.agency_id, accepted_at=START
    )
    await command(service, accept)
    clock = service.clock
    assert isinstance(clock, ManualClock)
    clock.set(view.respond_by + timedelta(days=3))
    assert await service.fire_timers(TIMERS) == 0
    assert of(await service.emitted(), ReferralOverdue) == []


async def test_after_the_most_reroutes_the_need_goes_to_the_unmatched_queue(service: Harness) -> None:
    view = await referred(service, ServiceCategory.PSYCHOSOCIAL_SUPPORT)  # candidates: UMAR SPS, Red Cross
    second_reject = None
    for current in (view,):
        await command(
            service,
            RejectReferral(
                case_id=current.case_id,
                referral_id=current.referral_id,
                agency_id=current.agency_id,
                rejected_at=START,
                reason=RejectionReason.NOT_ELIGIBLE,
            ),
        )
        second_reject = of(await service.emitted(), PartnerReferralRequested)[-1]
    assert second_reject is not None
    await command(
        service,
        RejectReferral(
            case_id=second_reject.case_id,
            referral_id=second_reject.referral_id,
            agency_id=second_reject.agency_id,
            rejected_at=START,
            reason=RejectionReason.NOT_ELIGIBLE,
        ),
    )
    rows = sorted(await service.rows(referrals), key=lambda r: r.attempt)
    assert [(r.attempt, r.status) for r in rows] == [(1, "rejected"), (2, "rejected"), (3, "unmatched")]
    assert rows[2].unmatched_reason in {"reroute_limit_reached", "all_candidates_tried"}


# -- consent seam -----------------------------------------------------------------------------------


async def test_a_referral_the_sharing_policy_holds_waits_for_consent_and_can_be_cancelled(
    database_url: str,
) -> None:
    async with harness(database_url, sharing=HoldEverything()) as service:
        agencies_, services_ = load_samples()
        await service.handle(seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True))
        case_id = uuid4()
        await service.deliver(EVENTS, arrival(case_id))
        await service.deliver(EVENTS, assessed(case_id, need(ServiceCategory.EMPLOYMENT)))
        [row] = await service.rows(referrals)
        assert row.status == "awaiting_consent"
        assert of(await service.emitted(), ReferralHeld)[0].agency_id == "hn-senaeh"
        assert of(await service.emitted(), PartnerReferralRequested) == []  # nothing reached the agency
        await service.handle(
            cancel_referral, CancelReferral(row.referral_id, CancellationReason.CONSENT_WITHDRAWN)
        )
        assert await status_of(service, row.referral_id) == "cancelled"
        assert of(await service.emitted(), PartnerReferralCancelled) == []  # it never had it


# -- HTTP commands -----------------------------------------------------------------------------------


def http_answer(
    view: PartnerReferralRequested, action: Action, key: str, digest: str, **extra: Any
) -> AnswerReferral:
    return AnswerReferral(
        agency_id=view.agency_id,
        referral_id=view.referral_id,
        action=action,
        at=START,
        channel=Channel.HTTP,
        command_type="http",
        command_id=key,
        idempotency_key=key,
        request_hash=digest,
        **extra,
    )


async def test_an_http_command_repeated_with_its_key_changes_nothing_and_a_reused_key_is_refused(
    service: Harness,
) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    first = await service.handle(answer_referral, http_answer(view, Action.RECEIVE, "key-00001", "h1"))
    again = await service.handle(answer_referral, http_answer(view, Action.RECEIVE, "key-00001", "h1"))
    assert first.status is again.status is ReferralStatus.RECEIVED
    assert len(of(await service.emitted(), ReferralReceived)) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        await service.handle(answer_referral, http_answer(view, Action.ACCEPT, "key-00001", "h2"))
    with pytest.raises(IllegalTransitionError, match="'received'; it cannot be received"):
        await service.handle(answer_referral, http_answer(view, Action.RECEIVE, "key-00002", "h3"))


# -- the directory -----------------------------------------------------------------------------------


async def test_a_directory_import_with_bad_rows_names_each_and_imports_nothing(service: Harness) -> None:
    before = len(await service.rows(directory_services))
    text = (
        "service_id,agency_id,label_es,label_en,category,country,national,municipalities\n"
        "HN-NEW-OK,hn-sesal,Nuevo,New,health,HN,true,\n"
        "HN-NEW-BAD,hn-sesal,Malo,Bad,not_a_category,HN,true,\n"
        "HN-NEW-NOWHERE,hn-sesal,Sin cobertura,Nowhere,health,HN,false,\n"
        "HN-NEW-GHOST,hn-nobody,Fantasma,Ghost,health,HN,true,\n"
    )
    parsed, errors = parse_services_csv(text)
    assert [e.row for e in errors] == ["services.csv row 3", "services.csv row 4"]
    with pytest.raises(DirectoryImportError) as refused:
        await service.handle(import_directory, ImportDirectory((), tuple(parsed)))
    assert "hn-nobody" in str(refused.value)
    assert len(await service.rows(directory_services)) == before  # not even the good row


async def test_directory_changes_are_events_and_seeding_happens_once(service: Harness) -> None:
    from reintegra_contracts.events.directory import AgencyChanged, ServiceChanged

    emitted = await service.emitted()
    assert len(of(emitted, AgencyChanged)) == len(await service.rows(agencies))
    assert len(of(emitted, ServiceChanged)) == len(await service.rows(directory_services))
    agencies_, services_ = load_samples()
    assert not await service.handle(
        seed_directory, ImportDirectory(tuple(agencies_), tuple(services_), seed=True)
    )


async def test_partner_messages_form_each_agency_s_feed(service: Harness) -> None:
    view = await referred(service, ServiceCategory.EMPLOYMENT)
    rows = [r for r in await service.rows(partner_messages) if r.agency_id == view.agency_id]
    assert [r.event_type for r in rows] == ["org.reintegra.partner.referral_requested.v1"]


async def test_directory_facts_are_read_once_per_transaction_and_its_own_changes_are_seen(
    service: Harness,
) -> None:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async with service.uow() as uow:
        event.listen(service.db.engine.sync_engine, "before_cursor_execute", count)
        try:
            first = await uow.directory.service_facts(ServiceCategory.EMPLOYMENT)
            agencies_of = await uow.directory.agency_facts(f.agency_id for f in first.values())
            assert first
            assert set(agencies_of) == {f.agency_id for f in first.values()}
            reads = len(statements)
            assert reads == 2
            assert await uow.directory.service_facts(ServiceCategory.EMPLOYMENT) == first
            assert await uow.directory.agency_facts(list(agencies_of)) == agencies_of
            assert len(statements) == reads, "the second reads are remembered"
            # a change in the same transaction is seen by the next read
            [removed] = [s for s in await uow.directory.services() if s.service_id == next(iter(first))]
            removed.remove(START)
            await uow.directory.save_service(removed)
            after = await uow.directory.service_facts(ServiceCategory.EMPLOYMENT)
            assert removed.service_id not in after
            assert set(after) == set(first) - {removed.service_id}
        finally:
            event.remove(service.db.engine.sync_engine, "before_cursor_execute", count)
    async with service.uow() as uow:  # a new transaction reads again (the change was not committed)
        assert set(await uow.directory.service_facts(ServiceCategory.EMPLOYMENT)) == set(first)
