"""Referral's handlers (docs/adr/0012-handler-contract.md): load → call the aggregate → save."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

from reintegra_contracts import Command
from reintegra_contracts.codelists import (
    CancellationReason,
    NeedOutcome,
    ReferralStatus,
    UnmatchedReason,
    disclosed,
)
from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_contracts.events.partner import (
    AcceptReferral,
    CompleteReferral,
    FailReferral,
    PartnerCommandRefused,
    ReceiveReferral,
    RecordServiceDelivery,
    RejectReferral,
    StartService,
)
from reintegra_contracts.events.reception import ArrivalRegistered, ConsentRecorded, ConsentWithdrawn
from reintegra_contracts.topics import agency_of_responses_topic
from reintegra_kit.clock import Clock
from reintegra_kit.consumer import current_record
from reintegra_kit.domain import ConflictError, DomainError, NotFoundError
from reintegra_kit.logging import get_logger
from reintegra_kit.timers import Timer

from .directory_io import RowError, check_references
from .domain import (
    ANSWER_TIMER,
    REROUTE_TIMER,
    Actor,
    Agency,
    CaseConsent,
    Channel,
    DirectoryService,
    Grant,
    NeedToRefer,
    Profile,
    Referral,
    Routing,
    SharingPolicy,
    match,
    refusal_reason,
)
from .domain.commands import (
    Action,
    AnswerReferral,
    AssignReferral,
    CancelReferral,
    ImportDirectory,
    PutAgency,
    PutService,
    RemoveAgency,
    RemoveService,
    SetWebhook,
)
from .domain.model import LIFECYCLE, AgencyMismatchError, UnknownReferralError
from .repository import ReferralUnitOfWork
from .settings import ReferralSettings

log = get_logger(__name__)

WEEK = timedelta(days=7)


class PartnerTopics(Protocol):
    """Creates the partner topics of agencies added while the service runs."""

    async def ensure(self, agency_ids: Iterable[str]) -> None: ...


class DirectoryImportError(DomainError):
    """A directory import has bad rows; nothing was imported."""

    code = "invalid-directory-import"

    def __init__(self, errors: list[RowError]) -> None:
        shown = "; ".join(f"{e.row}: {e.message}" for e in errors[:200])
        more = f" (and {len(errors) - 200} more)" if len(errors) > 200 else ""
        super().__init__(f"{len(errors)} bad row(s), nothing was imported: {shown}{more}", rows=len(errors))
        self.errors = errors


class IdempotencyKeyReusedError(ConflictError):
    """An Idempotency-Key already used for a different request."""

    code = "idempotency-key-reused"


# -- needs in, referrals out ------------------------------------------------------------------------


async def record_arrival(
    event: ArrivalRegistered,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
) -> None:
    """``arrival_registered`` → what matching may know of the person (age, sex, municipality, language,
    vulnerabilities); then the needs of an assessment that arrived first, if any. Nothing for a case
    whose person was erased."""
    await uow.cases.lock_case(event.case_id)  # an assessment deferring at this moment is seen
    if await uow.erasures.get(event.case_id) is not None:
        return
    profile = Profile(
        age=event.age,
        sex=event.sex,
        municipality=event.destination_municipality,
        vulnerabilities=frozenset(
            disclosed(event.vulnerabilities)
        ),  # an older producer's special flags: dropped
        language=event.preferred_language,
    )
    await uow.cases.save_profile(
        event.case_id,
        profile,
        clock.now(),
        reception_centre=event.reception_centre,
        country=event.country_of_return,
    )
    for payload in await uow.cases.take_deferred(event.case_id):
        await refer_assessed(
            AssessmentCompleted.model_validate_json(payload), profile, uow, clock, settings, sharing
        )


async def refer_needs(
    event: AssessmentCompleted,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
) -> None:
    """``assessment_completed`` → one referral per need, to the best candidate of the directory.

    Idempotent by need: a need already referred (a re-sent or re-keyed event) is left as it is. If the
    case's ``arrival_registered`` has not been read yet, the assessment waits for it. Nothing for a
    case whose person was erased.
    """
    await uow.cases.lock_case(event.case_id)  # an arrival recorded at this moment is seen
    if await uow.erasures.get(event.case_id) is not None:
        return
    profile = await uow.cases.profile(event.case_id)
    if profile is None:
        await uow.cases.defer(event.case_id, event.assessment_id, event.model_dump_json(), clock.now())
        log.info("referral.waiting_for_arrival", case_id=str(event.case_id))
        return
    await refer_assessed(event, profile, uow, clock, settings, sharing)


async def refer_assessed(
    event: AssessmentCompleted,
    profile: Profile,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
    *,
    prefer_agency: str | None = None,
) -> None:
    located = Profile(
        age=profile.age,
        sex=profile.sex,
        municipality=event.destination_municipality,
        vulnerabilities=profile.vulnerabilities | frozenset(disclosed(event.vulnerabilities)),
        language=profile.language,
    )
    open_categories = {
        r.category for r in await uow.referrals.for_case(event.case_id) if not LIFECYCLE.is_final(r.status)
    }
    referred = await uow.referrals.referred_needs([need.need_id for need in event.needs])
    consent: CaseConsent | None = None
    for need in event.needs:
        if need.need_id in referred:
            continue
        if need.category in open_categories:
            # one open referral per case and kind of service: the need reception referred at once
            # (a child's child-protection authority) is not referred again when the assessment lists it
            log.info("referral.already_open", category=need.category.value)
            continue
        open_categories.add(need.category)
        referred.add(need.need_id)
        if consent is None:  # read once: routing the case's needs changes no consent
            consent = await uow.consents.of_case(event.case_id)
        to_refer = NeedToRefer(
            case_id=event.case_id,
            assessment_id=event.assessment_id,
            need_id=need.need_id,
            category=need.category,
            dimension=need.dimension,
            level=need.level,
            priority=need.priority,
            profile=located,
        )
        await _route(
            uow,
            to_refer,
            clock,
            settings,
            sharing,
            attempt=1,
            previous=None,
            prefer_agency=prefer_agency,
            tried=set(),  # a need not referred before: no agency tried
            consent=consent,
        )


async def _route(
    uow: ReferralUnitOfWork,
    need: NeedToRefer,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
    *,
    attempt: int,
    previous: Referral | None,
    prefer_agency: str | None = None,
    tried: set[str] | None = None,
    consent: CaseConsent | None = None,
) -> Referral:
    """Match the need and refer it to the best candidate not tried yet (or queue it unmatched); with
    ``prefer_agency`` (e.g. the country's child-protection authority), that agency when it can take it.
    ``tried`` and ``consent``, when the caller knows them, spare reading them again."""
    now = clock.now()
    services = await uow.directory.service_facts(need.category)
    agencies = await uow.directory.agency_facts(f.agency_id for f in services.values())
    if tried is None:
        tried = {r.agency_id for r in await uow.referrals.for_need(need.need_id) if r.agency_id}
    country = need.profile.municipality[:2]
    capacities = {
        f.service_id: f.weekly_capacity
        for f in services.values()
        if f.weekly_capacity is not None and f.country == country  # matching considers no other
    }
    used = await uow.referrals.used_this_week(capacities, now - WEEK)
    result = match(
        need.category, need.profile, services.values(), agencies, used_this_week=used, tried_agencies=tried
    )
    if prefer_agency is not None:
        preferred = [f for f in services.values() if f.agency_id == prefer_agency]
        lead = match(
            need.category,
            need.profile,
            preferred,
            agencies,
            used_this_week=used,
            tried_agencies=tried,
            owner_vouches=True,  # reception, which holds the special-category flags, named this agency
        )
        if lead.chosen is not None:
            result = lead
    limit_reached = attempt > settings.max_reroutes + 1
    routing = Routing(result)
    if result.chosen is not None and not limit_reached:
        routing = Routing(result, agencies[result.chosen.agency_id], services[result.chosen.service_id])
    referral = Referral.route(
        need,
        routing,
        sharing,
        now,
        consent=consent if consent is not None else await uow.consents.of_case(need.case_id),
        attempt=attempt,
        previous=previous,
        unmatched_reason=UnmatchedReason.REROUTE_LIMIT_REACHED if limit_reached else None,
        channel=Channel.TIMER if previous is not None else Channel.EVENT,
    )
    await uow.referrals.save(referral)
    if referral.respond_by is not None and referral.status.value == "requested":
        await uow.timers.schedule_later(
            ANSWER_TIMER, str(referral.referral_id), referral.respond_by, case_id=referral.case_id
        )
    if referral.unmatched_reason is not None:
        log.warning(
            "referral.unmatched", category=need.category.value, reason=referral.unmatched_reason.value
        )
    return referral


def _need_of(r: Referral, profile: Profile) -> NeedToRefer:
    return NeedToRefer(
        case_id=r.case_id,
        assessment_id=r.assessment_id,
        need_id=r.need_id,
        category=r.category,
        dimension=r.dimension,
        level=r.level,
        priority=r.priority,
        profile=profile,
    )


async def _reroute(
    r: Referral, uow: ReferralUnitOfWork, clock: Clock, settings: ReferralSettings, sharing: SharingPolicy
) -> Referral:
    profile = await uow.cases.profile(r.case_id)
    if profile is None:
        raise NotFoundError(f"case {r.case_id} has no profile to re-route its need with")
    located = Profile(
        profile.age,
        profile.sex,
        r.municipality,
        profile.vulnerabilities | frozenset(r.vulnerabilities),
        profile.language,
    )
    return await _route(
        uow, _need_of(r, located), clock, settings, sharing, attempt=r.attempt + 1, previous=r
    )


async def stop_clock(uow: ReferralUnitOfWork, referral_id: UUID, resolution: str) -> None:
    await uow.timers.cancel(ANSWER_TIMER, str(referral_id))
    await uow.timers.cancel(REROUTE_TIMER, str(referral_id))
    await uow.partner.resolve_escalation(referral_id, resolution)


# -- consent (reception records it; referral enforces it where sharing happens) ---------------------


async def record_consent(
    event: ConsentRecorded, uow: ReferralUnitOfWork, clock: Clock, sharing: SharingPolicy
) -> None:
    """``consent_recorded`` (a consent or a vital-interest override) → kept in the case's consent read
    model; each referral of the case waiting for consent that it now covers goes to its agency.
    Nothing for a case whose person was erased."""
    # an assessment routed at this moment by another replica is seen (it holds its referrals for
    # consent, this releases them), or sees this consent — never neither
    await uow.cases.lock_case(event.case_id)
    if await uow.erasures.get(event.case_id) is not None:
        return
    if not await uow.consents.add(Grant.recorded(event)):
        return  # the same consent again
    consent = await uow.consents.of_case(event.case_id)
    now = clock.now()
    for r in await uow.referrals.for_case(event.case_id):
        if r.status is not ReferralStatus.AWAITING_CONSENT or r.agency_id is None or r.service_id is None:
            continue
        agency = await uow.directory.agency(r.agency_id)
        service = await uow.directory.service(r.service_id)
        if agency is None or agency.removed or service is None or service.removed:
            log.warning("referral.held_for_a_removed_service", referral_id=str(r.referral_id))
            continue
        if r.release(agency.facts, service.facts, sharing, consent, now):
            await uow.referrals.save(r)
            assert r.respond_by is not None
            await uow.timers.schedule_later(ANSWER_TIMER, str(r.referral_id), r.respond_by, case_id=r.case_id)


async def withdraw_consent(
    event: ConsentWithdrawn, uow: ReferralUnitOfWork, clock: Clock, sharing: SharingPolicy
) -> None:
    """``consent_withdrawn`` (whole or per purpose) → every referral of the case that the consents no
    longer allow is cancelled as ``consent_withdrawn``: its agency is told (partner topic, HTTP feed,
    webhook), its contact reference is revoked with it, its answer-by clock stops."""
    await uow.cases.lock_case(event.case_id)  # a referral routed at this moment is seen, or sees this
    grant = await uow.consents.get(event.consent_id)
    if grant is None:
        log.warning("referral.withdrawal_of_unknown_consent", consent_id=str(event.consent_id))
        return
    await uow.consents.replace(grant.withdraw(event))
    consent = await uow.consents.of_case(grant.case_id)
    now = clock.now()
    for r in await uow.referrals.for_case(grant.case_id):
        if r.recheck_consent(sharing, consent, now):
            await uow.referrals.save(r)
            await stop_clock(uow, r.referral_id, "consent_withdrawn")


# -- the agency's answers (Kafka and HTTP) -----------------------------------------------------------


async def answer_referral(
    cmd: AnswerReferral,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
) -> Referral:
    """An agency's command about a referral. The agency is the one whose channel carried it (its own
    responses topic, or the HTTP identity), never what the data claims; a command about a referral not
    sent to it, or one the referral's status does not allow, is refused and changes nothing."""
    if cmd.idempotency_key is not None:
        seen = await uow.partner.seen_key(cmd.agency_id, cmd.idempotency_key)
        if seen is not None:
            if seen[0] != cmd.request_hash or seen[1] != cmd.referral_id:
                raise IdempotencyKeyReusedError(
                    f"Idempotency-Key {cmd.idempotency_key!r} was used for a different request"
                )
            replayed = await uow.referrals.get(cmd.referral_id)
            assert replayed is not None
            return replayed
    if cmd.claimed_agency_id is not None and cmd.claimed_agency_id != cmd.agency_id:
        raise AgencyMismatchError(
            f"the command says agency {cmd.claimed_agency_id} but arrived on the channel of {cmd.agency_id}"
        )
    r = await uow.referrals.get(cmd.referral_id)
    if r is None:
        raise UnknownReferralError(f"referral {cmd.referral_id} does not exist")
    agency, at, channel = cmd.agency_id, cmd.at, cmd.channel
    if cmd.action is Action.RECEIVE:
        r.receive(agency, at, channel)
    elif cmd.action is Action.ACCEPT:
        r.accept(agency, at, channel, deliver_by=cmd.deliver_by, contact_point=cmd.contact_point)
    elif cmd.action is Action.REJECT:
        assert cmd.rejection_reason is not None
        r.reject(agency, at, channel, cmd.rejection_reason)
    elif cmd.action is Action.START:
        r.start(agency, at, channel)
    elif cmd.action is Action.DELIVER:
        assert cmd.delivery_id is not None
        delivered = r.deliver(
            agency,
            at,
            channel,
            delivery_id=cmd.delivery_id,
            service_id=cmd.service_id or r.service_id or "",
            final=cmd.final,
        )
        if delivered and cmd.final:
            r.complete(agency, at, channel, cmd.outcome or NeedOutcome.MET)
    elif cmd.action is Action.COMPLETE:
        assert cmd.outcome is not None
        r.complete(agency, at, channel, cmd.outcome)
    elif cmd.action is Action.FAIL:
        assert cmd.failure_reason is not None
        r.fail(agency, at, channel, cmd.failure_reason)
    await uow.referrals.save(r)
    if cmd.action in (Action.ACCEPT, Action.REJECT):
        await stop_clock(uow, r.referral_id, "answered")
    if cmd.idempotency_key is not None and cmd.request_hash is not None:
        await uow.partner.remember_key(cmd.agency_id, cmd.idempotency_key, cmd.request_hash, r.referral_id)
    if r.needs_rerouting:
        await _reroute(r, uow, clock, settings, sharing)
    return r


def _agency_of_current_topic(settings: ReferralSettings) -> str:
    record = current_record()
    topic = record.topic if record is not None else ""
    logical = topic.removeprefix(settings.topic_prefix)
    agency = agency_of_responses_topic(logical)
    if agency is None:
        raise AgencyMismatchError(f"{topic!r} is not an agency's responses topic")
    return agency


def _command_id() -> str:
    record = current_record()
    for name, value in record.headers if record is not None else ():
        if name == "ce_id":
            return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return ""


def command_from_kafka(cmd: Command, settings: ReferralSettings) -> AnswerReferral:
    """The domain command an agency's Kafka command stands for; the agency comes from the topic."""
    agency = _agency_of_current_topic(settings)
    base: dict[str, Any] = {
        "agency_id": agency,
        "claimed_agency_id": getattr(cmd, "agency_id", None),
        "referral_id": cmd.referral_id,  # type: ignore[attr-defined]
        "channel": Channel.KAFKA,
        "command_type": cmd.event_type,
        "command_id": _command_id(),
    }
    if isinstance(cmd, ReceiveReferral):
        return AnswerReferral(action=Action.RECEIVE, at=cmd.received_at, **base)
    if isinstance(cmd, AcceptReferral):
        return AnswerReferral(
            action=Action.ACCEPT,
            at=cmd.accepted_at,
            deliver_by=cmd.deliver_by,
            contact_point=cmd.contact_point,
            **base,
        )
    if isinstance(cmd, RejectReferral):
        return AnswerReferral(action=Action.REJECT, at=cmd.rejected_at, rejection_reason=cmd.reason, **base)
    if isinstance(cmd, StartService):
        return AnswerReferral(action=Action.START, at=cmd.started_at, **base)
    if isinstance(cmd, RecordServiceDelivery):
        return AnswerReferral(
            action=Action.DELIVER,
            at=cmd.delivered_at,
            delivery_id=cmd.delivery_id,
            service_id=cmd.service_id,
            final=cmd.final,
            outcome=cmd.outcome,
            **base,
        )
    if isinstance(cmd, CompleteReferral):
        return AnswerReferral(action=Action.COMPLETE, at=cmd.completed_at, outcome=cmd.outcome, **base)
    if isinstance(cmd, FailReferral):
        return AnswerReferral(action=Action.FAIL, at=cmd.failed_at, failure_reason=cmd.reason, **base)
    raise TypeError(f"not an agency command: {cmd.event_type}")


async def agency_command(
    cmd: Command, uow: ReferralUnitOfWork, clock: Clock, settings: ReferralSettings, sharing: SharingPolicy
) -> None:
    """An agency's command read from its own responses topic (``reintegra.partner.<agency>.responses.v1``)."""
    await answer_referral(command_from_kafka(cmd, settings), uow, clock, settings, sharing)


async def refuse_agency_command(
    cmd: Command, error: DomainError, uow: ReferralUnitOfWork, clock: Clock, settings: ReferralSettings
) -> None:
    """Tell the agency, on its own partner topic, that its command was refused and why."""
    try:
        agency = _agency_of_current_topic(settings)
    except AgencyMismatchError:
        return
    if await uow.directory.agency(agency) is None:
        log.warning("referral.refused_command_of_unknown_agency", agency_id=agency)
        return  # no partner topic to answer on; the refusal is recorded in the inbox
    referral_id: UUID = cmd.referral_id  # type: ignore[attr-defined]
    r = await uow.referrals.get(referral_id)
    await notify_refusal(
        uow, agency, cmd.case_id, referral_id, cmd.event_type, _command_id(), error, r, clock
    )


async def notify_refusal(
    uow: ReferralUnitOfWork,
    agency_id: str,
    case_id: UUID,
    referral_id: UUID,
    command_type: str,
    command_id: str,
    error: DomainError,
    referral: Referral | None,
    clock: Clock,
) -> None:
    visible = referral is not None and referral.agency_id == agency_id
    refusal = PartnerCommandRefused(
        case_id=referral.case_id if referral is not None and visible else case_id,
        referral_id=referral_id,
        agency_id=agency_id,
        command_type=command_type[:200],
        command_id=command_id[:200] or "unknown",
        reason=refusal_reason(error),
        detail=str(error)[:1000],
        current_status=referral.status if referral is not None and visible else None,
        refused_at=clock.now(),
    )
    event_id = await uow.emit(refusal)
    await uow.partner.record(refusal, event_id, referral_id)


# -- response times ----------------------------------------------------------------------------------


async def answer_time_passed(
    timer: Timer, uow: ReferralUnitOfWork, clock: Clock, settings: ReferralSettings
) -> None:
    """The answer-by time passed: ``referral_overdue`` (once), the agency told, the coordinating office
    escalated to; the need goes elsewhere after the grace unless the agency answers meanwhile."""
    r = await uow.referrals.get(UUID(timer.key))
    if r is None or not r.awaiting_answer or r.agency_id is None:
        return
    now = clock.now()
    agency = await uow.directory.agency(r.agency_id)
    escalate_to = await uow.directory.coordinator_of(agency.facts.country) if agency else None
    reroute_at = now + settings.reroute_grace
    if r.overdue(now, escalate_to=escalate_to, reroute_at=reroute_at):
        await uow.referrals.save(r)
        await uow.partner.open_escalation(r, escalate_to)
        await uow.timers.schedule_later(REROUTE_TIMER, str(r.referral_id), reroute_at, case_id=r.case_id)


async def grace_passed(
    timer: Timer, uow: ReferralUnitOfWork, clock: Clock, settings: ReferralSettings, sharing: SharingPolicy
) -> None:
    """Still no answer after the grace: cancel the referral as ``referred_elsewhere`` (the agency is told)
    and send the need to the next candidate — or to the unmatched queue."""
    r = await uow.referrals.get(UUID(timer.key))
    if r is None or not r.awaiting_answer:
        return
    r.cancel(CancellationReason.REFERRED_ELSEWHERE, clock.now(), Actor.SYSTEM, Channel.TIMER)
    await uow.referrals.save(r)
    await stop_clock(uow, r.referral_id, "rerouted")
    await _reroute(r, uow, clock, settings, sharing)


# -- case workers and the coordinating office ------------------------------------------------------


async def cancel_referral(cmd: CancelReferral, uow: ReferralUnitOfWork, clock: Clock) -> Referral:
    r = await uow.referrals.get(cmd.referral_id)
    if r is None:
        raise NotFoundError(f"referral {cmd.referral_id} not found")
    actor = Actor.SYSTEM if cmd.reason is CancellationReason.CONSENT_WITHDRAWN else Actor.CASE_WORKER
    r.cancel(cmd.reason, clock.now(), actor, Channel.HTTP)
    await uow.referrals.save(r)
    await stop_clock(uow, r.referral_id, "cancelled")
    return r


async def assign_referral(
    cmd: AssignReferral, uow: ReferralUnitOfWork, clock: Clock, sharing: SharingPolicy
) -> Referral:
    r = await uow.referrals.get(cmd.referral_id)
    if r is None:
        raise NotFoundError(f"referral {cmd.referral_id} not found")
    service = await uow.directory.service(cmd.service_id)
    if service is None or service.removed:
        raise NotFoundError(f"service {cmd.service_id} is not in the directory")
    agency = await uow.directory.agency(service.agency_id)
    if agency is None or agency.removed:
        raise NotFoundError(f"agency {service.agency_id} is not in the directory")
    if service.facts.category is not r.category:
        raise ConflictError(
            f"service {cmd.service_id} offers {service.facts.category.value}, not {r.category.value}"
        )
    profile = await uow.cases.profile(r.case_id)
    considered = r.candidates
    if profile is not None:
        considered = match(
            r.category,
            Profile(profile.age, profile.sex, r.municipality, profile.vulnerabilities),
            [service.facts],
            {agency.agency_id: agency.facts},
        ).considered
    from .domain.matching import Match

    r.assign(
        Routing(Match(considered, None), agency.facts, service.facts),
        sharing,
        clock.now(),
        reason=cmd.note,
        consent=await uow.consents.of_case(r.case_id),
    )
    await uow.referrals.save(r)
    if r.respond_by is not None and r.status.value == "requested":
        await uow.timers.schedule_later(ANSWER_TIMER, str(r.referral_id), r.respond_by, case_id=r.case_id)
    return r


# -- the directory -----------------------------------------------------------------------------------


async def put_agency(
    cmd: PutAgency, uow: ReferralUnitOfWork, clock: Clock, partner_topics: PartnerTopics
) -> Agency:
    agency = await uow.directory.agency(cmd.facts.agency_id)
    if agency is None:
        agency = Agency.create(cmd.facts, clock.now())
    else:
        agency.change(cmd.facts, clock.now())
    await uow.directory.save_agency(agency)
    await partner_topics.ensure([agency.agency_id])
    return agency


async def remove_agency(cmd: RemoveAgency, uow: ReferralUnitOfWork, clock: Clock) -> Agency:
    agency = await uow.directory.agency(cmd.agency_id)
    if agency is None or agency.removed:
        raise NotFoundError(f"agency {cmd.agency_id} is not in the directory")
    now = clock.now()
    for service in await uow.directory.services(agency_id=cmd.agency_id):
        service.remove(now)
        await uow.directory.save_service(service)
    agency.remove(now)
    await uow.directory.save_agency(agency)
    return agency


async def put_service(cmd: PutService, uow: ReferralUnitOfWork, clock: Clock) -> DirectoryService:
    agency = await uow.directory.agency(cmd.facts.agency_id)
    if agency is None or agency.removed:
        raise NotFoundError(f"agency {cmd.facts.agency_id} is not in the directory")
    if agency.facts.country != cmd.facts.country:
        raise ConflictError(
            f"service country {cmd.facts.country} differs from its agency's ({agency.facts.country})"
        )
    service = await uow.directory.service(cmd.facts.service_id)
    if service is None:
        service = DirectoryService.create(cmd.facts, clock.now())
    else:
        service.change(cmd.facts, clock.now())
    await uow.directory.save_service(service)
    return service


async def remove_service(cmd: RemoveService, uow: ReferralUnitOfWork, clock: Clock) -> DirectoryService:
    service = await uow.directory.service(cmd.service_id)
    if service is None or service.removed:
        raise NotFoundError(f"service {cmd.service_id} is not in the directory")
    service.remove(clock.now())
    await uow.directory.save_service(service)
    return service


async def set_webhook(cmd: SetWebhook, uow: ReferralUnitOfWork) -> Agency:
    agency = await uow.directory.agency(cmd.agency_id)
    if agency is None or agency.removed:
        raise NotFoundError(f"agency {cmd.agency_id} is not in the directory")
    agency.set_webhook(cmd.url, cmd.secret)
    await uow.directory.save_agency(agency)
    return agency


async def import_directory(
    cmd: ImportDirectory, uow: ReferralUnitOfWork, clock: Clock, partner_topics: PartnerTopics
) -> dict[str, int]:
    """Add or change every agency and service of an import — all of them or, with one bad row, none."""
    existing = {a.agency_id for a in await uow.directory.agencies()}
    errors = check_references(cmd.agencies, cmd.services, known_agencies=existing)
    if errors:
        raise DirectoryImportError(errors)
    counts = {
        "agencies_created": 0,
        "agencies_changed": 0,
        "services_created": 0,
        "services_changed": 0,
        "unchanged": 0,
    }
    now = clock.now()
    for facts in cmd.agencies:
        agency = await uow.directory.agency(facts.agency_id)
        if agency is None:
            agency = Agency.create(facts, now)
            counts["agencies_created"] += 1
        elif agency.change(facts, now):
            counts["agencies_changed"] += 1
        else:
            counts["unchanged"] += 1
        await uow.directory.save_agency(agency)
    for sfacts in cmd.services:
        service = await uow.directory.service(sfacts.service_id)
        if service is None:
            service = DirectoryService.create(sfacts, now)
            counts["services_created"] += 1
        elif service.change(sfacts, now):
            counts["services_changed"] += 1
        else:
            counts["unchanged"] += 1
        await uow.directory.save_service(service)
    if cmd.dry_run:
        raise _DryRun(counts)
    await partner_topics.ensure(a.agency_id for a in cmd.agencies)
    return counts


class _DryRun(Exception):
    """Rolls a dry-run import back after it was checked (caught by the HTTP layer)."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__("dry run")
        self.counts = counts


async def seed_directory(
    cmd: ImportDirectory, uow: ReferralUnitOfWork, clock: Clock, partner_topics: PartnerTopics
) -> bool:
    """Seed the directory from the directory file on the first start only (later changes go through the API)."""
    if not await uow.directory.is_empty():
        return False
    await import_directory(cmd, uow, clock, partner_topics)
    return True
