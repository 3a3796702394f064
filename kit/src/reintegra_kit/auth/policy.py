"""The access policy: roles x operations x record scope, and the route -> operation map of every service.

One TOML file (``policy.toml`` beside this module, or ``REINTEGRA_AUTH_POLICY_FILE``) is the only place
where access is decided. :func:`load_policy` validates it whole and raises :class:`PolicyError` naming
each problem (an unknown role, operation or scope, a duplicate route); the entrypoint turns that into
exit status 2 at start-up.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.toml")

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OPERATION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_PARAM = re.compile(r"\{[^{}/]+\}")
_PATH = re.compile(r"^(/([A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+$")


class PolicyError(Exception):
    """The policy file is invalid; the message names the file and every bad entry."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"invalid access policy {source}:\n" + "\n".join(f"  - {p}" for p in problems))
        self.source = source
        self.problems = problems


class Scope(StrEnum):
    """Which records a grant reaches, relative to the caller's own centre, agency or country."""

    OWN_CENTRE = "own_centre"
    OWN_AGENCY = "own_agency"
    OWN_COUNTRY = "own_country"
    ALL = "all"


@dataclass(frozen=True)
class Operation:
    name: str
    description: str
    grants: Mapping[str, Scope]
    """role -> scope"""
    personal_data: bool = False
    """Whether its answers carry personal data (names, documents, phones, birth dates): such routes are
    audited by their service and left out of the leak scanner (tests/test_leak_scanner.py)."""


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    operation: str

    @property
    def addresses_one_record(self) -> bool:
        """Whether the path names one record (it has a path parameter)."""
        return bool(_PARAM.search(self.path))


@dataclass(frozen=True)
class Policy:
    """The validated policy. Look-ups are by the matched route's template, never by the raw URL."""

    source: str
    roles: Mapping[str, str]
    """role -> description"""
    operations: Mapping[str, Operation]
    routes: Mapping[tuple[str, str, str], Route]
    """(service, METHOD, path template) -> route"""
    open_paths: frozenset[str]
    _by_shape: Mapping[tuple[str, str, str], Route] = field(repr=False, default_factory=dict)

    def route(self, service: str, method: str, path: str) -> Route | None:
        """The policy entry of a route, by its template (``/v1/cases/{case_id}``); ``None`` if none."""
        found = self.routes.get((service, method.upper(), path))
        if found is None:  # the same route with differently named parameters
            found = self._by_shape.get((service, method.upper(), _shape(path)))
        return found

    def is_open(self, path: str) -> bool:
        return path in self.open_paths

    def grants(self, roles: Iterable[str], operation: str) -> dict[str, Scope]:
        """The roles among ``roles`` that are granted ``operation``, each with its scope."""
        op = self.operations[operation]
        return {role: op.grants[role] for role in sorted(set(roles)) if role in op.grants}

    def services(self) -> list[str]:
        return sorted({r.service for r in self.routes.values()})


def _shape(path: str) -> str:
    return _PARAM.sub("{}", path)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate the policy file (the packaged one when ``path`` is empty)."""
    file = Path(path) if path else DEFAULT_POLICY_FILE
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(source, [f"cannot read it: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, [_explain_toml_error(exc, text)]) from None
    return parse_policy(data, source)


def _explain_toml_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = str(exc)
    line_no = re.search(r"line (\d+)", message)
    if line_no is None:
        return f"not valid TOML: {message}"
    line = text.splitlines()[int(line_no.group(1)) - 1].strip() if text else ""
    if "overwrite" in message.lower():
        return f"duplicate entry {line!r} ({message}): each route, role and operation appears once"
    return f"not valid TOML: {message}: {line!r}"


def parse_policy(data: Mapping[str, Any], source: str = "<policy>") -> Policy:
    """Validate a parsed policy document; collect every problem before refusing."""
    problems: list[str] = []
    _only_keys(data, {"version", "open", "roles", "operations", "routes"}, "the top level", problems)
    if data.get("version") != 1:
        problems.append(f"version must be 1, got {data.get('version')!r}")

    roles = _roles(data.get("roles"), problems)
    operations = _operations(data.get("operations"), roles, problems)
    open_paths = _open_paths(data.get("open"), problems)
    routes, by_shape = _routes(data.get("routes"), operations, open_paths, problems)
    if problems:
        raise PolicyError(source, problems)
    return Policy(source, roles, operations, routes, open_paths, by_shape)


def _only_keys(table: Mapping[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in table:
        if key not in allowed:
            problems.append(f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})")


def _table(value: Any, where: str, problems: list[str]) -> Mapping[str, Any]:
    if value is None:
        problems.append(f"{where} is missing")
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{where} must be a table")
        return {}
    return value


def _roles(value: Any, problems: list[str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for name, description in _table(value, "[roles]", problems).items():
        if not _NAME.fullmatch(name):
            problems.append(f"role {name!r}: names are lowercase letters, digits and underscores")
        elif not isinstance(description, str) or not description.strip():
            problems.append(f"role {name!r}: give it a description (a string)")
        else:
            roles[name] = description
    if not roles and value is not None:
        problems.append("[roles] defines no role")
    return roles


def _operations(value: Any, roles: Mapping[str, str], problems: list[str]) -> dict[str, Operation]:
    operations: dict[str, Operation] = {}
    scopes = ", ".join(s.value for s in Scope)
    for name, entry in _table(value, "[operations]", problems).items():
        where = f"operation {name!r}"
        if not _OPERATION.fullmatch(name):
            problems.append(f"{where}: names look like 'case.read' (lowercase words joined by dots)")
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be a table with description and grants")
            continue
        _only_keys(entry, {"description", "grants", "personal_data"}, where, problems)
        personal = entry.get("personal_data", False)
        if not isinstance(personal, bool):
            problems.append(f"{where}: personal_data must be true or false, got {personal!r}")
            personal = False
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(f"{where}: give it a description (a string)")
        grants: dict[str, Scope] = {}
        for role, scope in _table(entry.get("grants", {}), f"{where} grants", problems).items():
            if role not in roles:
                problems.append(f"{where}: unknown role {role!r} (roles are defined under [roles])")
            elif scope not in {s.value for s in Scope}:
                problems.append(f"{where}: unknown scope {scope!r} for role {role!r} (one of {scopes})")
            else:
                grants[role] = Scope(scope)
        operations[name] = Operation(name, str(description or ""), grants, personal)
    return operations


def _open_paths(value: Any, problems: list[str]) -> frozenset[str]:
    table = _table(value, "[open]", problems)
    _only_keys(table, {"paths"}, "[open]", problems)
    paths = table.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
        problems.append("[open] paths must be a list of paths starting with '/'")
        return frozenset()
    return frozenset(paths)


def _routes(
    value: Any, operations: Mapping[str, Operation], open_paths: frozenset[str], problems: list[str]
) -> tuple[dict[tuple[str, str, str], Route], dict[tuple[str, str, str], Route]]:
    routes: dict[tuple[str, str, str], Route] = {}
    by_shape: dict[tuple[str, str, str], Route] = {}
    for service, entries in _table(value, "[routes]", problems).items():
        if not _NAME.fullmatch(service):
            problems.append(f"[routes.{service}]: service names are lowercase letters, digits, underscores")
            continue
        for key, operation in _table(entries, f"[routes.{service}]", problems).items():
            where = f"route {service}: {key!r}"
            method, _, path = key.partition(" ")
            if method not in HTTP_METHODS or not _PATH.fullmatch(path):
                problems.append(
                    f"{where}: write it as 'METHOD /path/{{param}}' with METHOD one of "
                    + ", ".join(sorted(HTTP_METHODS))
                )
                continue
            if operation not in operations:
                problems.append(f"{where}: unknown operation {operation!r} (define it under [operations])")
                continue
            if path in open_paths:
                problems.append(f"{where}: {path} is listed as open; a route is either open or governed")
                continue
            route = Route(service, method, path, operation)
            shape = (service, method, _shape(path))
            if shape in by_shape:
                first = by_shape[shape]
                problems.append(
                    f"duplicate route {service}: '{method} {path}' is the same route as "
                    f"'{first.method} {first.path}'"
                )
                continue
            routes[(service, method, path)] = route
            by_shape[shape] = route
    return routes, by_shape
