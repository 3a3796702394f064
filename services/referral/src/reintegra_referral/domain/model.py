"""The referral aggregate: one need sent to one agency, and its lifecycle (docs/adr/0013-aggregates.md).

::

    awaiting_consent ─┐
    unmatched ────────┼─> requested ─> received ─> accepted ─> in_progress ─> service_delivered ─> completed
                      │       │            │           │             │                │
                      │       └────────────┴─> rejected│             │                └─> failed
                      │                                └─────────────┴──────────────────> failed
                      └─ any state before the end ─> cancelled (case worker, consent withdrawal, re-routing)

Each status maps to an HL7 FHIR ``Task.status`` (``codelists.FHIR_TASK_STATUS``). Every transition
records an event on ``reintegra.referral.events.v1`` and a history entry; those the agency must know of
also record a minimised partner view on its own topic. When an agency rejects a referral or stays silent
past its answer-by time, the *need* goes to the next candidate as a new referral (``attempt`` + 1); the
old one stays where it ended (rejected, or cancelled as ``referred_elsewhere``), so a late answer to it
is refused with a reason that says so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    AgeGroup,
    CancellationReason,
    CommandRefusalReason,
    Dimension,
    FailureReason,
    HoldReason,
    Level,
    MatchReason,
    NeedOutcome,
    OverdueStage,
    Priority,
    ReferralStatus,
    RejectionReason,
    ServiceCategory,
    Sex,
    UnmatchedReason,
    Vulnerability,
)
from reintegra_contracts.events.partner import (
    PartnerReferralCancelled,
    PartnerReferralOverdue,
    PartnerReferralRequested,
)
from reintegra_contracts.events.referral import (
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralEscalated,
    ReferralFailed,
    ReferralHeld,
    ReferralOverdue,
    ReferralReceived,
    ReferralRejected,
    ReferralRequested,
    ReferralUnmatched,
    ServiceDelivered,
    ServiceStarted,
)
from reintegra_kit.domain import (
    AggregateRoot,
    ConflictError,
    DomainError,
    ForbiddenError,
    IllegalTransitionError,
    Lifecycle,
    NotFoundError,
)

from .consent import CaseConsent
from .directory import AgencyFacts, ServiceFacts
from .matching import Candidate, Match, Profile
from .rules import age_group, answer_by
from .sharing import SharingDecision, SharingPolicy

S = ReferralStatus

LIFECYCLE: Lifecycle[ReferralStatus] = Lifecycle(
    "referral",
    {
        S.AWAITING_CONSENT: {S.REQUESTED, S.CANCELLED},
        S.UNMATCHED: {S.REQUESTED, S.CANCELLED},
        S.REQUESTED: {S.RECEIVED, S.ACCEPTED, S.REJECTED, S.CANCELLED},
        S.RECEIVED: {S.ACCEPTED, S.REJECTED, S.CANCELLED},
        S.ACCEPTED: {S.IN_PROGRESS, S.FAILED, S.CANCELLED},
        S.IN_PROGRESS: {S.SERVICE_DELIVERED, S.FAILED, S.CANCELLED},
        S.SERVICE_DELIVERED: {S.SERVICE_DELIVERED, S.COMPLETED, S.FAILED, S.CANCELLED},
    },
)
"""The allowed transitions; a status that is not a key is final."""

SHARED = frozenset({S.REQUESTED, S.RECEIVED, S.ACCEPTED, S.IN_PROGRESS, S.SERVICE_DELIVERED})
"""Statuses in which the agency holds the referral (a cancellation must reach it)."""

AWAITING_ANSWER = frozenset({S.REQUESTED, S.RECEIVED})
"""Statuses in which the agency has not answered yet (its answer-by time runs)."""

ANSWER_TIMER = "referral.answer_by"
REROUTE_TIMER = "referral.reroute"


class Actor(StrEnum):
    """Who made a change (kept in the history; never a person's name)."""

    AGENCY = "agency"
    CASE_WORKER = "case_worker"
    COORDINATOR = "coordinator"
    SYSTEM = "system"


class Channel(StrEnum):
    """Through what a change arrived."""

    KAFKA = "kafka"
    HTTP = "http"
    TIMER = "timer"
    EVENT = "event"


class NotSentToAgencyError(ForbiddenError):
    """An agency sent a command about a referral that was not sent to it."""

    code = "not-sent-to-agency"


class AgencyMismatchError(ForbiddenError):
    """The agency named in a command differs from the agency whose channel carried it."""

    code = "agency-mismatch"


class ReferredElsewhereError(ConflictError):
    """A late answer to a referral that was re-routed to another agency."""

    code = "referred-elsewhere"


class UnknownReferralError(NotFoundError):
    """A command names a referral that does not exist."""

    code = "unknown-referral"


def refusal_reason(error: DomainError) -> CommandRefusalReason:
    """The code an agency is told for a refused command."""
    if isinstance(error, UnknownReferralError):
        return CommandRefusalReason.UNKNOWN_REFERRAL
    if isinstance(error, NotSentToAgencyError):
        return CommandRefusalReason.NOT_SENT_TO_AGENCY
    if isinstance(error, AgencyMismatchError):
        return CommandRefusalReason.AGENCY_MISMATCH
    if isinstance(error, ReferredElsewhereError):
        return CommandRefusalReason.REFERRED_ELSEWHERE
    if isinstance(error, IllegalTransitionError):
        return CommandRefusalReason.ILLEGAL_TRANSITION
    return CommandRefusalReason.INVALID_COMMAND


@dataclass(frozen=True)
class NeedToRefer:
    """A need found by an assessment, with what matching may know of the person."""

    case_id: UUID
    assessment_id: UUID
    need_id: UUID
    category: ServiceCategory
    dimension: Dimension
    level: Level
    priority: Priority
    profile: Profile


@dataclass(frozen=True)
class HistoryEntry:
    """One row of a referral's history."""

    at: datetime
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    action: str
    actor: Actor
    channel: Channel
    detail: str = ""


@dataclass(frozen=True)
class Routing:
    """What routing chose for a need: the match and, if any, the chosen service and its agency."""

    match: Match
    agency: AgencyFacts | None = None
    service: ServiceFacts | None = None
    escalate_to: str | None = None


@dataclass(eq=False)
class Referral(AggregateRoot):
    """One need sent (or waiting to be sent) to one agency."""

    referral_id: UUID
    case_id: UUID
    assessment_id: UUID
    need_id: UUID
    category: ServiceCategory
    dimension: Dimension
    level: Level
    priority: Priority
    status: ReferralStatus
    service_id: str | None
    agency_id: str | None
    requested_at: datetime
    respond_by: datetime | None
    municipality: str
    age_group: AgeGroup
    sex: Sex
    language: str
    vulnerabilities: tuple[Vulnerability, ...] = ()
    attempt: int = 1
    previous_referral_id: UUID | None = None
    candidates: tuple[Candidate, ...] = ()
    match_reasons: tuple[MatchReason, ...] = ()
    unmatched_reason: UnmatchedReason | None = None
    contact_reference: str | None = None
    contact_reference_expires_at: datetime | None = None
    consent_id: UUID | None = None
    updated_at: datetime | None = None
    overdue_at: datetime | None = None
    reroute_at: datetime | None = None
    cancel_reason: CancellationReason | None = None
    reject_reason: RejectionReason | None = None
    fail_reason: FailureReason | None = None
    outcome: NeedOutcome | None = None
    deliveries: tuple[UUID, ...] = ()
    version: int = 0
    _history: list[HistoryEntry] = field(default_factory=list, repr=False)
    _history_erased: bool = field(default=False, repr=False)

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def route(
        cls,
        need: NeedToRefer,
        routing: Routing,
        sharing: SharingPolicy,
        now: datetime,
        *,
        attempt: int = 1,
        previous: Referral | None = None,
        unmatched_reason: UnmatchedReason | None = None,
        channel: Channel = Channel.EVENT,
        actor: Actor = Actor.SYSTEM,
        consent: CaseConsent | None = None,
    ) -> Referral:
        """Refer ``need`` to the service routing chose — shared with its agency at once if the sharing
        policy allows under the case's ``consent``, else held awaiting consent — or put it in the
        unmatched queue."""
        profile = need.profile
        chosen = routing.match.chosen
        service, agency = routing.service, routing.agency
        referral = cls(
            referral_id=uuid4(),
            case_id=need.case_id,
            assessment_id=need.assessment_id,
            need_id=need.need_id,
            category=need.category,
            dimension=need.dimension,
            level=need.level,
            priority=need.priority,
            status=S.UNMATCHED,
            service_id=None,
            agency_id=None,
            requested_at=now,
            respond_by=None,
            municipality=profile.municipality,
            age_group=age_group(profile.age),
            sex=profile.sex,
            language=profile.language,
            vulnerabilities=tuple(sorted(profile.vulnerabilities)),
            attempt=attempt,
            previous_referral_id=previous.referral_id if previous else None,
            candidates=routing.match.considered,
            match_reasons=routing.match.chosen_reasons,
            updated_at=now,
        )
        if chosen is None or service is None or agency is None:
            reason = (
                unmatched_reason or routing.match.unmatched_reason or UnmatchedReason.NO_SERVICE_FOR_CATEGORY
            )
            referral.unmatched_reason = reason
            referral._history.append(
                HistoryEntry(now, None, S.UNMATCHED, "unmatched", actor, channel, reason.value)
            )
            referral.record(
                ReferralUnmatched(
                    case_id=referral.case_id,
                    referral_id=referral.referral_id,
                    assessment_id=referral.assessment_id,
                    need_id=referral.need_id,
                    category=referral.category,
                    priority=referral.priority,
                    reason=reason,
                    candidates_considered=len(routing.match.considered),
                    attempt=attempt,
                    previous_referral_id=referral.previous_referral_id,
                    unmatched_at=now,
                )
            )
            return referral
        referral._assign(agency, service, sharing, consent, now, actor, channel, from_status=None)
        return referral

    def assign(
        self,
        routing: Routing,
        sharing: SharingPolicy,
        now: datetime,
        *,
        reason: str = "",
        consent: CaseConsent | None = None,
    ) -> None:
        """The coordinating office sends an unmatched need to a service it chose."""
        if self.status is not S.UNMATCHED:
            raise IllegalTransitionError("referral", self.status, "be assigned to a service")
        assert routing.agency is not None
        assert routing.service is not None
        self.candidates = routing.match.considered
        self.match_reasons = (MatchReason.MANUAL_ASSIGNMENT,)
        self.unmatched_reason = None
        self._assign(
            routing.agency,
            routing.service,
            sharing,
            consent,
            now,
            Actor.COORDINATOR,
            Channel.HTTP,
            from_status=S.UNMATCHED,
            detail=reason,
        )

    def _assign(
        self,
        agency: AgencyFacts,
        service: ServiceFacts,
        sharing: SharingPolicy,
        consent: CaseConsent | None,
        now: datetime,
        actor: Actor,
        channel: Channel,
        *,
        from_status: ReferralStatus | None,
        detail: str = "",
    ) -> None:
        self.service_id, self.agency_id = service.service_id, agency.agency_id
        self.level = service.level or self.level
        self.requested_at = now
        decision = sharing.decide(self.case_id, agency.agency_id, self.category, consent, now)
        if not decision.allowed:
            self._move(
                S.AWAITING_CONSENT, now, "hold", actor, channel, decision.basis, from_status=from_status
            )
            self.record(
                ReferralHeld(
                    case_id=self.case_id,
                    referral_id=self.referral_id,
                    need_id=self.need_id,
                    agency_id=agency.agency_id,
                    service_id=service.service_id,
                    category=self.category,
                    held_at=now,
                    reason=HoldReason.AWAITING_CONSENT,
                )
            )
            return
        self._request(agency, service, decision, now, actor, channel, from_status=from_status, detail=detail)

    def release(
        self,
        agency: AgencyFacts,
        service: ServiceFacts,
        sharing: SharingPolicy,
        consent: CaseConsent | None,
        now: datetime,
    ) -> bool:
        """A consent was recorded: the held referral goes to the agency if the sharing policy now allows
        it (False, and nothing changes, if it still does not)."""
        LIFECYCLE.check(self.status, S.REQUESTED, "be shared")
        assert self.agency_id == agency.agency_id
        decision = sharing.decide(self.case_id, agency.agency_id, self.category, consent, now)
        if not decision.allowed:
            return False
        self._request(agency, service, decision, now, Actor.SYSTEM, Channel.EVENT, from_status=self.status)
        return True

    def recheck_consent(self, sharing: SharingPolicy, consent: CaseConsent | None, now: datetime) -> bool:
        """A consent was withdrawn: a referral its agency holds that the policy no longer allows is
        cancelled (``consent_withdrawn``; the agency is told and its contact reference revoked). Return
        whether it was. A held referral keeps waiting; one that is over stays as it ended."""
        if self.status not in SHARED or self.agency_id is None:
            return False
        if sharing.decide(self.case_id, self.agency_id, self.category, consent, now).allowed:
            return False
        self.cancel(CancellationReason.CONSENT_WITHDRAWN, now, Actor.SYSTEM, Channel.EVENT)
        return True

    def _request(
        self,
        agency: AgencyFacts,
        service: ServiceFacts,
        decision: SharingDecision,
        now: datetime,
        actor: Actor,
        channel: Channel,
        *,
        from_status: ReferralStatus | None,
        detail: str = "",
    ) -> None:
        self.requested_at = now
        self.respond_by = answer_by(now, agency, service, self.priority)
        self.contact_reference = "cref-" + secrets.token_urlsafe(16)  # 128 random bits, opaque
        self.contact_reference_expires_at = decision.contact_reference_expires_at
        self.consent_id = decision.consent_id
        self._move(
            S.REQUESTED,
            now,
            "request",
            actor,
            channel,
            "; ".join(d for d in (detail or f"to {service.service_id}", decision.basis) if d)[:500],
            from_status=from_status,
        )
        eligible = sum(1 for c in self.candidates if c.eligible)
        self.record(
            ReferralRequested(
                case_id=self.case_id,
                referral_id=self.referral_id,
                assessment_id=self.assessment_id,
                need_id=self.need_id,
                category=self.category,
                dimension=self.dimension,
                level=service.level or self.level,
                priority=self.priority,
                service_id=service.service_id,
                agency_id=agency.agency_id,
                requested_at=now,
                respond_by=self.respond_by,
                attempt=self.attempt,
                previous_referral_id=self.previous_referral_id,
                candidates_considered=len(self.candidates) or eligible,
                match_reasons=list(self.match_reasons),
                consent_id=self.consent_id,
                contact_reference=self.contact_reference,
                contact_reference_expires_at=self.contact_reference_expires_at,
            )
        )
        relevant = [v for v in self.vulnerabilities if v in set(service.groups)]
        self.record(
            PartnerReferralRequested(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=agency.agency_id,
                service_id=service.service_id,
                category=self.category,
                dimension=self.dimension,
                level=service.level or self.level,
                priority=self.priority,
                requested_at=now,
                respond_by=self.respond_by,
                age_group=self.age_group,
                sex=self.sex,
                destination_municipality=self.municipality,
                preferred_language=self.language,
                vulnerabilities=relevant,
                contact_reference_available=decision.contact_reference_allowed,
                need_id=self.need_id,
                contact_reference=self.contact_reference,
                contact_reference_expires_at=self.contact_reference_expires_at,
                attempt=self.attempt,
            )
        )

    # -- the agency's answers --------------------------------------------------------------------

    def check_sent_to(self, agency_id: str) -> None:
        """Refuse a command from an agency this referral was not sent to."""
        if self.agency_id != agency_id:
            raise NotSentToAgencyError(f"referral {self.referral_id} was not sent to agency {agency_id}")

    def _answerable(self, agency_id: str, target: ReferralStatus, attempted: str) -> ReferralStatus:
        self.check_sent_to(agency_id)
        if self.status is S.CANCELLED and self.cancel_reason is CancellationReason.REFERRED_ELSEWHERE:
            raise ReferredElsewhereError(
                f"referral {self.referral_id} was re-routed to another agency at "
                f"{(self.updated_at or self.requested_at).isoformat()} because it was not answered by "
                f"{self.respond_by.isoformat() if self.respond_by else 'its answer-by time'}; "
                f"it cannot {attempted} any more",
                current=self.status.value,
            )
        return LIFECYCLE.check(self.status, target, attempted)

    def receive(self, agency_id: str, at: datetime, channel: Channel) -> None:
        self._answerable(agency_id, S.RECEIVED, "be received")
        self._move(S.RECEIVED, at, "receive", Actor.AGENCY, channel)
        self.record(
            ReferralReceived(
                case_id=self.case_id, referral_id=self.referral_id, agency_id=agency_id, received_at=at
            )
        )

    def accept(
        self,
        agency_id: str,
        at: datetime,
        channel: Channel,
        *,
        deliver_by: datetime | None = None,
        contact_point: str | None = None,
    ) -> None:
        self._answerable(agency_id, S.ACCEPTED, "accept")
        self._move(S.ACCEPTED, at, "accept", Actor.AGENCY, channel)
        self.record(
            ReferralAccepted(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=agency_id,
                accepted_at=at,
                deliver_by=deliver_by,
                contact_point=contact_point,
            )
        )

    def reject(self, agency_id: str, at: datetime, channel: Channel, reason: RejectionReason) -> None:
        self._answerable(agency_id, S.REJECTED, "reject")
        self.reject_reason = reason
        self._move(S.REJECTED, at, "reject", Actor.AGENCY, channel, reason.value)
        self.record(
            ReferralRejected(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=agency_id,
                rejected_at=at,
                reason=reason,
            )
        )

    def start(self, agency_id: str, at: datetime, channel: Channel) -> None:
        self._answerable(agency_id, S.IN_PROGRESS, "start the service")
        self._move(S.IN_PROGRESS, at, "start", Actor.AGENCY, channel)
        self.record(
            ServiceStarted(
                case_id=self.case_id, referral_id=self.referral_id, agency_id=agency_id, started_at=at
            )
        )

    def deliver(
        self,
        agency_id: str,
        at: datetime,
        channel: Channel,
        *,
        delivery_id: UUID,
        service_id: str,
        final: bool = False,
    ) -> bool:
        """Record a delivery; False when this delivery was already recorded (idempotent by its id)."""
        self.check_sent_to(agency_id)
        if delivery_id in self.deliveries:
            return False
        self._answerable(agency_id, S.SERVICE_DELIVERED, "record a service delivery")
        self.deliveries = (*self.deliveries, delivery_id)
        self._move(S.SERVICE_DELIVERED, at, "deliver", Actor.AGENCY, channel, f"delivery {delivery_id}")
        self.record(
            ServiceDelivered(
                case_id=self.case_id,
                referral_id=self.referral_id,
                delivery_id=delivery_id,
                agency_id=agency_id,
                service_id=service_id,
                category=self.category,
                delivered_at=at,
                final=final,
            )
        )
        return True

    def complete(self, agency_id: str, at: datetime, channel: Channel, outcome: NeedOutcome) -> None:
        self._answerable(agency_id, S.COMPLETED, "be completed")
        self.outcome = outcome
        self._move(S.COMPLETED, at, "complete", Actor.AGENCY, channel, outcome.value)
        self.record(
            ReferralCompleted(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=agency_id,
                need_id=self.need_id,
                completed_at=at,
                outcome=outcome,
                deliveries=len(self.deliveries),
            )
        )

    def fail(self, agency_id: str, at: datetime, channel: Channel, reason: FailureReason) -> None:
        self._answerable(agency_id, S.FAILED, "fail")
        self.fail_reason = reason
        self._move(S.FAILED, at, "fail", Actor.AGENCY, channel, reason.value)
        self.record(
            ReferralFailed(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=agency_id,
                need_id=self.need_id,
                failed_at=at,
                reason=reason,
            )
        )

    # -- the referring side ----------------------------------------------------------------------

    def cancel(self, reason: CancellationReason, at: datetime, actor: Actor, channel: Channel) -> None:
        """Cancel (a case worker, a consent withdrawal, or re-routing); the agency is told if it holds it."""
        was = self.status
        LIFECYCLE.check(was, S.CANCELLED, "be cancelled")
        self.cancel_reason = reason
        self._move(S.CANCELLED, at, "cancel", actor, channel, reason.value)
        self.record(
            ReferralCancelled(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=self.agency_id,
                cancelled_at=at,
                reason=reason,
            )
        )
        if was in SHARED and self.agency_id is not None:
            self.record(
                PartnerReferralCancelled(
                    case_id=self.case_id,
                    referral_id=self.referral_id,
                    agency_id=self.agency_id,
                    cancelled_at=at,
                    reason=reason,
                )
            )

    def erase(self, now: datetime) -> bool:
        """The person was erased at reception (``returnee_erased``): a referral still open — waiting
        for a match or for consent, or held by its agency — is cancelled as ``returnee_erased`` (the
        agency is told if it holds it, and drops what it holds); every referral's contact reference is
        revoked, and the words of its history (a coordinator's note) are erased when it is saved.
        Codes, ids and dates stay for anonymous statistics. Return whether the caller must stop its
        clocks (it was open)."""
        was_open = self.status in SHARED or self.status in (S.UNMATCHED, S.AWAITING_CONSENT)
        if was_open:
            self.cancel(CancellationReason.RETURNEE_ERASED, now, Actor.SYSTEM, Channel.EVENT)
        self.contact_reference = self.contact_reference_expires_at = None
        self._history_erased = True
        return was_open

    def pull_history_erased(self) -> bool:
        """Whether the history's words must be erased (called by the repository when it saves)."""
        erased, self._history_erased = self._history_erased, False
        return erased

    def overdue(self, now: datetime, *, escalate_to: str | None, reroute_at: datetime | None) -> bool:
        """The answer-by time passed without an answer: tell the agency, escalate to the coordinating
        office. False (and nothing recorded) when the agency answered meanwhile or it already happened."""
        if self.status not in AWAITING_ANSWER or self.overdue_at is not None or self.agency_id is None:
            return False
        assert self.respond_by is not None
        self.overdue_at, self.reroute_at, self.updated_at = now, reroute_at, now
        self._history.append(
            HistoryEntry(
                now,
                self.status,
                self.status,
                "overdue",
                Actor.SYSTEM,
                Channel.TIMER,
                f"escalated to {escalate_to or 'nobody'}",
            )
        )
        self.record(
            ReferralOverdue(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=self.agency_id,
                stage=OverdueStage.RESPONSE,
                due_at=self.respond_by,
                detected_at=now,
                escalation_level=3 if escalate_to else 1,
                escalated_to=escalate_to,
            )
        )
        self.record(
            PartnerReferralOverdue(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=self.agency_id,
                due_at=self.respond_by,
                reroute_at=reroute_at,
            )
        )
        self.record(
            ReferralEscalated(
                case_id=self.case_id,
                referral_id=self.referral_id,
                agency_id=self.agency_id,
                escalated_to=escalate_to,
                stage=OverdueStage.RESPONSE,
                escalated_at=now,
                reroute_at=reroute_at,
            )
        )
        return True

    @property
    def awaiting_answer(self) -> bool:
        return self.status in AWAITING_ANSWER

    @property
    def needs_rerouting(self) -> bool:
        """Whether the need must go to another agency (it was rejected, or cancelled as overdue)."""
        return self.status is S.REJECTED or (
            self.status is S.CANCELLED and self.cancel_reason is CancellationReason.REFERRED_ELSEWHERE
        )

    # -- history ---------------------------------------------------------------------------------

    def _move(
        self,
        target: ReferralStatus,
        at: datetime,
        action: str,
        actor: Actor,
        channel: Channel,
        detail: str = "",
        *,
        from_status: ReferralStatus | str | None = "current",
    ) -> None:
        """Move to ``target`` (the caller checked the lifecycle) and remember it in the history."""
        before = self.status if from_status == "current" else from_status
        self.status = target
        self.updated_at = at
        self._history.append(
            HistoryEntry(
                at,
                before if isinstance(before, ReferralStatus) else None,
                target,
                action,
                actor,
                channel,
                detail,
            )
        )

    def pull_history(self) -> list[HistoryEntry]:
        """The history entries of the changes made since the last save (called by the repository)."""
        entries, self._history = self._history, []
        return entries
