"""The referral aggregate: one per need; requested from the best service of the directory, or kept as
unmatched when the directory has none (the lifecycle grows with the partner channel)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from reintegra_contracts.codelists import Dimension, Level, Priority, ServiceCategory
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_kit.domain import AggregateRoot

from .directory import DirectoryService, respond_by


class ReferralStatus(enum.StrEnum):
    REQUESTED = "requested"
    UNMATCHED = "unmatched"


@dataclass(eq=False)
class Referral(AggregateRoot):
    """A need referred (or waiting to be referred) to a service."""

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
    version: int = 0

    @classmethod
    def for_need(
        cls, assessed: AssessmentCompleted, need: Need, service: DirectoryService | None, now: datetime
    ) -> Referral:
        """Refer ``need`` to ``service`` (publishing ``referral_requested``), or keep it unmatched."""
        referral = cls(
            referral_id=uuid4(),
            case_id=assessed.case_id,
            assessment_id=assessed.assessment_id,
            need_id=need.need_id,
            category=need.category,
            dimension=need.dimension,
            level=need.level,
            priority=need.priority,
            status=ReferralStatus.REQUESTED if service else ReferralStatus.UNMATCHED,
            service_id=service.service_id if service else None,
            agency_id=service.agency_id if service else None,
            requested_at=now,
            respond_by=respond_by(now, service, need.priority) if service else None,
        )
        if service is not None and referral.respond_by is not None:
            referral.record(
                ReferralRequested(
                    case_id=referral.case_id,
                    referral_id=referral.referral_id,
                    assessment_id=referral.assessment_id,
                    need_id=referral.need_id,
                    category=referral.category,
                    dimension=referral.dimension,
                    level=Level(service.level),
                    priority=referral.priority,
                    service_id=service.service_id,
                    agency_id=service.agency_id,
                    requested_at=now,
                    respond_by=referral.respond_by,
                )
            )
        return referral
