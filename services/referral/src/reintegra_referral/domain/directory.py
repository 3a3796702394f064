"""The service directory and matching a need to one of its services. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from reintegra_contracts.codelists import Priority, ServiceCategory


@dataclass(frozen=True)
class DirectoryService:
    """A service an agency offers, where, and how fast it answers a referral."""

    service_id: str
    agency_id: str
    name: str
    category: ServiceCategory
    level: str
    country: str
    municipalities: tuple[str, ...]
    response_time_hours: int

    def covers(self, municipality: str) -> bool:
        if self.municipalities:
            return municipality in self.municipalities
        return municipality.startswith(self.country + "-")


URGENT_RESPONSE = timedelta(hours=4)


def match(
    category: ServiceCategory, municipality: str, directory: list[DirectoryService]
) -> DirectoryService | None:
    """The best service for a need: one of the person's municipality first, then a national one;
    among equals, the fastest to respond."""
    candidates = [s for s in directory if s.category == category and s.covers(municipality)]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (not s.municipalities, s.response_time_hours, s.service_id))


def respond_by(requested_at: datetime, service: DirectoryService, priority: Priority) -> datetime:
    """When the agency must answer: its agreed response time, at most four hours for urgent needs."""
    agreed = timedelta(hours=service.response_time_hours)
    if priority == Priority.URGENT:
        agreed = min(agreed, URGENT_RESPONSE)
    return requested_at + agreed
