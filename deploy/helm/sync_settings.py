"""Keep the chart's values in step with the code: every REINTEGRA_* setting, and the directory's agencies.

    uv run python deploy/helm/sync_settings.py          # add what is missing (review the diff)
    uv run python deploy/helm/sync_settings.py --check  # fail if something is missing

The kit's settings (every service has them) go under ``config``; a service's own under
``components.<service>.config``; ``kafka.partners.agencies`` lists the agencies of the sample
directories shipped with referral (each gets its partner topics and Kafka user). The schema entry comes from the setting's pydantic field (type,
bounds, enum, pattern, description). Settings the chart derives (service name, Kafka bootstrap, …) and
secrets (only by Secret reference, see secretConfig) are left alone; tests/deploy/test_chart.py checks
the rest.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

from reintegra_kit.acl import SAMPLE_DIRECTORIES, agencies_in_directory
from reintegra_kit.registry import discover
from reintegra_kit.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "reintegra"
DERIVED = {
    "service_name",
    "kafka_bootstrap_servers",
    "consumer_group",
    "topic_prefix",
    "kafka_username",
    "database_url",
}
SECRET = re.compile(r"(password|secret|token|database_url|encryption_key|private_key)")
KEEP = (
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "enum",
    "pattern",
    "format",
    "items",
)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def field_schema(cls: type[ServiceSettings], field: str) -> dict[str, Any]:
    prop = cls.model_json_schema()["properties"][field]
    options = prop.get("anyOf", [prop])
    concrete = [o for o in options if o.get("type") != "null"]
    out = {k: v for k, v in (concrete[0] if concrete else {}).items() if k in KEEP}
    if out.get("format") in ("path", "duration"):
        out.pop("format")
    if len(concrete) < len(options):
        out["type"] = [out.get("type", "string"), "null"]
    return out


def yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def _plain(value: Any) -> Any:
    """A default as the chart writes it (durations in ISO 8601, paths as text)."""
    from datetime import timedelta

    if isinstance(value, timedelta):
        from pydantic import TypeAdapter

        return TypeAdapter(timedelta).dump_python(value, mode="json")
    if isinstance(value, Path):
        return str(value)
    return value


def main(check: bool) -> int:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values_text = (CHART / "values.yaml").read_text()
    props = schema["properties"]
    added: list[str] = []
    kit_fields = [f for f in ServiceSettings.model_fields if f not in DERIVED and not SECRET.search(f)]
    global_config = props["config"]["properties"]
    for field in kit_fields:
        key = camel(field)
        entry = field_schema(ServiceSettings, field)
        for target in [global_config] + [
            c["properties"]["config"]["properties"] for c in props["components"]["properties"].values()
        ]:
            if key not in target:
                target[key] = entry
                added.append(f"schema config.{key}")
        if not re.search(rf"^  {key}:", values_text, re.MULTILINE):
            default = ServiceSettings.model_fields[field].default
            values_text = re.sub(
                r"(^config:\n(?:  .*\n|\s*\n(?=  ))*)",
                lambda m, k=key, d=default: m.group(1) + f"  {k}: {yaml_value(d)}\n",
                values_text,
                count=1,
                flags=re.MULTILINE,
            )
            added.append(f"values config.{key}")
    for spec in discover(ROOT):
        build = importlib.import_module(f"{spec.module}.bootstrap").build
        cls = typing.get_type_hints(build)["settings"]
        component = props["components"]["properties"][spec.name]["properties"]["config"]["properties"]
        for field in cls.model_fields:
            if field in ServiceSettings.model_fields or field in DERIVED or SECRET.search(field):
                continue
            key = camel(field)
            if key not in component:
                component[key] = field_schema(cls, field)
                added.append(f"schema components.{spec.name}.config.{key}")
            values_text = re.sub(  # an empty map becomes a block the keys can go into
                rf"(^  {spec.name}:\n(?:    .*\n)*?)    config: \{{\}}\n",
                r"\1    config:\n",
                values_text,
                count=1,
                flags=re.M,
            )
            block = re.search(
                rf"^  {spec.name}:\n(?:    .*\n|\s*\n(?=    ))*?    config:\n((?:      .*\n)*)",
                values_text,
                re.M,
            )
            if block is None:
                raise SystemExit(f"values.yaml: components.{spec.name}.config not found")
            if not re.search(rf"^      {key}:", block.group(1), re.M):
                default = cls.model_fields[field].default
                line = f"      {key}: {yaml_value(_plain(default))}\n"
                values_text = values_text[: block.end(1)] + line + values_text[block.end(1) :]
                added.append(f"values components.{spec.name}.config.{key}")
    specs = discover(ROOT)
    produced = sorted({t for s in specs for t in s.produces if "{agency}" not in t})
    consumed = sorted({t for s in specs for t in s.consumes if "{agency}" not in t} - set(produced))
    for key, names in (("events", produced), ("extra", consumed)):
        listing_ = "".join(f"      - {name}\n" for name in names)
        found = re.search(rf"^    {key}:(?: \[\])?\n((?:      - .*\n)*)", values_text, re.M)
        if found is None:
            raise SystemExit(f"values.yaml: kafka.topics.{key} not found")
        wanted = f"    {key}:\n{listing_}" if names else f"    {key}: []\n"
        if found.group(0) != wanted:
            values_text = values_text[: found.start()] + wanted + values_text[found.end() :]
            added.append(f"values kafka.topics.{key}")
    agencies = agencies_in_directory(ROOT / SAMPLE_DIRECTORIES)
    listing = "".join(f"      - {code}\n" for code in agencies)
    current = re.search(r"^    agencies:\n((?:      - .*\n)*)", values_text, re.M)
    if current is None:
        raise SystemExit("values.yaml: kafka.partners.agencies not found")
    if current.group(1) != listing:
        values_text = values_text[: current.start(1)] + listing + values_text[current.end(1) :]
        added.append(f"values kafka.partners.agencies ({len(agencies)} agencies)")
    if check:
        for line in added:
            print(f"missing: {line}", file=sys.stderr)
        return 1 if added else 0
    (CHART / "values.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    (CHART / "values.yaml").write_text(values_text)
    print("\n".join(added) or "nothing to add")
    return 0


if __name__ == "__main__":
    raise SystemExit(main("--check" in sys.argv))
