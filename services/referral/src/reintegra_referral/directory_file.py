"""Reading a service directory file (JSON) — the sample shipped with the service, or an operator's."""

from __future__ import annotations

import json
from pathlib import Path

from reintegra_contracts.codelists import Level, ServiceCategory
from reintegra_contracts.topics import is_agency_code

from .domain import DirectoryService

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
