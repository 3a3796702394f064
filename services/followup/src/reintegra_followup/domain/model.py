"""The follow-up aggregate: a contact with the person, scheduled for a date, which falls due once.

Its durable timer (kind :data:`DUE_TIMER`, keyed by the follow-up id) lives in the kit's timers table;
when it fires, :meth:`Followup.fall_due` emits ``followup_due``. A follow-up asked for a case this
service has not heard of yet (no ``arrival_registered``) waits for the case, without a timer and
without telling anyone, until reception's arrival makes the case known (docs/adr/0060-events-about-unknown-cases.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from reintegra_contracts.codelists import FollowupCancellationReason
from reintegra_contracts.events.followup import (
    FollowupCancelled,
    FollowupDue,
    FollowupReason,
    FollowupScheduled,
)
from reintegra_kit.domain import AggregateRoot, Lifecycle

DUE_TIMER = "followup.due"


class FollowupStatus(enum.StrEnum):
    WAITING_FOR_CASE = "waiting_for_case"
    SCHEDULED = "scheduled"
    DUE = "due"
    CANCELLED = "cancelled"
    """It will not fall due: the person withdrew consent to be contacted, was erased at reception, or
    its case was a duplicate registration merged into another case (which has its own);
    ``cancellation_reason`` says which."""


LIFECYCLE: Lifecycle[FollowupStatus] = Lifecycle(
    "follow-up",
    {
        FollowupStatus.WAITING_FOR_CASE: {FollowupStatus.SCHEDULED, FollowupStatus.CANCELLED},
        FollowupStatus.SCHEDULED: {FollowupStatus.DUE, FollowupStatus.CANCELLED},
    },
)


def business_key(reason: FollowupReason, case_id: UUID, referral_id: UUID | None) -> str:
    """What makes a follow-up unique: one post-arrival contact per case, one check per referral."""
    if reason is FollowupReason.REFERRAL_CHECK and referral_id is not None:
        return f"{reason.value}:{referral_id}"
    return f"{reason.value}:{case_id}"


@dataclass(eq=False)
class Followup(AggregateRoot):
    followup_id: UUID
    case_id: UUID
    reason: FollowupReason
    referral_id: UUID | None
    due_at: datetime
    status: FollowupStatus
    scheduled_at: datetime
    fired_at: datetime | None = None
    cancellation_reason: FollowupCancellationReason | None = None
    cancelled_at: datetime | None = None
    version: int = 0

    @property
    def business_key(self) -> str:
        return business_key(self.reason, self.case_id, self.referral_id)

    @classmethod
    def schedule(
        cls,
        case_id: UUID,
        reason: FollowupReason,
        due_at: datetime,
        now: datetime,
        referral_id: UUID | None = None,
        *,
        case_known: bool = True,
    ) -> Followup:
        """A new follow-up, scheduled (``followup_scheduled``) — or, while the case is not known here,
        waiting for it."""
        followup = cls(
            followup_id=uuid4(),
            case_id=case_id,
            reason=reason,
            referral_id=referral_id,
            due_at=due_at,
            status=FollowupStatus.WAITING_FOR_CASE,
            scheduled_at=now,
        )
        if case_known:
            followup.start()
        return followup

    def start(self) -> None:
        """The case is known: the follow-up is scheduled for its date."""
        self.status = LIFECYCLE.check(self.status, FollowupStatus.SCHEDULED, "be scheduled again")
        self.record(
            FollowupScheduled(
                case_id=self.case_id,
                followup_id=self.followup_id,
                reason=self.reason,
                due_at=self.due_at,
                referral_id=self.referral_id,
            )
        )

    def fall_due(self, now: datetime) -> None:
        self.status = LIFECYCLE.check(self.status, FollowupStatus.DUE, "fall due again")
        self.fired_at = now
        self.record(
            FollowupDue(
                case_id=self.case_id,
                followup_id=self.followup_id,
                reason=self.reason,
                due_at=self.due_at,
                referral_id=self.referral_id,
            )
        )

    def cancel(self, reason: FollowupCancellationReason, now: datetime) -> bool:
        """Stop a scheduled contact (``followup_cancelled``, with why); False if it is no longer
        scheduled or waiting for its case (it fell due, or was cancelled before)."""
        if self.status not in (FollowupStatus.SCHEDULED, FollowupStatus.WAITING_FOR_CASE):
            return False
        self.status = LIFECYCLE.check(self.status, FollowupStatus.CANCELLED, "be cancelled")
        self.cancellation_reason, self.cancelled_at = reason, now
        self.record(
            FollowupCancelled(
                case_id=self.case_id,
                followup_id=self.followup_id,
                reason=self.reason,
                due_at=self.due_at,
                cancelled_at=now,
                cancellation_reason=reason,
                referral_id=self.referral_id,
            )
        )
        return True

    def erase(self, now: datetime) -> bool:
        """The person was erased at reception: a contact still to come is cancelled (reason
        ``returnee_erased``; nobody contacts them). Return whether it was — and so whether its timer
        must be cancelled. A follow-up holds no free text; what stays is its codes and dates."""
        return self.cancel(FollowupCancellationReason.RETURNEE_ERASED, now)

    def move_to(self, case_id: UUID, now: datetime) -> bool:
        """The case was merged into ``case_id`` (a duplicate registration): a post-arrival contact is
        cancelled (the surviving case has its own); a referral check follows its referral to the
        surviving case. Return whether the timer must be cancelled."""
        if self.reason is FollowupReason.POST_ARRIVAL:
            return self.cancel(FollowupCancellationReason.CASE_MERGED, now)
        self.case_id = case_id
        return False
