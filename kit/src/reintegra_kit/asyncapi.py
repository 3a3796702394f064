"""AsyncAPI 3.0 documents of the services, generated from their FastStream brokers.

The documents say what is *implemented*, not what the catalogue plans: the runtime's subscribers are
annotated with the events their handlers take (:func:`documented_body`, documentation only: the value
stays the raw bytes the kit's consumer decodes and validates, so that bad records are parked), and a
documentation-only publisher per produced topic is typed with the events the service's registry entry
(``service.toml``) says it emits — the outbox refuses any other, so the two cannot drift.

``python -m reintegra_kit.asyncapi [--check]`` builds each service of the registry with its default
settings (nothing connects anywhere), writes ``docs/asyncapi/<service>.json`` and, with ``--check``,
fails when a committed document differs. The services are imported by name, so the kit does not
depend on them.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import operator
import os
import sys
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import PlainValidator
from reintegra_contracts import Event, all_event_classes
from reintegra_contracts.topics import DEAD_LETTER_SUFFIX

ENV_PREFIX = "REINTEGRA_"

CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "ce_specversion": {"type": "string", "const": "1.0", "description": "CloudEvents version."},
    "ce_id": {"type": "string", "description": "Unique id of the event (consumers deduplicate on it)."},
    "ce_source": {"type": "string", "description": "Producer, e.g. /reintegra/<service> or urn:…:agency."},
    "ce_type": {"type": "string", "description": "Event type; selects the payload schema."},
    "ce_subject": {
        "type": "string",
        "format": "uuid",
        "description": "Pseudonymous case id; equals the Kafka key and data.case_id.",
    },
    "ce_time": {"type": "string", "format": "date-time", "description": "When it happened (RFC 3339, UTC)."},
    "content-type": {"type": "string", "const": "application/json", "description": "Media type of data."},
    "traceparent": {
        "type": "string",
        "description": "W3C trace context of the producer span (the case's trace; optional).",
    },
    "tracestate": {"type": "string", "description": "W3C trace state, when there is one (optional)."},
    "ce_traceparent": {
        "type": "string",
        "description": "The same trace context as the CloudEvents distributed-tracing extension, which "
        "CloudEvents SDKs' Kafka bindings read (optional; consumers accept either header).",
    },
    "ce_tracestate": {"type": "string", "description": "Its trace state, when there is one (optional)."},
}

CORRELATION_ID: dict[str, Any] = {
    "description": "The case id: every event about one returnee carries it (also the Kafka key).",
    "location": "$message.header#/ce_subject",
}
"""What correlates the messages: the case. FastStream would document its own ``correlation_id``
header, a fresh value on every record it publishes; the kit's producer never sends that header."""

DLQ_HEADERS: dict[str, Any] = {
    name: {"type": "string", "description": description}
    for name, description in {
        "reintegra_dlq_reason": "Why the record was parked.",
        "reintegra_dlq_error_type": "Class of the error (or UnknownEventType).",
        "reintegra_dlq_original_topic": "Topic the record was read from.",
        "reintegra_dlq_original_partition": "Its partition.",
        "reintegra_dlq_original_offset": "Its offset.",
        "reintegra_dlq_consumer_group": "Consumer group that parked it.",
        "reintegra_dlq_attempts": "Handler attempts made.",
        "reintegra_dlq_stacktrace": "End of the last stack trace, if a handler failed (optional).",
    }.items()
}


# -- what the runtime declares -----------------------------------------------------------------------


def event_union(events: Sequence[type[Event]]) -> Any:
    """``A | B | …`` of ``events`` (``None`` when there is none), as a schema for the document."""
    if not events:
        return None
    return functools.reduce(operator.or_, sorted(events, key=lambda e: e.event_type))


def _keep(value: Any) -> Any:
    return value


def documented_body(events: Sequence[type[Event]]) -> Any:
    """A handler annotation that leaves the body as it is (raw bytes) but documents it as ``events``."""
    union = event_union(events)
    if union is None:
        return bytes
    return Annotated[bytes, PlainValidator(_keep, json_schema_input_type=union)]


# -- the document ------------------------------------------------------------------------------------


def build_document(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``service``, built from its runtime's broker (no network)."""
    from faststream.specification import AsyncAPI

    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    settings_class = typing.get_type_hints(bootstrap.build)["settings"]
    runtime, app = bootstrap.build(settings_class(log_level="ERROR"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overwritten channel or schema is a bug, not a detail
        spec = AsyncAPI(
            runtime.broker,
            title=app.title,
            version=app.version,
            description=app.description,
            schema_version="3.0.0",
        ).to_specification()
    document: dict[str, Any] = json.loads(spec.to_json())
    _family_addresses(document)
    _describe_servers(document)
    _describe_messages(document)
    return document


AGENCY_PATTERN = "[a-z0-9-]+"


def _family_addresses(document: dict[str, Any]) -> None:
    """A subscription by pattern (a per-agency topic family) is documented by its address template,
    ``reintegra.partner.{agency}.responses.v1``, with the ``agency`` parameter — not by the regex."""
    for channel in document.get("channels", {}).values():
        address = str(channel.get("address", ""))
        if address.startswith("^") and AGENCY_PATTERN in address:
            channel["address"] = address.strip("^$").replace(AGENCY_PATTERN, "{agency}").replace("\\.", ".")
        if "{agency}" in str(channel.get("address", "")):
            channel["parameters"] = {
                "agency": {
                    "description": "Code of the agency (lowercase letters, digits, hyphens), e.g. hn-senaf."
                }
            }


def _describe_servers(document: dict[str, Any]) -> None:
    for server in document.get("servers", {}).values():
        server["description"] = (
            "Kafka bootstrap servers: REINTEGRA_KAFKA_BOOTSTRAP_SERVERS (the default is shown); every "
            "topic name is prefixed with REINTEGRA_TOPIC_PREFIX (empty by default)."
        )


def _describe_messages(document: dict[str, Any]) -> None:
    """Add what FastStream cannot know: the CloudEvents headers, the key and the content type."""
    _describe_each_message(document)
    _drop_unused_schemas(document)


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    """Remove component schemas no longer referenced (the batch arrays unwrapped above)."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    text = json.dumps({k: v for k, v in document.items() if k != "components"}) + json.dumps(
        document.get("components", {}).get("messages", {})
    )
    for name in [n for n, s in schemas.items() if s.get("type") == "array" and "items" in s]:
        others = json.dumps({k: v for k, v in schemas.items() if k != name})
        if f"#/components/schemas/{name}" not in text + others:
            del schemas[name]


def _describe_each_message(document: dict[str, Any]) -> None:
    components = document.get("components", {})
    messages: dict[str, Any] = components.get("messages", {})
    schemas: dict[str, Any] = components.get("schemas", {})
    by_name = {e.__name__: e for e in all_event_classes()}
    for channel in document.get("channels", {}).values():
        parked = str(channel.get("address", "")).endswith(DEAD_LETTER_SUFFIX)
        for ref in channel.get("messages", {}).values():
            message = messages[_ref_name(ref["$ref"], "#/components/messages/")]
            if parked:
                key = {"type": "string", "description": "The original record's key (normally the case id)."}
                message["bindings"] = {"kafka": {"key": key, "bindingVersion": "0.5.0"}}
                message["summary"] = "A record that could not be processed, parked as it was read."
                message["headers"] = {"type": "object", "properties": DLQ_HEADERS}
                message.pop("correlationId", None)
                continue
            _unwrap_batch(message, schemas)
            key = {"type": "string", "format": "uuid", "description": "The case id (ce_subject)."}
            message["bindings"] = {"kafka": {"key": key, "bindingVersion": "0.5.0"}}
            events = [by_name[n] for n in _payload_names(message["payload"], schemas) if n in by_name]
            # one subscriber may read several topics: each topic only carries its own events
            own = [e for e in events if e.topic == channel.get("address")]
            if own and len(own) < len(events):
                refs = [{"$ref": f"#/components/schemas/{e.__name__}"} for e in own]
                message["payload"] = refs[0] if len(refs) == 1 else {"anyOf": refs}
            events = own or events
            headers = json.loads(json.dumps(CLOUDEVENTS_HEADERS))
            if events:
                headers["ce_type"]["enum"] = sorted(e.event_type for e in events)
            message["contentType"] = "application/json"
            message["correlationId"] = dict(CORRELATION_ID)
            message["summary"] = (
                "CloudEvents 1.0 in Kafka binary mode: attributes in ce_* headers, data as value."
            )
            message["headers"] = {
                "type": "object",
                "properties": headers,
                "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"],
            }


def _unwrap_batch(message: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A batch subscriber's payload is documented as an array; each Kafka record is one event, so the
    message's payload is the array's item."""
    ref = message.get("payload", {}).get("$ref")
    if ref is None:
        return
    name = _ref_name(ref, "#/components/schemas/")
    schema = schemas.get(name, {})
    if schema.get("type") == "array" and "items" in schema:
        message["payload"] = schema["items"]


def _ref_name(ref: str, prefix: str) -> str:
    assert ref.startswith(prefix), ref
    return unquote(ref.removeprefix(prefix))  # a per-agency channel's name has {agency}, escaped in a $ref


def _payload_names(payload: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    """The component schema names a payload stands for (itself, or the members of its union)."""
    inline = payload.get("anyOf") or payload.get("oneOf")
    if inline:
        return [_ref_name(m["$ref"], "#/components/schemas/") for m in inline if "$ref" in m]
    if "$ref" not in payload:
        return []
    name = _ref_name(payload["$ref"], "#/components/schemas/")
    members = schemas.get(name, {}).get("anyOf") or schemas.get(name, {}).get("oneOf")
    if not members:
        return [name]
    return [_ref_name(m["$ref"], "#/components/schemas/") for m in members if "$ref" in m]


def render(document: dict[str, Any]) -> str:
    """Deterministic JSON text of a document."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- command line ------------------------------------------------------------------------------------


def default_dir() -> Path:
    """``docs/asyncapi`` of the source checkout (or of the current directory, if installed elsewhere)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "docs").is_dir():
        root = Path.cwd()
    return root / "docs" / "asyncapi"


def _without_environment() -> None:
    """Drop ``REINTEGRA_*`` variables so that the documents depend on the code alone."""
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) ``<dir>/<service>.json`` for every service."""
    parser = argparse.ArgumentParser(description="Generate the services' AsyncAPI 3.0 documents.")
    parser.add_argument(
        "--dir", type=Path, default=default_dir(), help="output folder (default: %(default)s)"
    )
    parser.add_argument("--check", action="store_true", help="fail if a committed document is out of date")
    parser.add_argument("services", nargs="*", help="services (default: every service of the registry)")
    args = parser.parse_args(argv)
    if not args.services:
        from .registry import discover, repository_root

        args.services = [spec.name for spec in discover(repository_root())]
    directory: Path = args.dir
    _without_environment()
    wanted = {f"{s}.json": render(build_document(s)) for s in args.services}
    if args.check:
        drifted = [
            name
            for name, text in wanted.items()
            if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text
        ]
        for name in drifted:
            print(f"DRIFT {directory / name} differs from the services' brokers", file=sys.stderr)
        if drifted:
            print(
                "AsyncAPI documents are out of date; run: bash scripts/uv.sh run python -m reintegra_kit.asyncapi",
                file=sys.stderr,
            )
            return 1
        print(f"AsyncAPI documents in {directory} match the services ({len(wanted)} checked)")
        return 0
    directory.mkdir(parents=True, exist_ok=True)
    changed = 0
    for name, text in wanted.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed += 1
    print(f"wrote {len(wanted)} AsyncAPI documents to {directory} ({changed} changed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
