"""Immediate needs and protection concerns recorded at reception, referred at once — without waiting
for the assessment and without a case worker entering them again (ADR 0051).

Reception triages on arrival: ``arrival_registered`` lists the person's immediate needs (a child
alone always needs the child-protection authority), and ``protection_concern_raised`` names the
service a concern calls for, its severity and, for a child, the country's child-protection authority
(``lead_agency``), which is preferred when the directory lists it. Each need goes through the ordinary
path (matching, the referral lifecycle, response times) as a need of a *reception triage*: its
assessment id and need id are derived from the case and the category, so the arrival and a concern
about the same need, or a re-sent event, make one referral — and the assessment listing the same kind
of service later does not make a second one while the first is open.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from reintegra_contracts.codelists import (
    SERVICE_CATEGORY_DIMENSION,
    SERVICE_GRID,
    Priority,
    ServiceCategory,
    Urgency,
    Vulnerability,
)
from reintegra_contracts.events.assessment import AssessmentCompleted, Need
from reintegra_contracts.events.reception import ArrivalRegistered, ProtectionConcernRaised
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger

from .domain import SharingPolicy
from .handlers import refer_assessed
from .repository import ReferralUnitOfWork
from .settings import ReferralSettings

log = get_logger(__name__)

RECEPTION_TRIAGE = UUID("3d8f2f55-8f53-4b8e-9a44-4c1d7f6b2e10")
"""Namespace of the ids derived for reception's triage (assessment id per case, need id per category)."""

URGENT_FLAGS = frozenset(  # what arrivals published before contracts 1.3 (ADR 0080) said
    {
        Vulnerability.UNACCOMPANIED_CHILD,
        Vulnerability.SEPARATED_CHILD,
        Vulnerability.SURVIVOR_OF_TRAFFICKING,
        Vulnerability.SURVIVOR_OF_GBV,
        Vulnerability.DISPLACEMENT_RISK,
    }
)
CONCERN_PRIORITY = {
    Urgency.IMMEDIATE: Priority.URGENT,
    Urgency.WITHIN_24_HOURS: Priority.HIGH,
    Urgency.WITHIN_72_HOURS: Priority.MEDIUM,
    Urgency.ROUTINE: Priority.LOW,
}


def triage_need(case_id: UUID, category: ServiceCategory, priority: Priority) -> Need:
    """The need ``category`` of a case as reception found it (the same id whichever event says so)."""
    return Need(
        need_id=uuid5(RECEPTION_TRIAGE, f"{case_id}:need:{category.value}"),
        category=category,
        dimension=SERVICE_CATEGORY_DIMENSION[category],
        level=SERVICE_GRID[category][0],
        priority=priority,
    )


async def _refer_triage(
    uow: ReferralUnitOfWork,
    case_id: UUID,
    municipality: str,
    needs: list[Need],
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
    lead_agency: str | None = None,
) -> None:
    now = clock.now()
    triage = AssessmentCompleted(
        case_id=case_id,
        assessment_id=uuid5(RECEPTION_TRIAGE, f"{case_id}:triage"),
        completed_at=now,
        instrument="reception-triage",
        instrument_version="1",
        priority=min((n.priority for n in needs), key=list(Priority).index),
        destination_municipality=municipality,
        needs=needs,
    )
    profile = await uow.cases.profile(case_id)
    if profile is None:  # the arrival is not read yet: the triage waits for it, like an assessment
        await uow.cases.defer(case_id, triage.assessment_id, triage.model_dump_json(), now)
        return
    await refer_assessed(triage, profile, uow, clock, settings, sharing, prefer_agency=lead_agency)


async def refer_immediate_needs(
    event: ArrivalRegistered,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
) -> None:
    """``arrival_registered`` → each immediate need referred at once (urgent for a child alone or
    separated, trafficking, gender-based violence, displacement; high otherwise)."""
    if not event.immediate_needs or await uow.erasures.get(event.case_id) is not None:
        return
    if event.protection_priority is not None:  # reception's triage, without the flags behind it
        urgent = event.protection_priority is Priority.URGENT
    else:  # a producer before 1.3
        urgent = bool(URGENT_FLAGS & set(event.vulnerabilities))
    priority = Priority.URGENT if urgent else Priority.HIGH
    needs = [triage_need(event.case_id, c, priority) for c in dict.fromkeys(event.immediate_needs)]
    await _refer_triage(uow, event.case_id, event.destination_municipality, needs, clock, settings, sharing)


async def refer_protection_concern(
    event: ProtectionConcernRaised,
    uow: ReferralUnitOfWork,
    clock: Clock,
    settings: ReferralSettings,
    sharing: SharingPolicy,
) -> None:
    """``protection_concern_raised`` → the service it calls for, at the priority of its severity, to
    the lead agency when the directory lists it (the child-protection authority for a child)."""
    if event.service_category is None or event.destination_municipality is None:
        return  # an older producer: nothing to act on without the assessment
    if await uow.erasures.get(event.case_id) is not None:
        return
    need = triage_need(event.case_id, event.service_category, CONCERN_PRIORITY[event.urgency])
    await _refer_triage(
        uow,
        event.case_id,
        event.destination_municipality,
        [need],
        clock,
        settings,
        sharing,
        event.lead_agency,
    )
