"""The service directory as managed data: agencies and the services they offer. Pure: no I/O.

Both are aggregates: a change is made through a method that records the directory event carrying the
entry's whole new state (``agency_changed``, ``service_changed``, …) so that other services and agencies
can mirror the directory from ``reintegra.directory.events.v1``. Nothing here is personal data: the first
point of contact is a role or a desk, never a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Self

from reintegra_contracts.codelists import (
    SERVICE_GRID,
    AgencyKind,
    CostArrangement,
    Dimension,
    Level,
    PartnerChannel,
    ServiceCategory,
    Sex,
    Vulnerability,
)
from reintegra_contracts.events.directory import (
    AgencyChanged,
    AgencyRemoved,
    ServiceChanged,
    ServiceRemoved,
    directory_stream_id,
)
from reintegra_contracts.events.directory import OfficeHours as OfficeHoursModel
from reintegra_contracts.topics import is_agency_code
from reintegra_kit.domain import AggregateRoot, DomainError

COUNTRY_TIMEZONES: dict[str, str] = {
    "HN": "America/Tegucigalpa",
    "GT": "America/Guatemala",
    "SV": "America/El_Salvador",
    "MX": "America/Mexico_City",
}
"""Default time zone of the office hours of an agency of each country (an agency may name its own)."""

MUNICIPALITY = re.compile(r"^[A-Z]{2}-\d{4}$")
DEPARTMENT = re.compile(r"^[A-Z]{2}-\d{2}$")
SERVICE_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,49}$")
HHMM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class InvalidDirectoryEntryError(DomainError):
    """A directory entry breaks a rule; the message names the field."""

    code = "invalid-directory-entry"


@dataclass(frozen=True)
class OfficeHours:
    """Days (ISO weekday numbers) and a daily opening interval, in the agency's time zone."""

    days: tuple[int, ...]
    opens: str
    closes: str

    def __post_init__(self) -> None:
        if not self.days or any(d not in range(1, 8) for d in self.days):
            raise InvalidDirectoryEntryError(f"office_hours.days {list(self.days)} must be ISO weekdays 1-7")
        if not HHMM.fullmatch(self.opens) or not HHMM.fullmatch(self.closes) or self.opens == "24:00":
            raise InvalidDirectoryEntryError(f"office_hours {self.opens}-{self.closes} must be HH:MM")
        if self.closes <= self.opens:
            raise InvalidDirectoryEntryError(
                f"office_hours close ({self.closes}) before they open ({self.opens})"
            )

    def minutes(self) -> tuple[int, int]:
        """Opening and closing time, in minutes after midnight."""
        oh, om = (int(x) for x in self.opens.split(":"))
        ch, cm = (int(x) for x in self.closes.split(":"))
        return oh * 60 + om, ch * 60 + cm


ALWAYS_OPEN = (OfficeHours((1, 2, 3, 4, 5, 6, 7), "00:00", "24:00"),)


@dataclass(frozen=True)
class AgencyFacts:
    """Everything the directory says about an agency (what a directory manager writes)."""

    agency_id: str
    label_es: str
    label_en: str
    agency_kind: AgencyKind
    country: str
    contact_role: str
    office_hours: tuple[OfficeHours, ...]
    response_time_hours: float
    channel: PartnerChannel = PartnerChannel.KAFKA
    timezone: str = ""
    coordinator: bool = False
    active: bool = True

    def __post_init__(self) -> None:
        if not is_agency_code(self.agency_id):
            raise InvalidDirectoryEntryError(
                f"agency_id {self.agency_id!r} is not a lowercase agency code (it names partner topics)"
            )
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise InvalidDirectoryEntryError(f"country {self.country!r} is not an ISO 3166-1 alpha-2 code")
        if not self.timezone:
            if self.country not in COUNTRY_TIMEZONES:
                raise InvalidDirectoryEntryError(f"timezone is needed for an agency of {self.country}")
            object.__setattr__(self, "timezone", COUNTRY_TIMEZONES[self.country])
        if not 0 < self.response_time_hours <= 24 * 90:
            raise InvalidDirectoryEntryError(
                f"response_time_hours {self.response_time_hours} must be more than 0 and at most 2160"
            )
        for name in ("label_es", "label_en", "contact_role"):
            if not str(getattr(self, name)).strip():
                raise InvalidDirectoryEntryError(f"{name} must not be empty")
        if not self.office_hours:
            raise InvalidDirectoryEntryError("office_hours must list at least one interval")


@dataclass(frozen=True)
class ServiceFacts:
    """Everything the directory says about a service (what a directory manager writes)."""

    service_id: str
    agency_id: str
    label_es: str
    label_en: str
    category: ServiceCategory
    country: str
    level: Level | None = None
    dimension: Dimension | None = None
    national: bool = False
    departments: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    sexes: tuple[Sex, ...] = ()
    groups: tuple[Vulnerability, ...] = ()
    weekly_capacity: int | None = None
    cost: CostArrangement = CostArrangement.FREE
    response_time_hours: float | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if not SERVICE_ID.fullmatch(self.service_id):
            raise InvalidDirectoryEntryError(
                f"service_id {self.service_id!r} must be 2-50 capital letters, digits, '-' or '_'"
            )
        if not is_agency_code(self.agency_id):
            raise InvalidDirectoryEntryError(f"agency_id {self.agency_id!r} is not a lowercase agency code")
        grid_level, grid_dimension = SERVICE_GRID[self.category]
        object.__setattr__(self, "level", self.level or grid_level)
        object.__setattr__(self, "dimension", self.dimension or grid_dimension)
        if not (self.national or self.departments or self.municipalities):
            raise InvalidDirectoryEntryError(
                "coverage is empty: say national, or list departments or municipalities"
            )
        for code in self.departments:
            if not DEPARTMENT.fullmatch(code) or not code.startswith(self.country + "-"):
                raise InvalidDirectoryEntryError(
                    f"department {code!r} is not a department code of {self.country}"
                )
        for code in self.municipalities:
            if not MUNICIPALITY.fullmatch(code) or not code.startswith(self.country + "-"):
                raise InvalidDirectoryEntryError(
                    f"municipality {code!r} is not a municipality code of {self.country}"
                )
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise InvalidDirectoryEntryError(f"min_age {self.min_age} is above max_age {self.max_age}")
        for bound in (self.min_age, self.max_age):
            if bound is not None and not 0 <= bound <= 120:
                raise InvalidDirectoryEntryError(f"age bound {bound} must be between 0 and 120")
        if self.weekly_capacity is not None and self.weekly_capacity < 0:
            raise InvalidDirectoryEntryError("weekly_capacity must not be negative")
        if self.response_time_hours is not None and not 0 < self.response_time_hours <= 24 * 90:
            raise InvalidDirectoryEntryError("response_time_hours must be more than 0 and at most 2160")
        for name in ("label_es", "label_en"):
            if not str(getattr(self, name)).strip():
                raise InvalidDirectoryEntryError(f"{name} must not be empty")

    def covers(self, municipality: str) -> str | None:
        """How the service covers ``municipality``: ``municipality``, ``department``, ``national`` or None."""
        if municipality in self.municipalities:
            return "municipality"
        if any(municipality.startswith(d) for d in self.departments):
            return "department"
        if self.national and municipality.startswith(self.country + "-"):
            return "national"
        return None


def _changed(old: Any, new: Any) -> bool:
    return any(getattr(old, f.name) != getattr(new, f.name) for f in fields(new))


@dataclass(eq=False)
class Agency(AggregateRoot):
    """An agency of the directory: its facts, and a webhook for agencies answering over HTTP."""

    facts: AgencyFacts
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    removed: bool = False
    version: int = 0

    @property
    def agency_id(self) -> str:
        return self.facts.agency_id

    @classmethod
    def create(cls, facts: AgencyFacts, at: datetime) -> Self:
        agency = cls(facts=facts)
        agency.record(agency._changed_event(at, created=True))
        return agency

    def change(self, facts: AgencyFacts, at: datetime) -> bool:
        """Replace the facts (same code); records ``agency_changed`` when anything changed."""
        if facts.agency_id != self.agency_id:
            raise InvalidDirectoryEntryError(f"agency_id {facts.agency_id!r} differs from {self.agency_id!r}")
        if not self.removed and not _changed(self.facts, facts):
            return False
        created = self.removed
        self.facts, self.removed = facts, False
        self.record(self._changed_event(at, created=created))
        return True

    def remove(self, at: datetime) -> None:
        """Take the agency out of the directory (referrals already sent keep their history)."""
        if self.removed:
            return
        self.removed = True
        self.record(
            AgencyRemoved(
                case_id=directory_stream_id(self.agency_id), agency_id=self.agency_id, removed_at=at
            )
        )

    def set_webhook(self, url: str | None, secret: str | None) -> None:
        """Where (and with which shared secret) partner messages are pushed; ``None`` stops pushing."""
        if url is not None and not re.fullmatch(r"https?://[^\s]+", url):
            raise InvalidDirectoryEntryError(f"webhook url {url!r} must be an http(s) URL")
        if url is not None and (secret is None or len(secret) < 16):
            raise InvalidDirectoryEntryError("a webhook needs a secret of at least 16 characters")
        self.webhook_url, self.webhook_secret = url, secret if url is not None else None

    def _changed_event(self, at: datetime, *, created: bool) -> AgencyChanged:
        f = self.facts
        return AgencyChanged(
            case_id=directory_stream_id(f.agency_id),
            agency_id=f.agency_id,
            label_es=f.label_es,
            label_en=f.label_en,
            agency_kind=f.agency_kind,
            country=f.country,
            timezone=f.timezone,
            contact_role=f.contact_role,
            office_hours=[
                OfficeHoursModel(days=list(h.days), opens=h.opens, closes=h.closes) for h in f.office_hours
            ],
            response_time_hours=f.response_time_hours,
            channel=f.channel,
            coordinator=f.coordinator,
            active=f.active,
            changed_at=at,
            created=created,
        )


@dataclass(eq=False)
class DirectoryService(AggregateRoot):
    """A service an agency offers: where, to whom, how many a week, at what cost."""

    facts: ServiceFacts
    removed: bool = False
    version: int = 0

    @property
    def service_id(self) -> str:
        return self.facts.service_id

    @property
    def agency_id(self) -> str:
        return self.facts.agency_id

    @classmethod
    def create(cls, facts: ServiceFacts, at: datetime) -> Self:
        service = cls(facts=facts)
        service.record(service._changed_event(at, created=True))
        return service

    def change(self, facts: ServiceFacts, at: datetime) -> bool:
        if facts.service_id != self.service_id:
            raise InvalidDirectoryEntryError(
                f"service_id {facts.service_id!r} differs from {self.service_id!r}"
            )
        if not self.removed and not _changed(self.facts, facts):
            return False
        created = self.removed
        self.facts, self.removed = facts, False
        self.record(self._changed_event(at, created=created))
        return True

    def remove(self, at: datetime) -> None:
        if self.removed:
            return
        self.removed = True
        self.record(
            ServiceRemoved(
                case_id=directory_stream_id(self.agency_id),
                service_id=self.service_id,
                agency_id=self.agency_id,
                removed_at=at,
            )
        )

    def _changed_event(self, at: datetime, *, created: bool) -> ServiceChanged:
        f = self.facts
        assert f.level is not None
        assert f.dimension is not None
        return ServiceChanged(
            case_id=directory_stream_id(f.agency_id),
            service_id=f.service_id,
            agency_id=f.agency_id,
            label_es=f.label_es,
            label_en=f.label_en,
            category=f.category,
            level=f.level,
            dimension=f.dimension,
            country=f.country,
            departments=list(f.departments),
            municipalities=list(f.municipalities),
            national=f.national,
            min_age=f.min_age,
            max_age=f.max_age,
            sexes=list(f.sexes),
            groups=list(f.groups),
            weekly_capacity=f.weekly_capacity,
            cost=f.cost,
            response_time_hours=f.response_time_hours,
            active=f.active,
            changed_at=at,
            created=created,
        )


def with_changes(facts: Any, **changes: Any) -> Any:
    """A copy of frozen facts with some fields changed (validated again)."""
    return replace(facts, **changes)
