"""That a case was erased at reception (``returnee_erased``). Pure.

Reception destroyed the person's data key; assessment keeps that the case was erased, so that a
re-sent arrival about it schedules no new assessment (which would hold the person's age again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from reintegra_contracts.codelists import ErasureReason
from reintegra_contracts.events.reception import ReturneeErased


@dataclass(frozen=True)
class ErasedCase:
    """A case whose person was erased: ids, the reason code and when — nothing else."""

    case_id: UUID
    returnee_id: UUID
    reason: ErasureReason
    erased_at: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, event: ReturneeErased, now: datetime) -> ErasedCase:
        return cls(event.case_id, event.returnee_id, event.reason, event.erased_at, now)
