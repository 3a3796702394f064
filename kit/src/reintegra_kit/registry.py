"""The service registry: each service declares itself once, in ``service.toml`` inside its package.

::

    name = "assessment"
    title = "Reintegra assessment"
    description = "Schedules and records needs and vulnerability assessments."
    port = 8102
    consumes = ["reintegra.reception.events.v1"]

    [produces]
    "reintegra.assessment.events.v1" = [
        "org.reintegra.assessment.assessment_scheduled.v1",
        "org.reintegra.assessment.assessment_completed.v1",
    ]

Everything else follows by convention and is checked by tests (``tests/test_registry.py``): the package
``reintegra_<name>`` in ``services/<name>/src/``, the distribution ``reintegra-<name>``, the migrations in
``reintegra_<name>/migrations``, ``bootstrap.build(settings)``, the settings class in ``settings.py``.

Who reads it: the service's own runtime (the topics it creates and subscribes to; the outbox refuses an
event type the entry does not list), the launcher (``reintegra-stack``), the AsyncAPI generator, the
test fixtures, the docs checks and ``docs/events.md`` (implemented vs planned events). A topic address
may contain ``{agency}``: a family of per-agency topics whose members are declared at start-up from
data (the referral directory's agencies).
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reintegra_contracts import event_class

SPEC_FILE = "service.toml"
_NAME = re.compile(r"^[a-z][a-z0-9]{1,30}$")
TOPIC_PARAMETER = "{agency}"


class RegistryError(ValueError):
    """A ``service.toml`` is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class ServiceSpec:
    """One service, as declared in its ``service.toml``."""

    name: str
    title: str
    description: str
    port: int
    produces: dict[str, tuple[str, ...]]
    """Topic address → the CloudEvents types this service emits there."""
    consumes: tuple[str, ...]
    source: Path

    @property
    def module(self) -> str:
        return f"reintegra_{self.name}"

    @property
    def distribution(self) -> str:
        return f"reintegra-{self.name}"

    @property
    def path(self) -> str:
        """The service's folder, relative to the repository root."""
        return f"services/{self.name}"

    @property
    def migrations(self) -> Path:
        return self.source.parent / "migrations"

    @property
    def emitted_types(self) -> frozenset[str]:
        return frozenset(t for types in self.produces.values() for t in types)

    @property
    def static_topics(self) -> list[str]:
        """Topics with a fixed address (produced and consumed), without dead-letter topics."""
        names = [t for t in self.produces if TOPIC_PARAMETER not in t]
        names += [t for t in self.consumes if TOPIC_PARAMETER not in t]
        return list(dict.fromkeys(names))

    @classmethod
    def load(cls, path: Path) -> ServiceSpec:
        """Read and check one ``service.toml``."""
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RegistryError(f"{path}: {exc}") from exc
        problems: list[str] = []
        name = data.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(f"name {name!r} must be 2-31 lowercase letters or digits")
        port = data.get("port")
        if not isinstance(port, int) or not 1024 <= port <= 65535:
            problems.append(f"port {port!r} must be an integer between 1024 and 65535")
        for key in ("title", "description"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                problems.append(f"{key} must be a non-empty string")
        produces_raw = data.get("produces", {})
        consumes_raw = data.get("consumes", [])
        if not isinstance(produces_raw, dict):
            problems.append("[produces] must be a table of topic = [event types]")
            produces_raw = {}
        if not isinstance(consumes_raw, list) or not all(isinstance(t, str) for t in consumes_raw):
            problems.append("consumes must be a list of topic addresses")
            consumes_raw = []
        produces: dict[str, tuple[str, ...]] = {}
        for topic, types in produces_raw.items():
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                problems.append(f"produces.{topic!r} must be a list of event types")
                continue
            for event_type in types:
                known = event_class(event_type)
                if known is None:
                    problems.append(f"produces.{topic!r}: unknown event type {event_type!r}")
                elif not _topic_matches(known.topic, topic):
                    problems.append(f"produces.{topic!r}: {event_type} belongs on {known.topic!r}")
            produces[topic] = tuple(types)
        unknown = set(data) - {"name", "title", "description", "port", "produces", "consumes"}
        if unknown:
            problems.append(f"unknown keys {sorted(unknown)}")
        if problems:
            raise RegistryError(f"{path}: " + "; ".join(problems))
        return cls(
            name=str(name),
            title=str(data["title"]),
            description=str(data["description"]),
            port=int(str(port)),
            produces=produces,
            consumes=tuple(consumes_raw),
            source=path,
        )

    @classmethod
    def of_package(cls, module: str) -> ServiceSpec:
        """The spec shipped inside an installed service package (how a running service finds its own)."""
        resource = importlib.resources.files(module) / SPEC_FILE
        with importlib.resources.as_file(resource) as path:
            return cls.load(Path(path))


def _topic_matches(catalogue_topic: str, declared: str) -> bool:
    if TOPIC_PARAMETER not in declared:
        return catalogue_topic == declared
    # the catalogue's per-agency template says {agency_id}; the registry says {agency}
    return catalogue_topic.replace("{agency_id}", TOPIC_PARAMETER) == declared


def discover(root: Path) -> list[ServiceSpec]:
    """Every service of a source checkout, in port order (the order the launcher starts them)."""
    specs = [ServiceSpec.load(p) for p in sorted(root.glob(f"services/*/src/reintegra_*/{SPEC_FILE}"))]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise RegistryError(f"two services share a name: {names}")
    ports = [s.port for s in specs]
    if len(set(ports)) != len(ports):
        raise RegistryError(f"two services share a port: {ports}")
    return sorted(specs, key=lambda s: s.port)


def repository_root(start: Path | None = None) -> Path:
    """The source checkout holding ``services/`` (above ``start`` or this file, or the working directory)."""
    here = (start or Path(__file__)).resolve()
    for folder in [*here.parents, Path.cwd(), *Path.cwd().parents]:
        if (folder / "services").is_dir() and (folder / "contracts").is_dir():
            return folder
    raise RegistryError("cannot find the Reintegra source checkout (a folder with services/ and contracts/)")
