"""Compatibility gate between two versions of the v1 JSON Schemas.

A v1 contract may only change compatibly: add a new optional field, add an enum member, widen a
type or loosen a constraint, add a new event. These are breaking and are reported:

* an event type disappears;
* a field is removed or renamed;
* a field's type is narrowed (a value the old schema accepted is no longer accepted): a type
  dropped from a union, a stricter bound, length, pattern or format, a ``const`` added;
* an optional field becomes required, or a new required field appears;
* an enum member is removed.

The rule applied to values is "the new schema accepts everything the old one did"; the rule applied
to fields is "no field a consumer may read disappears". Both schemas are pydantic-style JSON Schemas
(``$defs`` + local ``$ref``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True)
class Incompatibility:
    """One breaking difference: which message, where in its data, and what."""

    event_type: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.event_type}: {self.path or '<root>'}: {self.problem}"


class _Comparison:
    def __init__(self, event_type: str, old_root: Schema, new_root: Schema) -> None:
        self.event_type = event_type
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[Incompatibility] = []
        self._seen: set[tuple[str, str, str]] = set()

    def report(self, path: str, problem: str) -> None:
        self.problems.append(Incompatibility(self.event_type, path, problem))

    @staticmethod
    def _resolve(root: Schema, node: Schema) -> Schema:
        hops = 0
        while "$ref" in node:
            ref = str(node["$ref"])
            if not ref.startswith("#/"):
                raise ValueError(f"only local $ref is supported, got {ref!r}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra}
            hops += 1
            if hops > 50:
                raise ValueError(f"$ref cycle at {ref!r}")
        return node

    @staticmethod
    def _alternatives(node: Schema) -> list[Schema]:
        for key in ("anyOf", "oneOf"):
            if key in node:
                return [alt for alt in node[key]]
        return [node]

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        key = (path, repr(old.get("$ref")), repr(new.get("$ref")))
        if "$ref" in old and "$ref" in new:
            if key in self._seen:  # recursive models: compared once per path
                return
            self._seen.add(key)
        old = self._resolve(self.old_root, old)
        new = self._resolve(self.new_root, new)
        old_alts = [self._resolve(self.old_root, a) for a in self._alternatives(old)]
        new_alts = [self._resolve(self.new_root, a) for a in self._alternatives(new)]
        if len(old_alts) == 1 and len(new_alts) == 1:
            self._compare_single(old_alts[0], new_alts[0], path)
            return
        for old_alt in old_alts:
            self._cover(old_alt, new_alts, path)

    def _cover(self, old_alt: Schema, new_alts: list[Schema], path: str) -> None:
        """Report unless some new alternative accepts everything ``old_alt`` accepted."""
        best: list[Incompatibility] | None = None
        for new_alt in new_alts:
            trial = _Comparison(self.event_type, self.old_root, self.new_root)
            trial._compare_single(old_alt, new_alt, path)
            if not trial.problems:
                return
            if _types(old_alt) & _types(new_alt) and (best is None or len(trial.problems) < len(best)):
                best = trial.problems
        if best is not None:
            self.problems.extend(best)
        else:
            self.report(path, f"type narrowed: {_describe(old_alt)} is no longer accepted")

    def _compare_single(self, old: Schema, new: Schema, path: str) -> None:
        old_types, new_types = _types(old), _types(new)
        if new_types and not old_types <= new_types:
            lost = ", ".join(sorted(old_types - new_types)) or "any type"
            self.report(path, f"type narrowed: no longer accepts {lost}")
            return
        if "enum" in old or "enum" in new:
            old_enum, new_enum = old.get("enum"), new.get("enum")
            if new_enum is not None and old_enum is None:
                self.report(path, "type narrowed: values restricted to an enum")
            elif new_enum is not None and old_enum is not None:
                removed = [v for v in old_enum if v not in new_enum]
                if removed:
                    self.report(path, "enum member(s) removed: " + ", ".join(map(str, removed)))
        if "const" in new and new.get("const") != old.get("const", object()):
            self.report(path, f"type narrowed: const {new['const']!r}")
        for bound in _LOWER_BOUNDS:
            if bound in new and (bound not in old or new[bound] > old[bound]):
                self.report(path, f"constraint tightened: {bound} {old.get(bound)} -> {new[bound]}")
        for bound in _UPPER_BOUNDS:
            if bound in new and (bound not in old or new[bound] < old[bound]):
                self.report(path, f"constraint tightened: {bound} {old.get(bound)} -> {new[bound]}")
        for facet in ("pattern", "format"):
            if facet in new and new[facet] != old.get(facet):
                self.report(path, f"constraint tightened: {facet} {old.get(facet)!r} -> {new[facet]!r}")
        if "properties" in old or "properties" in new:
            self._compare_object(old, new, path)
        if "items" in old and "items" in new:
            self.compare(old["items"], new["items"], f"{path}[]")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_prop in old_props.items():
            sub = f"{path}.{name}" if path else name
            if name not in new_props:
                self.report(sub, "field removed or renamed")
                continue
            if name in new_required and name not in old_required:
                self.report(sub, "optional field made required")
            self.compare(old_prop, new_props[name], sub)
        for name in sorted(new_required - set(old_props)):
            sub = f"{path}.{name}" if path else name
            self.report(sub, "new required field (new fields must be optional)")


def _types(node: Schema) -> set[str]:
    raw = node.get("type")
    if raw is None:
        if "properties" in node:
            return {"object"}
        if "enum" in node:
            return {_json_type(v) for v in node["enum"]}
        return set()
    types = {raw} if isinstance(raw, str) else set(raw)
    if "number" in types:
        types.add("integer")  # a number field accepts integers
    return types


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _describe(node: Schema) -> str:
    return "/".join(sorted(_types(node))) or str(node.get("title", "value"))


def compare_schemas(old: Schema, new: Schema, event_type: str = "") -> list[Incompatibility]:
    """Breaking differences from ``old`` to ``new`` for one message type (empty = compatible)."""
    comparison = _Comparison(event_type or str(old.get("title", "")), old, new)
    comparison.compare(old, new, "")
    return comparison.problems


def compare_catalogues(old: Mapping[str, Schema], new: Mapping[str, Schema]) -> list[Incompatibility]:
    """Breaking differences between two catalogues (``type -> schema``); new types are fine."""
    problems: list[Incompatibility] = []
    for event_type in sorted(old):
        if event_type not in new:
            problems.append(Incompatibility(event_type, "", "event type removed"))
            continue
        problems.extend(compare_schemas(old[event_type], new[event_type], event_type))
    return problems
