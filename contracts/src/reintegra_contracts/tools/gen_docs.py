"""Generate the event catalogue ``docs/events.md`` from the models.

Usage (from the repository root)::

    bash scripts/uv.sh run python -m reintegra_contracts.tools.gen_docs           # write docs/events.md
    bash scripts/uv.sh run python -m reintegra_contracts.tools.gen_docs --check   # fail if it drifts from the models
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import codelists, topics
from ..base import Event
from ..samples import all_examples
from . import source_checkout
from .schemas import schema_for

CONTEXTS = (
    ("reception", "Reception / Recepción", topics.RECEPTION_EVENTS),
    ("assessment", "Assessment / Evaluación", topics.ASSESSMENT_EVENTS),
    ("referral", "Referral / Derivación", topics.REFERRAL_EVENTS),
    ("followup", "Follow-up / Seguimiento", topics.FOLLOWUP_EVENTS),
    ("directory", "Service directory / Directorio de servicios", topics.DIRECTORY_EVENTS),
    ("partner", "Partner channel / Canal de socios", None),
)


def default_path() -> Path | None:
    """``docs/events.md`` of the source checkout, if running from one."""
    root = source_checkout()
    return root.parent / "docs" / "events.md" if root else None


def implemented_by(root: Path | None = None) -> dict[str, list[str]]:
    """Event type → the services whose registry entry (``services/*/src/*/service.toml``) says they
    emit it (or, for a command, consume its topic). Read as data: the contracts do not import the kit
    or any service."""
    checkout = root or source_checkout()
    if checkout is None:
        return {}
    repo = checkout.parent if checkout.name == "contracts" else checkout
    found: dict[str, list[str]] = {}
    for path in sorted(repo.glob("services/*/src/*/service.toml")):
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
        for types in spec.get("produces", {}).values():
            for event_type in types:
                found.setdefault(event_type, []).append(str(spec["name"]))
        for cls in Event.registry.values():  # a command is implemented by the service consuming its topic
            if cls.kind == "command" and cls.topic in spec.get("consumes", ()):
                found.setdefault(cls.event_type, []).append(str(spec["name"]))
    return found


def _status(cls: type[Event], implemented: Mapping[str, list[str]]) -> str:
    emitters = implemented.get(cls.event_type)
    if emitters and cls.kind == "command":
        return f"implemented (accepted by {', '.join(emitters)})"
    if emitters:
        return f"implemented (emitted by {', '.join(emitters)})"
    if cls.kind == "command":
        return "planned (no service accepts it yet)"
    return "planned (in the published language; no service emits it yet)"


def _type_name(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return str(node["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " \\| ".join(_type_name(alt) for alt in node[key])
    kind = node.get("type")
    if kind == "array":
        return f"list[{_type_name(node.get('items', {}))}]"
    if kind == "string" and "format" in node:
        fmt = str(node["format"])
        return {"date-time": "datetime", "uuid": "uuid", "date": "date"}.get(fmt, fmt)
    if kind == "string" and "pattern" in node:
        return f"string `{node['pattern']}`"
    return str(kind or "any")


def _fields_table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        bounds = [f"{k} {prop[k]}" for k in ("minimum", "maximum", "minItems", "maxLength") if k in prop]
        meaning = str(prop.get("description", "")).replace("|", "\\|")
        if bounds:
            meaning += f" ({', '.join(bounds)})"
        lines.append(f"| `{name}` | {_type_name(prop)} | {'yes' if name in required else 'no'} | {meaning} |")
    return lines


def _section(cls: type[Event], example: Event, implemented: Mapping[str, list[str]]) -> list[str]:
    schema = schema_for(cls)
    doc = (cls.__doc__ or "").strip().splitlines()[0]
    topic = cls.topic.replace("{agency_id}", "<agency>")
    lines = [
        f"### {cls.__name__}",
        "",
        doc,
        "",
        f"- **type**: `{cls.event_type}` ({cls.kind})",
        f"- **status**: {_status(cls, implemented)}",
        f"- **topic**: `{topic}`",
        "- **key / ce_subject**: `case_id`"
        + (" (the agency's directory stream id, not a case)" if cls.topic == topics.DIRECTORY_EVENTS else ""),
        f"- **producer**: {cls.producer}",
        f"- **consumers**: {', '.join(cls.consumers) or '—'}",
        f"- **schema**: [`contracts/schemas/v1/{cls.event_type}.json`](../contracts/schemas/v1/{cls.event_type}.json)",
        "",
        *_fields_table(schema),
    ]
    nested = [(name, d) for name, d in schema.get("$defs", {}).items() if "properties" in d]
    for name, definition in nested:
        lines += ["", f"`{name}`: {definition.get('description', '')}", "", *_fields_table(definition)]
    lines += ["", "Example `data`:", "", "```json", example.model_dump_json(indent=2), "```", ""]
    return lines


def _codelists() -> list[str]:
    lines = ["## Code lists / Listas de códigos", ""]
    for enum in codelists.ALL_CODELISTS:
        doc = (enum.__doc__ or "").strip().splitlines()[0]
        lines += [f"### {enum.__name__}", "", doc, "", "| code | español | English |", "|---|---|---|"]
        for member in enum:
            lab = codelists.LABELS[enum][member.value]
            lines.append(f"| `{member.value}` | {lab.es} | {lab.en} |")
        lines.append("")
    lines += ["### Service categories on the level x dimension grid", "", "| level \\ dimension |"]
    dims = list(codelists.Dimension)
    lines[-1] += "".join(f" {d.value} |" for d in dims)
    lines.append("|---|" + "---|" * len(dims))
    for level in codelists.Level:
        cells = [", ".join(f"`{c.value}`" for c in codelists.categories_at(level, d)) for d in dims]
        lines.append(f"| {level.value} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Referral status and HL7 FHIR Task.status",
        "",
        "| status | FHIR Task.status | event |",
        "|---|---|---|",
    ]
    events = {
        "awaiting_consent": "ReferralHeld",
        "unmatched": "ReferralUnmatched",
        "requested": "ReferralRequested",
        "received": "ReferralReceived",
        "accepted": "ReferralAccepted",
        "rejected": "ReferralRejected",
        "cancelled": "ReferralCancelled",
        "in_progress": "ServiceStarted",
        "service_delivered": "ServiceDelivered",
        "failed": "ReferralFailed",
        "completed": "ReferralCompleted",
    }
    for status, fhir in codelists.FHIR_TASK_STATUS.items():
        lines.append(f"| `{status.value}` | `{fhir}` | {events[status.value]} |")
    lines.append("")
    return lines


def render(implemented: Mapping[str, list[str]] | None = None) -> str:
    """The whole catalogue as Markdown; ``implemented`` (default: the source checkout's registry) says
    which events a service emits today and which are planned."""
    implemented = implemented_by() if implemented is None else implemented
    examples = all_examples()
    by_context: dict[str, list[type[Event]]] = {}
    for cls in Event.registry.values():  # declaration order: the life cycle of each context
        by_context.setdefault(cls.event_type.split(".")[2], []).append(cls)
    lines = [
        "# Reintegra event catalogue (v1)",
        "",
        "<!-- GENERATED by `uv run python -m reintegra_contracts.tools.gen_docs`; do not edit by hand. -->",
        "",
        "Every message travels on Kafka as **CloudEvents 1.0 in binary mode**: the value is the JSON `data`",
        "below; the headers are `ce_specversion` (`1.0`), `ce_id`, `ce_source`, `ce_type`, `ce_time`,",
        "`ce_subject` (= the case id) and `content-type: application/json`. The Kafka key is the case id;",
        "the case id is also what correlates messages (there is no `correlation_id` header). Trace",
        "context travels twice, with the same value: W3C `traceparent` (and `tracestate` when there is",
        "one) and the CloudEvents distributed-tracing extension `ce_traceparent` (`ce_tracestate`), which",
        "CloudEvents SDKs' Kafka bindings read; Reintegra's consumers accept either (W3C first). Events",
        "carry pseudonymous ids only, never personal identifying data.",
        "Read and write them with `reintegra_contracts.decode` / `encode` (see `contracts/README.md`).",
        "",
        "## Topics",
        "",
        "| topic | carries |",
        "|---|---|",
        f"| `{topics.RECEPTION_EVENTS}` | reception events |",
        f"| `{topics.ASSESSMENT_EVENTS}` | assessment events |",
        f"| `{topics.REFERRAL_EVENTS}` | referral events |",
        f"| `{topics.FOLLOWUP_EVENTS}` | follow-up events |",
        f"| `{topics.DIRECTORY_EVENTS}` | service directory changes (key: the agency's directory stream id) |",
        "| `reintegra.partner.<agency>.v1` | minimised views for one agency (`topics.partner_topic`) |",
        "| `reintegra.partner.<agency>.responses.v1` | commands from that agency only "
        "(`topics.partner_responses_topic`) |",
        f"| `{topics.PARTNER_RESPONSES}` | deprecated since 1.2: nothing reads it (docs/adr/0040) |",
        f"| `{topics.RECEPTION_COMMANDS}` | commands to reception (announce a return) |",
        "| `<topic>.dlq` | messages parked after failing validation or processing |",
        "",
        "## Implemented and planned",
        "",
        "The catalogue is the whole v1 language; each entry says whether a service emits it today (its",
        "`service.toml` lists it, and the service's AsyncAPI document in `docs/asyncapi/` shows it) or it is",
        "planned.",
        "",
        "| context | implemented | planned |",
        "|---|---|---|",
    ]
    for context, title, _topic in CONTEXTS:
        members = [c for c in Event.registry.values() if c.event_type.split(".")[2] == context]
        done = [c.__name__ for c in members if implemented.get(c.event_type)]
        todo = [c.__name__ for c in members if not implemented.get(c.event_type)]
        lines.append(f"| {title} | {', '.join(done) or '—'} | {', '.join(todo) or '—'} |")
    lines.append("")
    for context, title, _topic in CONTEXTS:
        lines += [f"## {title}", ""]
        for cls in by_context.get(context, []):
            lines += _section(cls, examples[cls.event_type], implemented)
    lines += _codelists()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=default_path(), help="target file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="fail if the file drifts from the models")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required outside a source checkout")
    out: Path = args.out
    text = render()
    if args.check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            print(
                f"{out} drifts from the models; run: bash scripts/uv.sh run python -m reintegra_contracts.tools.gen_docs",
                file=sys.stderr,
            )
            return 1
        print(f"{out} matches the models")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
