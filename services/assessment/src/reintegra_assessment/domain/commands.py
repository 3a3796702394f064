"""Commands the assessment service accepts (imperative names)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from reintegra_contracts.codelists import Level, Priority, ServiceCategory
from reintegra_contracts.events.assessment import DimensionScores


@dataclass(frozen=True)
class NeedFound:
    """A need the case worker found, to be referred."""

    category: ServiceCategory
    priority: Priority = Priority.MEDIUM
    level: Level = Level.INDIVIDUAL


@dataclass(frozen=True)
class CompleteAssessment:
    """Record the result of an assessment: the needs found and, optionally, the scores."""

    assessment_id: UUID
    instrument: str
    instrument_version: str
    needs: tuple[NeedFound, ...]
    scores: DimensionScores | None = None
