"""Follow-up's HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from .repository import Followup, FollowupUnitOfWork


class FollowupOut(BaseModel):
    """A follow-up as the API shows it (without its internal trace context)."""

    followup_id: UUID
    case_id: UUID
    reason: str
    referral_id: UUID | None
    due_at: datetime
    status: str
    scheduled_at: datetime
    fired_at: datetime | None

    @classmethod
    def of(cls, f: Followup) -> FollowupOut:
        return cls(**f.__dict__)


def router(uow_factory: Callable[[], FollowupUnitOfWork]) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["followup"])

    @api.get("/followups", response_model=list[FollowupOut], summary="Follow-ups, by case or status")
    async def list_followups(
        case_id: UUID | None = None,
        status_: Annotated[Literal["scheduled", "due"] | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[FollowupOut]:
        async with uow_factory() as uow:
            if case_id is not None:
                return [FollowupOut.of(f) for f in await uow.followups.for_case(case_id)]
            return [FollowupOut.of(f) for f in await uow.followups.page(status_, limit, offset)]

    return api
