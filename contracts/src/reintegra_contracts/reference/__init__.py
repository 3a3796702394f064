"""Sample reference data: ports of entry and reception centres in HN, GT, SV and MX.

**Sample, editable data — verify locally.** The names come from public sources and may be outdated;
the codes are Reintegra's own. Operators replace the file (or pass their own path to
:func:`load_reference_data`) with the list their country actually uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..codelists import TransportMode

SAMPLE_FILE = "sample_reference_data.json"
IS_SAMPLE = True
"""The shipped file is sample data, not an authoritative register."""


@dataclass(frozen=True)
class PortOfEntry:
    """A port of entry (airport or land crossing) where returnees arrive."""

    code: str
    country: str
    name: str
    transport_mode: TransportMode
    reception_centres: tuple[str, ...]


@dataclass(frozen=True)
class ReceptionCentre:
    """A reception centre that registers returnees."""

    code: str
    country: str
    name: str
    municipality: str
    serves: tuple[TransportMode, ...]


@dataclass(frozen=True)
class ReferenceData:
    """Ports of entry and reception centres, indexed by code."""

    ports_of_entry: dict[str, PortOfEntry]
    reception_centres: dict[str, ReceptionCentre]
    notice: str


def load_reference_data(path: str | Path | None = None) -> ReferenceData:
    """Load reference data from ``path``, or the shipped sample file when ``path`` is ``None``.

    Raises ``ValueError`` if a port names an unknown reception centre or a code is repeated.
    """
    if path is None:
        text = resources.files(__package__).joinpath(SAMPLE_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    raw = json.loads(text)
    centres: dict[str, ReceptionCentre] = {}
    for c in raw["reception_centres"]:
        if c["code"] in centres:
            raise ValueError(f"reception centre {c['code']!r} is listed twice")
        centres[c["code"]] = ReceptionCentre(
            code=c["code"],
            country=c["country"],
            name=c["name"],
            municipality=c["municipality"],
            serves=tuple(TransportMode(m) for m in c["serves"]),
        )
    ports: dict[str, PortOfEntry] = {}
    for p in raw["ports_of_entry"]:
        if p["code"] in ports:
            raise ValueError(f"port of entry {p['code']!r} is listed twice")
        unknown = [c for c in p["reception_centres"] if c not in centres]
        if unknown:
            raise ValueError(f"port of entry {p['code']!r} names unknown reception centre(s) {unknown}")
        ports[p["code"]] = PortOfEntry(
            code=p["code"],
            country=p["country"],
            name=p["name"],
            transport_mode=TransportMode(p["transport_mode"]),
            reception_centres=tuple(p["reception_centres"]),
        )
    return ReferenceData(ports_of_entry=ports, reception_centres=centres, notice=str(raw.get("_notice", "")))


@cache
def sample_reference_data() -> ReferenceData:
    """The shipped sample reference data (cached). Sample only — verify locally."""
    return load_reference_data()


__all__ = [
    "IS_SAMPLE",
    "PortOfEntry",
    "ReceptionCentre",
    "ReferenceData",
    "load_reference_data",
    "sample_reference_data",
]
