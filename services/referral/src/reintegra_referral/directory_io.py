"""Reading and writing the service directory as JSON and CSV (an adapter: no domain rules here).

One format for everything: the directory file (``REINTEGRA_DIRECTORY_FILE``, the shipped samples), the
HTTP bodies that add or change one entry, and bulk import/export. Each row is checked on its own and
every bad row is named (``agencies[3].office_hours: …``, ``services.csv row 7: …``), so that an import
is either applied whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from pydantic.config import JsonDict
from reintegra_contracts.codelists import (
    AgencyKind,
    CostArrangement,
    Dimension,
    Level,
    PartnerChannel,
    ServiceCategory,
    Sex,
    Vulnerability,
)

from .domain import AgencyFacts, InvalidDirectoryEntryError, OfficeHours, ServiceFacts

SAMPLES = Path(__file__).parent / "directories"
SAMPLE_DIRECTORY = SAMPLES / "all.json"


class OfficeHoursIn(BaseModel):
    """Days (ISO weekday numbers, 1 = Monday) and the daily interval the first point of contact works."""

    model_config = ConfigDict(extra="forbid")

    days: list[Annotated[StrictInt, Field(ge=1, le=7)]] = Field(
        min_length=1, max_length=7, description="ISO weekdays, 1 = Monday … 7 = Sunday."
    )
    opens: str = Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, in the agency's time zone."
    )
    closes: str = Field(
        pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        description="HH:MM (24:00 for midnight), after opens.",
    )


class AgencyIn(BaseModel):
    """An agency as the directory manager writes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label_es: str = Field(min_length=1, max_length=200, description="Name in Spanish.")
    label_en: str = Field(min_length=1, max_length=200, description="Name in English.")
    agency_kind: AgencyKind
    country: str = Field(pattern=r"^[A-Z]{2}$")
    timezone: str = Field(default="", max_length=64, description="IANA zone; empty = the country's.")
    contact_role: str = Field(
        min_length=1, max_length=200, description="First point of contact: a role or desk, never a person."
    )
    office_hours: list[OfficeHoursIn] = Field(min_length=1, max_length=14)
    response_time_hours: float = Field(gt=0, le=2160, description="Time to answer, in working hours.")
    channel: PartnerChannel = PartnerChannel.KAFKA
    coordinator: StrictBool = False
    active: StrictBool = True

    def facts(self, agency_id: str) -> AgencyFacts:
        return AgencyFacts(
            agency_id=agency_id,
            label_es=self.label_es,
            label_en=self.label_en,
            agency_kind=self.agency_kind,
            country=self.country,
            timezone=self.timezone,
            contact_role=self.contact_role,
            office_hours=tuple(OfficeHours(tuple(h.days), h.opens, h.closes) for h in self.office_hours),
            response_time_hours=self.response_time_hours,
            channel=self.channel,
            coordinator=self.coordinator,
            active=self.active,
        )


class AgencyRow(AgencyIn):
    """An agency in a directory file or import."""

    agency_id: str = Field(min_length=1, max_length=40)


COVERAGE_NAMED: JsonDict = {
    "anyOf": [
        {"required": ["national"], "properties": {"national": {"const": True}}},
        {"required": ["departments"], "properties": {"departments": {"minItems": 1}}},
        {"required": ["municipalities"], "properties": {"municipalities": {"minItems": 1}}},
    ]
}
"""A service covers something: it is national, or names departments or municipalities (in the schema,
so that a client sees the rule ServiceFacts enforces)."""


class ServiceIn(BaseModel):
    """A service as the directory manager writes it: it covers the whole country (``national``), or
    the ``departments`` or ``municipalities`` it names."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=COVERAGE_NAMED)

    agency_id: str = Field(min_length=1, max_length=40)
    label_es: str = Field(min_length=1, max_length=200)
    label_en: str = Field(min_length=1, max_length=200)
    category: ServiceCategory
    country: str = Field(pattern=r"^[A-Z]{2}$")
    level: Level | None = Field(default=None, description="Default: the category's place on the grid.")
    dimension: Dimension | None = Field(
        default=None, description="Default: the category's place on the grid."
    )
    national: StrictBool = False
    departments: list[Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{2}$")]] = Field(
        default_factory=list, max_length=400, description="Department codes of the country (HN-05)."
    )
    municipalities: list[Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")]] = Field(
        default_factory=list, max_length=3000, description="Municipality codes of the country (HN-0501)."
    )
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    sexes: list[Sex] = Field(default_factory=list)
    groups: list[Vulnerability] = Field(default_factory=list)
    weekly_capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    cost: CostArrangement = CostArrangement.FREE
    response_time_hours: float | None = Field(default=None, gt=0, le=2160)
    active: StrictBool = True

    def facts(self, service_id: str) -> ServiceFacts:
        return ServiceFacts(
            service_id=service_id,
            agency_id=self.agency_id,
            label_es=self.label_es,
            label_en=self.label_en,
            category=self.category,
            country=self.country,
            level=self.level,
            dimension=self.dimension,
            national=self.national,
            departments=tuple(self.departments),
            municipalities=tuple(self.municipalities),
            min_age=self.min_age,
            max_age=self.max_age,
            sexes=tuple(self.sexes),
            groups=tuple(self.groups),
            weekly_capacity=self.weekly_capacity,
            cost=self.cost,
            response_time_hours=self.response_time_hours,
            active=self.active,
        )


class ServiceRow(ServiceIn):
    """A service in a directory file or import."""

    service_id: str = Field(min_length=1, max_length=50)


class DirectoryDocument(BaseModel):
    """A whole directory (or part of one): the JSON file and import format."""

    model_config = ConfigDict(extra="ignore")

    agencies: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)
    services: list[dict[str, Any]] = Field(default_factory=list, max_length=50_000)


class RowError(BaseModel):
    """One bad row of an import, named."""

    row: str = Field(description="Where: agencies[3], services.csv row 7, …")
    message: str


Parsed = tuple[list[AgencyFacts], list[ServiceFacts], list[RowError]]


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())


def parse_agency(where: str, data: Any, errors: list[RowError]) -> AgencyFacts | None:
    try:
        row = AgencyRow.model_validate(data)
        return row.facts(row.agency_id)
    except ValidationError as exc:
        errors.append(RowError(row=where, message=_problems(exc)))
    except InvalidDirectoryEntryError as exc:
        errors.append(RowError(row=where, message=str(exc)))
    return None


def parse_service(where: str, data: Any, errors: list[RowError]) -> ServiceFacts | None:
    try:
        row = ServiceRow.model_validate(data)
        return row.facts(row.service_id)
    except ValidationError as exc:
        errors.append(RowError(row=where, message=_problems(exc)))
    except InvalidDirectoryEntryError as exc:
        errors.append(RowError(row=where, message=str(exc)))
    return None


def parse_document(data: Any, *, origin: str = "") -> Parsed:
    """Agencies and services of a JSON directory document, and every bad row."""
    errors: list[RowError] = []
    try:
        doc = DirectoryDocument.model_validate(data)
    except ValidationError as exc:
        return [], [], [RowError(row=origin or "document", message=_problems(exc))]
    agencies = [parse_agency(f"{origin}agencies[{i}]", a, errors) for i, a in enumerate(doc.agencies)]
    services = [parse_service(f"{origin}services[{i}]", s, errors) for i, s in enumerate(doc.services)]
    return [a for a in agencies if a], [s for s in services if s], errors


def load_directory(path: Path) -> tuple[list[AgencyFacts], list[ServiceFacts]]:
    """Read a directory file (JSON); ``ValueError`` naming every bad entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    agencies, services, errors = parse_document(data)
    errors += check_references(agencies, services, known_agencies=())
    if errors:
        raise ValueError(f"{path}: " + "; ".join(f"{e.row}: {e.message}" for e in errors))
    return agencies, services


def load_samples(folder: Path = SAMPLES) -> tuple[list[AgencyFacts], list[ServiceFacts]]:
    """The sample directories of every country shipped with the service (``directories/*.json``)."""
    agencies: list[AgencyFacts] = []
    services: list[ServiceFacts] = []
    for path in sorted(folder.glob("*.json")):
        a, s = load_directory(path)
        agencies += a
        services += s
    return agencies, services


def check_references(
    agencies: Sequence[AgencyFacts], services: Sequence[ServiceFacts], *, known_agencies: Iterable[str]
) -> list[RowError]:
    """Cross-row rules: no code twice, every service's agency known, same country as its agency."""
    errors: list[RowError] = []
    by_code: dict[str, AgencyFacts] = {}
    for i, a in enumerate(agencies):
        if a.agency_id in by_code:
            errors.append(RowError(row=f"agencies[{i}]", message=f"agency_id {a.agency_id!r} appears twice"))
        by_code[a.agency_id] = a
    known = set(known_agencies) | set(by_code)
    seen: set[str] = set()
    for i, s in enumerate(services):
        if s.service_id in seen:
            errors.append(
                RowError(row=f"services[{i}]", message=f"service_id {s.service_id!r} appears twice")
            )
        seen.add(s.service_id)
        if s.agency_id not in known:
            errors.append(
                RowError(row=f"services[{i}]", message=f"agency_id {s.agency_id!r} is not in the directory")
            )
        elif s.agency_id in by_code and by_code[s.agency_id].country != s.country:
            errors.append(
                RowError(
                    row=f"services[{i}]",
                    message=f"country {s.country} differs from its agency's ({by_code[s.agency_id].country})",
                )
            )
    return errors


# -- JSON and CSV out -----------------------------------------------------------------------------------

AGENCY_COLUMNS = [
    "agency_id",
    "label_es",
    "label_en",
    "agency_kind",
    "country",
    "timezone",
    "contact_role",
    "office_hours",
    "response_time_hours",
    "channel",
    "coordinator",
    "active",
]
SERVICE_COLUMNS = [
    "service_id",
    "agency_id",
    "label_es",
    "label_en",
    "category",
    "country",
    "level",
    "dimension",
    "national",
    "departments",
    "municipalities",
    "min_age",
    "max_age",
    "sexes",
    "groups",
    "weekly_capacity",
    "cost",
    "response_time_hours",
    "active",
]
_LIST = " "
_HOURS = re.compile(
    r"^(?P<days>[1-7](?:-[1-7])?(?:,[1-7](?:-[1-7])?)*) (?P<opens>\d\d:\d\d)-(?P<closes>\d\d:\d\d)$"
)


def agency_dict(a: AgencyFacts) -> dict[str, Any]:
    return {
        "agency_id": a.agency_id,
        "label_es": a.label_es,
        "label_en": a.label_en,
        "agency_kind": a.agency_kind.value,
        "country": a.country,
        "timezone": a.timezone,
        "contact_role": a.contact_role,
        "office_hours": [
            {"days": list(h.days), "opens": h.opens, "closes": h.closes} for h in a.office_hours
        ],
        "response_time_hours": a.response_time_hours,
        "channel": a.channel.value,
        "coordinator": a.coordinator,
        "active": a.active,
    }


def service_dict(s: ServiceFacts) -> dict[str, Any]:
    return {
        "service_id": s.service_id,
        "agency_id": s.agency_id,
        "label_es": s.label_es,
        "label_en": s.label_en,
        "category": s.category.value,
        "country": s.country,
        "level": s.level.value if s.level else None,
        "dimension": s.dimension.value if s.dimension else None,
        "national": s.national,
        "departments": list(s.departments),
        "municipalities": list(s.municipalities),
        "min_age": s.min_age,
        "max_age": s.max_age,
        "sexes": [x.value for x in s.sexes],
        "groups": [g.value for g in s.groups],
        "weekly_capacity": s.weekly_capacity,
        "cost": s.cost.value,
        "response_time_hours": s.response_time_hours,
        "active": s.active,
    }


def _hours_text(hours: list[dict[str, Any]]) -> str:
    return "; ".join(f"{','.join(str(d) for d in h['days'])} {h['opens']}-{h['closes']}" for h in hours)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _LIST.join(str(v) for v in value)
    return str(value)


def agencies_csv(agencies: Iterable[AgencyFacts]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, AGENCY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for a in agencies:
        row = agency_dict(a)
        row["office_hours"] = _hours_text(row["office_hours"])
        writer.writerow({k: _cell(v) if k != "office_hours" else v for k, v in row.items()})
    return out.getvalue()


def services_csv(services: Iterable[ServiceFacts]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, SERVICE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in services:
        writer.writerow({k: _cell(v) for k, v in service_dict(s).items()})
    return out.getvalue()


def _bool(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0", ""}:
        return False
    return text  # left for validation to name


def _hours(text: str) -> list[dict[str, Any]] | str:
    intervals: list[dict[str, Any]] = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        found = _HOURS.fullmatch(part)
        if not found:
            return text
        days: list[int] = []
        for chunk in found["days"].split(","):
            first, _, last = chunk.partition("-")
            days += list(range(int(first), int(last or first) + 1))
        intervals.append({"days": days, "opens": found["opens"], "closes": found["closes"]})
    return intervals


def _csv_rows(
    text: str, columns: list[str], name: str, errors: list[RowError]
) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in columns if c not in header and c in (columns[:2])]
    unknown = [c for c in header if c not in columns]
    if missing or unknown:
        errors.append(
            RowError(row=f"{name} header", message=f"missing columns {missing}, unknown columns {unknown}")
        )
        return []
    return [(i + 2, row) for i, row in enumerate(reader)]


def parse_agencies_csv(text: str) -> tuple[list[AgencyFacts], list[RowError]]:
    errors: list[RowError] = []
    found = []
    for line, row in _csv_rows(text, AGENCY_COLUMNS, "agencies.csv", errors):
        data: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        if "office_hours" in data:
            data["office_hours"] = _hours(data["office_hours"])
        for flag in ("coordinator", "active"):
            if flag in data:
                data[flag] = _bool(data[flag])
        facts = parse_agency(f"agencies.csv row {line}", data, errors)
        if facts:
            found.append(facts)
    return found, errors


def parse_services_csv(text: str) -> tuple[list[ServiceFacts], list[RowError]]:
    errors: list[RowError] = []
    found = []
    for line, row in _csv_rows(text, SERVICE_COLUMNS, "services.csv", errors):
        data: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
        for name in ("departments", "municipalities", "sexes", "groups"):
            if name in data:
                data[name] = data[name].split()
        for flag in ("national", "active"):
            if flag in data:
                data[flag] = _bool(data[flag])
        facts = parse_service(f"services.csv row {line}", data, errors)
        if facts:
            found.append(facts)
    return found, errors
