"""Follow-up's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from reintegra_contracts.codelists import FollowupCancellationReason
from reintegra_contracts.events.followup import FollowupReason
from reintegra_kit.auth import CurrentAccess
from reintegra_kit.runtime.http import Limit, Offset

from .domain import FollowupStatus
from .repository import FollowupUnitOfWork


class FollowupOut(BaseModel):
    """A follow-up as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    followup_id: UUID
    case_id: UUID
    reason: FollowupReason
    referral_id: UUID | None
    due_at: datetime
    status: FollowupStatus
    scheduled_at: datetime
    fired_at: datetime | None
    cancellation_reason: FollowupCancellationReason | None = None
    cancelled_at: datetime | None = None


def router(uow: Callable[[], FollowupUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["followup"])

    @api.get("/followups", response_model=list[FollowupOut], summary="Follow-ups, by case or status")
    async def list_followups(
        access: CurrentAccess,
        case_id: UUID | None = None,
        status: FollowupStatus | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[FollowupOut]:
        async with uow() as u:
            if case_id is not None:
                return [
                    FollowupOut.model_validate(f) for f in await u.followups.for_case(case_id, access.filter)
                ]
            return [
                FollowupOut.model_validate(f)
                for f in await u.followups.page(status, limit, offset, access.filter)
            ]

    return api
