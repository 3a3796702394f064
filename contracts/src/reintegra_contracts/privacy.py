"""Guard against personal identifying data on the log, by construction.

:func:`identifying_fields` walks a model (recursively into nested models, lists and unions) and
returns every field whose *name* says it would hold data that identifies a person. The contracts'
tests run it over every message, so adding e.g. ``phone`` or ``date_of_birth`` fails the build.
Pseudonymous ids (``case_id``, ``returnee_id``) and non-identifying attributes (age, sex,
municipality, vulnerability flags) are allowed.

:func:`special_category_values` looks at a message's *values*: special-category codes (health, survivors
of violence, sexual orientation, ethnic origin; ``codelists.SPECIAL_CATEGORY_VULNERABILITIES`` and
``SPECIAL_CATEGORY_CONCERNS``) never travel on the log (docs/adr/0080-what-the-log-may-hold.md).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Final

from pydantic import BaseModel

from .codelists import (
    SPECIAL_CATEGORY_CONCERNS,
    SPECIAL_CATEGORY_VULNERABILITIES,
    ConcernType,
    Vulnerability,
)

DENIED_NAME_PATTERNS: Final[tuple[str, ...]] = (
    r"(^|_)(first|last|given|family|full|middle|maiden|mother|father|sur|user|nick)_?names?($|_)",
    r"(^|_)names?($|_)",
    r"(^|_)(nombres?|apellidos?)($|_)",
    r"(^|_)(phone|telephone|mobile|cellphone|whatsapp|msisdn|tel)($|_)",
    r"(^|_)e_?mail($|_)",
    r"(^|_)(address|street|addr|direccion|house_number|postal_code|zip_code)($|_)",
    r"(^|_)(dob|birth_?date|date_of_birth|birthday|fecha_nacimiento)($|_)",
    r"(^|_)(passport|dni|curp|rtn|nit|ssn|nin|cui|dui|national_id|id_number|identity_number)($|_)",
    r"(^|_)document_?(number|no|id)($|_)",
    r"(^|_)social_security($|_)",
    r"(^|_)(gps|latitude|longitude|geo_?location|coordinates)($|_)",
    r"(^|_)(photo|picture|face|fingerprint|biometrics?|signature|iris)($|_)",
    r"(^|_)ip_address($|_)",
)
"""Field-name patterns that denote personal identifying data (matched on the lower-cased name)."""

_DENIED = tuple(re.compile(p) for p in DENIED_NAME_PATTERNS)


def is_identifying_name(field_name: str) -> bool:
    """Whether a field called ``field_name`` would hold personal identifying data."""
    lowered = field_name.lower()
    return any(p.search(lowered) for p in _DENIED)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def identifying_fields(model: type[BaseModel]) -> list[str]:
    """Dotted paths of the fields of ``model`` (and nested models) whose names denote personal data."""
    found: list[str] = []
    seen: set[type[BaseModel]] = set()

    def walk(current: type[BaseModel], prefix: str) -> None:
        if current in seen:
            return
        seen.add(current)
        for name, info in current.model_fields.items():
            path = f"{prefix}{name}"
            names = [name] + ([info.alias] if info.alias else [])
            if any(is_identifying_name(n) for n in names):
                found.append(path)
            for nested in _models_in(info.annotation):
                walk(nested, f"{path}.")

    walk(model, "")
    return found


def special_category_values(message: BaseModel) -> list[str]:
    """``path=code`` of every special-category code held by ``message`` (recursively); empty when the
    message may travel on the log."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)
        elif isinstance(value, list | tuple | set | frozenset):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif (isinstance(value, Vulnerability) and value in SPECIAL_CATEGORY_VULNERABILITIES) or (
            isinstance(value, ConcernType) and value in SPECIAL_CATEGORY_CONCERNS
        ):
            found.append(f"{path}={value.value}")

    walk(message, "")
    return found
