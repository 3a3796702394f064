"""Referral's handlers: one referral per need of a completed assessment."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import uuid4

from reintegra_contracts.codelists import Level, ServiceCategory
from reintegra_contracts.events.assessment import AssessmentCompleted
from reintegra_contracts.events.referral import ReferralRequested
from reintegra_contracts.topics import is_agency_code
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger

from .domain import DirectoryService, match, respond_by
from .repository import Referral, ReferralUnitOfWork

log = get_logger(__name__)
SAMPLE_DIRECTORY = Path(__file__).parent / "directory.json"


def load_directory(path: Path) -> list[DirectoryService]:
    """Read a service directory file; raise ``ValueError`` naming the bad entry."""
    data = json.loads(path.read_text(encoding="utf-8"))
    services = []
    for i, item in enumerate(data["services"]):
        try:
            if not is_agency_code(item["agency_id"]):
                raise ValueError(f"agency_id {item['agency_id']!r} is not a lowercase agency code")
            services.append(
                DirectoryService(
                    service_id=item["service_id"],
                    agency_id=item["agency_id"],
                    name=item["name"],
                    category=ServiceCategory(item["category"]),
                    level=Level(item["level"]).value,
                    country=item["country"],
                    municipalities=tuple(item.get("municipalities", [])),
                    response_time_hours=int(item["response_time_hours"]),
                )
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: services[{i}] is invalid: {exc!r}") from exc
    return services


async def seed_directory(uow: ReferralUnitOfWork, services: list[DirectoryService]) -> None:
    """Replace the directory with ``services`` (run at start-up)."""
    async with uow:
        await uow.directory.replace_all(services)
        await uow.commit()


def refer_needs(clock: Clock) -> Callable[[AssessmentCompleted, ReferralUnitOfWork], Awaitable[None]]:
    """Handler of ``assessment_completed``: refer each need to the best service of the directory."""

    async def handle(event: AssessmentCompleted, uow: ReferralUnitOfWork) -> None:
        now = clock.now()
        for need in event.needs:
            service = match(
                need.category, event.destination_municipality, await uow.directory.for_category(need.category)
            )
            referral = Referral(
                referral_id=uuid4(),
                case_id=event.case_id,
                assessment_id=event.assessment_id,
                need_id=need.need_id,
                category=need.category.value,
                dimension=need.dimension.value,
                level=need.level.value,
                priority=need.priority.value,
                status="requested" if service else "unmatched",
                service_id=service.service_id if service else None,
                agency_id=service.agency_id if service else None,
                requested_at=now,
                respond_by=respond_by(now, service, need.priority) if service else None,
            )
            await uow.referrals.add(referral)
            if service is None or referral.respond_by is None:
                log.warning("referral.unmatched", category=need.category.value)
                continue
            await uow.emit(
                ReferralRequested(
                    case_id=event.case_id,
                    referral_id=referral.referral_id,
                    assessment_id=event.assessment_id,
                    need_id=need.need_id,
                    category=need.category,
                    dimension=need.dimension,
                    level=Level(service.level),
                    priority=need.priority,
                    service_id=service.service_id,
                    agency_id=service.agency_id,
                    requested_at=now,
                    respond_by=referral.respond_by,
                )
            )

    return handle
