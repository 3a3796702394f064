"""Kafka users and ACLs, derived from one source: the topic catalogue, what each service produces and
consumes, and the agencies of the service directory.

* each service (user ``reintegra-<service>``) may write only the topics its ``service.toml`` says it
  produces (a ``{agency}`` family — referral's partner topics — expands to every agency of the
  directory) and the dead-letter topics (``<topic>.dlq``) of what it consumes; it may read only what
  it consumes, in its own consumer groups (``reintegra-<service>`` and ``reintegra-<service>-<name>``:
  a prefixed group ACL);
* each agency (user ``agency-<code>``) may read only ``reintegra.partner.<code>.v1`` and write only
  ``reintegra.partner.<code>.responses.v1``, in its consumer group ``agency-<code>``.

Outputs: the local SASL broker's users and ACLs (``reintegra-stack kafka-acls``), and the file the Helm
chart turns into Strimzi ``KafkaUser`` resources (run from the repository root)::

    uv run python -m reintegra_kit.acl            # writes deploy/helm/reintegra/files/acls.json
    uv run python -m reintegra_kit.acl --check    # exit 1 if that file differs from the sources
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reintegra_contracts.topics import dead_letter_topic, is_agency_code, partner_topic

from .registry import TOPIC_PARAMETER, discover, repository_root

HELM_ACL_FILE = Path("deploy/helm/reintegra/files/acls.json")
SAMPLE_DIRECTORIES = Path("services/referral/src/reintegra_referral/directories")
"""The sample directories shipped with referral (one JSON file per country)."""

WRITE = ("Write", "Describe")
READ = ("Read", "Describe")
GROUP_READ = ("Read",)


@dataclass(frozen=True)
class ServiceTopics:
    """What one service does on Kafka: topic addresses, where ``{agency}`` stands for every agency."""

    produces: tuple[str, ...]
    consumes: tuple[str, ...] = ()


def service_topics(root: Path | None = None) -> dict[str, ServiceTopics]:
    """Who produces and consumes what, from the service registry (each service's ``service.toml``)."""
    specs = discover(root or repository_root())
    return {spec.name: ServiceTopics(tuple(spec.produces), tuple(spec.consumes)) for spec in specs}


def _expand(address: str, codes: Sequence[str]) -> list[str]:
    if TOPIC_PARAMETER not in address:
        return [address]
    return [address.replace(TOPIC_PARAMETER, code) for code in codes]


def partner_responses_topic(agency: str) -> str:
    """The topic on which agency ``agency`` answers its referrals (only that agency may write it)."""
    return partner_topic(agency).removesuffix(".v1") + ".responses.v1"


def service_user(service: str) -> str:
    return f"reintegra-{service}"


def agency_user(agency: str) -> str:
    return f"agency-{agency}"


@dataclass(frozen=True)
class Acl:
    """Operations allowed to a user on one resource (Strimzi's vocabulary: literal or prefix)."""

    resource: Literal["topic", "group"]
    name: str
    operations: tuple[str, ...]
    pattern_type: Literal["literal", "prefix"] = "literal"

    def as_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "name": self.name,
            "patternType": self.pattern_type,
            "operations": list(self.operations),
        }


@dataclass(frozen=True)
class KafkaUser:
    name: str
    kind: Literal["service", "agency"]
    acls: tuple[Acl, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "acls": [a.as_json() for a in self.acls]}

    @property
    def topics(self) -> list[str]:
        return [a.name for a in self.acls if a.resource == "topic"]


class _Grants:
    """Collects operations per resource, merging duplicates, in a stable order."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.topics: dict[str, set[str]] = {}
        self.groups: dict[str, set[str]] = {}
        self.prefixed_groups: dict[str, set[str]] = {}

    def topic(self, name: str, operations: Sequence[str]) -> None:
        self.topics.setdefault(self.prefix + name, set()).update(operations)

    def group(self, name: str) -> None:
        self.groups.setdefault(name, set()).update(GROUP_READ)

    def group_prefix(self, name: str) -> None:
        self.prefixed_groups.setdefault(name, set()).update(GROUP_READ)

    def acls(self) -> tuple[Acl, ...]:
        order = {op: i for i, op in enumerate(("Read", "Write", "Describe"))}

        def ops(found: set[str]) -> tuple[str, ...]:
            return tuple(sorted(found, key=lambda op: order.get(op, 99)))

        return tuple(
            [Acl("topic", name, ops(found)) for name, found in sorted(self.topics.items())]
            + [Acl("group", name, ops(found)) for name, found in sorted(self.groups.items())]
            + [
                Acl("group", name, ops(found), "prefix")
                for name, found in sorted(self.prefixed_groups.items())
            ]
        )


def kafka_users(
    agencies: Iterable[str],
    *,
    services: Mapping[str, ServiceTopics] | None = None,
    topic_prefix: str = "",
) -> list[KafkaUser]:
    """Every service's and every agency's Kafka user with its ACLs (services first, then agencies)."""
    codes = sorted(set(agencies))
    bad = [code for code in codes if not is_agency_code(code)]
    if bad:
        raise ValueError(f"not agency codes: {', '.join(map(repr, bad))}")
    users: list[KafkaUser] = []
    for service, topics in (services if services is not None else service_topics()).items():
        grants = _Grants(topic_prefix)
        consumed = [name for address in topics.consumes for name in _expand(address, codes)]
        for name in (name for address in topics.produces for name in _expand(address, codes)):
            grants.topic(name, WRITE)
        for name in consumed:
            grants.topic(name, READ)
            grants.topic(dead_letter_topic(name), WRITE)
        if consumed:
            # the service's consumer groups: reintegra-<service>, and reintegra-<service>-<consumer> for
            # its further consumers (e.g. referral's partner channel, reception's commands)
            grants.group_prefix(service_user(service))
        users.append(KafkaUser(service_user(service), "service", grants.acls()))
    for code in codes:
        grants = _Grants(topic_prefix)
        grants.topic(partner_topic(code), READ)
        grants.topic(partner_responses_topic(code), WRITE)
        grants.group(agency_user(code))
        users.append(KafkaUser(agency_user(code), "agency", grants.acls()))
    return users


def acl_document(users: Sequence[KafkaUser]) -> dict[str, Any]:
    """The Helm chart's ``files/acls.json``."""
    return {"users": [u.as_json() for u in users]}


def render(users: Sequence[KafkaUser]) -> str:
    return json.dumps(acl_document(users), indent=2) + "\n"


def agencies_in_directory(path: Path) -> list[str]:
    """The agency codes of a service directory file, or of every ``*.json`` of a folder of them
    (``agencies[].agency_id`` / ``.code``, ``services[].agency_id``)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    codes: set[object] = set()
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the service directory {file}: {exc}") from None
        codes |= {s.get("agency_id") for s in data.get("services", []) if isinstance(s, Mapping)}
        for agency in data.get("agencies", []):
            if isinstance(agency, Mapping):
                codes |= {agency.get("agency_id"), agency.get("code")}
    found = sorted(c for c in codes if isinstance(c, str))
    if not found:
        raise ValueError(f"{path} names no agency")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reintegra_kit.acl", description="Kafka users and ACLs for the Helm chart."
    )
    parser.add_argument(
        "--directory",
        type=Path,
        default=SAMPLE_DIRECTORIES,
        help="service directory JSON, or a folder of them",
    )
    parser.add_argument("--output", type=Path, default=HELM_ACL_FILE, help="file to write or check")
    parser.add_argument("--topic-prefix", default="", help="prefix of every physical topic name")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs; write nothing")
    args = parser.parse_args(argv)
    try:
        text = render(kafka_users(agencies_in_directory(args.directory), topic_prefix=args.topic_prefix))
    except ValueError as exc:
        print(f"acl: {exc}", file=sys.stderr)
        return 2
    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    if args.check:
        if current != text:
            print(
                f"acl: {args.output} is out of date; run `uv run python -m reintegra_kit.acl` and commit it",
                file=sys.stderr,
            )
            return 1
        print(f"acl: {args.output} is up to date", file=sys.stderr)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"acl: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
