"""The assessment aggregate: scheduled on arrival (triage decides how soon), completed once."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from reintegra_contracts.codelists import (
    SERVICE_CATEGORY_DIMENSION,
    Priority,
    Urgency,
    Vulnerability,
    disclosed,
)
from reintegra_contracts.events.assessment import (
    AssessmentCompleted,
    AssessmentScheduled,
    DimensionScores,
    Need,
)
from reintegra_contracts.events.reception import ArrivalRegistered
from reintegra_kit.domain import AggregateRoot, Lifecycle

from .commands import CompleteAssessment
from .rules import escalated, overall_priority, scheduled_for, triage


class AssessmentStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    MERGED = "merged"
    """The case was a duplicate registration, merged into another case that has its own assessment."""
    ERASED = "erased"
    """The person was erased at reception before they were assessed: it will not happen."""


LIFECYCLE: Lifecycle[AssessmentStatus] = Lifecycle(
    "assessment",
    {
        AssessmentStatus.SCHEDULED: {
            AssessmentStatus.COMPLETED,
            AssessmentStatus.MERGED,
            AssessmentStatus.ERASED,
        }
    },
)


@dataclass(eq=False)
class Assessment(AggregateRoot):
    """One case's needs and vulnerability assessment."""

    assessment_id: UUID
    case_id: UUID
    status: AssessmentStatus
    priority: Priority
    scheduled_for: datetime
    arrived_at: datetime
    age: int | None
    """Exact age at arrival; None once the person was erased (the age band is enough for statistics)."""
    destination_municipality: str
    vulnerabilities: list[Vulnerability]
    created_at: datetime
    completed_at: datetime | None = None
    instrument: str | None = None
    instrument_version: str | None = None
    scores: DimensionScores | None = None
    needs: list[Need] = field(default_factory=list)
    reception_centre: str | None = None
    """The reception centre of the case (from ``arrival_registered``): whose record it is."""
    country: str | None = None
    """The country the person returned to (``country_of_return``)."""
    version: int = 0

    @classmethod
    def schedule(cls, arrival: ArrivalRegistered, now: datetime) -> Assessment:
        """A new assessment for an arrival: children alone, trafficking, GBV and displacement first —
        as reception's ``protection_priority`` says (ADR 0080: the special-category flags behind it
        stay at reception); from a producer before 1.3, by the flags the arrival carried."""
        flags = disclosed(arrival.vulnerabilities)  # an older producer's special flags are not kept
        priority = arrival.protection_priority or triage(
            [Vulnerability(v) for v in arrival.vulnerabilities], len(arrival.immediate_needs)
        )
        assessment = cls(
            assessment_id=uuid4(),
            case_id=arrival.case_id,
            status=AssessmentStatus.SCHEDULED,
            priority=priority,
            scheduled_for=scheduled_for(arrival.arrived_at, priority),
            arrived_at=arrival.arrived_at,
            age=arrival.age,
            destination_municipality=arrival.destination_municipality,
            vulnerabilities=flags,
            created_at=now,
            reception_centre=arrival.reception_centre,
            country=arrival.country_of_return,
        )
        assessment.record(
            AssessmentScheduled(
                case_id=assessment.case_id,
                assessment_id=assessment.assessment_id,
                scheduled_for=assessment.scheduled_for,
                priority=priority,
            )
        )
        return assessment

    def complete(self, cmd: CompleteAssessment, now: datetime) -> None:
        """Record the result; the case's priority becomes the most urgent of its triage and its needs."""
        self.status = LIFECYCLE.check(self.status, AssessmentStatus.COMPLETED, "be completed again")
        self.needs = [
            Need(
                need_id=uuid4(),
                category=n.category,
                dimension=SERVICE_CATEGORY_DIMENSION[n.category],
                level=n.level,
                priority=n.priority,
            )
            for n in cmd.needs
        ]
        self.priority = overall_priority(self.priority, [n.priority for n in self.needs])
        self.completed_at = now
        self.instrument = cmd.instrument
        self.instrument_version = cmd.instrument_version
        self.scores = cmd.scores
        self.record(
            AssessmentCompleted(
                case_id=self.case_id,
                assessment_id=self.assessment_id,
                completed_at=now,
                instrument=cmd.instrument,
                instrument_version=cmd.instrument_version,
                scores=cmd.scores,
                priority=self.priority,
                destination_municipality=self.destination_municipality,
                needs=self.needs,
            )
        )

    def escalate(self, urgency: Urgency, now: datetime) -> bool:
        """A protection concern raised at reception: a critical one (``immediate``) makes the case
        urgent and due now, ahead of every other in the queue (``assessment_scheduled`` again, with
        the new priority and time). Return whether anything changed."""
        if self.status is not AssessmentStatus.SCHEDULED:
            return False
        priority, due = escalated(self.priority, self.scheduled_for, urgency, now)
        if (priority, due) == (self.priority, self.scheduled_for):
            return False
        self.priority, self.scheduled_for = priority, due
        self.record(
            AssessmentScheduled(
                case_id=self.case_id,
                assessment_id=self.assessment_id,
                scheduled_for=due,
                priority=priority,
            )
        )
        return True

    def close_as_duplicate(self) -> None:
        """The case was merged into another (a duplicate registration): this assessment will not happen."""
        self.status = LIFECYCLE.check(self.status, AssessmentStatus.MERGED, "be closed as a duplicate")

    def erase(self) -> bool:
        """The person was erased at reception: an assessment still to come will not happen
        (``erased``); the exact age, the one detail of the person an assessment holds beside codes, is
        dropped. Needs, scores, priority, municipality, flags and dates stay for anonymous statistics
        (an assessment holds no free text). Return whether anything changed."""
        changed = self.age is not None
        if self.status is AssessmentStatus.SCHEDULED:
            self.status = LIFECYCLE.check(self.status, AssessmentStatus.ERASED, "be erased")
            changed = True
        self.age = None
        return changed
