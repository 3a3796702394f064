"""Apply Reintegra's Kafka users and ACLs (``reintegra_kit.acl``) to the local SASL broker.

As the super user ``admin``: create the topics the ACLs name, give every user a SCRAM-SHA-512
credential (passwords generated once into a credentials file, mode 0600), and make each user's ACLs
exactly the generated ones (missing ones created, others of that user deleted).
"""

from __future__ import annotations

import json
import os
import secrets
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():  # kafka-python loads its protocol schemas with a deprecated API
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.admin import (
        ACL,
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        NewTopic,
        ResourcePattern,
        ResourcePatternFilter,
        ResourceType,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )
from reintegra_kit.acl import KafkaUser

_OPERATIONS = {
    "Read": ACLOperation.READ,
    "Write": ACLOperation.WRITE,
    "Describe": ACLOperation.DESCRIBE,
    "Create": ACLOperation.CREATE,
}
_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERNS = {"literal": ACLResourcePatternType.LITERAL, "prefix": ACLResourcePatternType.PREFIXED}

AclKey = tuple[str, int, str, int, int]
"""(principal, resource type, resource name, pattern type, operation) of an ALLOW ACL on any host."""


@dataclass(frozen=True)
class Applied:
    users: int
    topics_created: list[str]
    acls_created: int
    acls_deleted: int


def load_credentials(path: Path, users: Sequence[KafkaUser]) -> dict[str, str]:
    """``{user: password}`` from ``path``, adding a random password for each new user (file mode 0600)."""
    known: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    changed = False
    for user in users:
        if user.name not in known:
            known[user.name] = secrets.token_urlsafe(24)
            changed = True
    if changed or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(known, out, indent=2, sort_keys=True)
        path.with_suffix(".tmp").replace(path)
    return known


def admin_client(bootstrap: str, admin_password: str) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="reintegra-acls",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="admin",
        sasl_plain_password=admin_password,
        request_timeout_ms=30_000,
    )


def desired_acls(user: KafkaUser) -> set[AclKey]:
    principal = f"User:{user.name}"
    return {
        (principal, int(_RESOURCES[a.resource]), a.name, int(_PATTERNS[a.pattern_type]), int(_OPERATIONS[op]))
        for a in user.acls
        for op in a.operations
    }


def _acl(key: AclKey) -> ACL:
    principal, resource, name, pattern, operation = key
    return ACL(
        principal,
        "*",
        ACLOperation(operation),
        ACLPermissionType.ALLOW,
        ResourcePattern(ResourceType(resource), name, ACLResourcePatternType(pattern)),
    )


def _filter(key: AclKey) -> ACLFilter:
    principal, resource, name, pattern, operation = key
    return ACLFilter(
        principal,
        "*",
        ACLOperation(operation),
        ACLPermissionType.ALLOW,
        ResourcePatternFilter(ResourceType(resource), name, ACLResourcePatternType(pattern)),
    )


def existing_acls(admin: KafkaAdminClient, principal: str) -> set[AclKey]:
    found, error = admin.describe_acls(
        ACLFilter(
            principal,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
    )
    if getattr(error, "errno", None):  # NoError has errno 0
        raise RuntimeError(f"describing the ACLs of {principal} failed: {error}")
    return {
        (
            acl.principal,
            int(acl.resource_pattern.resource_type),
            acl.resource_pattern.resource_name,
            int(acl.resource_pattern.pattern_type),
            int(acl.operation),
        )
        for acl in found
        if acl.permission_type == ACLPermissionType.ALLOW and acl.host == "*"
    }


def _wait_until_visible(admin: KafkaAdminClient, users: Sequence[KafkaUser], timeout_s: float = 30.0) -> None:
    """ACLs reach the authorizer through the metadata log a moment after they are accepted: wait, so
    that the caller's next step (and the next ``apply``) sees them."""
    deadline = time.monotonic() + timeout_s
    pending = list(users)
    while pending:
        pending = [u for u in pending if existing_acls(admin, f"User:{u.name}") != desired_acls(u)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"ACLs of {', '.join(u.name for u in pending)} not in effect after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


def apply(
    bootstrap: str,
    admin_password: str,
    users: Sequence[KafkaUser],
    passwords: dict[str, str],
    *,
    partitions: int = 3,
) -> Applied:
    """Make the broker's topics, users and ACLs match ``users`` (idempotent)."""
    admin = admin_client(bootstrap, admin_password)
    try:
        wanted_topics = sorted(
            {a.name for u in users for a in u.acls if a.resource == "topic" and a.pattern_type == "literal"}
        )
        missing = sorted(set(wanted_topics) - set(admin.list_topics()))
        if missing:
            admin.create_topics([NewTopic(t, partitions, 1) for t in missing], raise_errors=False)
        errors = admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion(u.name, ScramMechanism.SCRAM_SHA_512, passwords[u.name])
                for u in users
            ]
        )
        failed = {name: error for name, error in errors.items() if error}
        if failed:
            raise RuntimeError(f"could not set SCRAM credentials: {failed}")
        created = deleted = 0
        for user in users:
            want = desired_acls(user)
            have = existing_acls(admin, f"User:{user.name}")
            if want - have:
                result = admin.create_acls([_acl(k) for k in sorted(want - have)])
                if result.get("failed"):
                    raise RuntimeError(f"could not create ACLs of {user.name}: {result['failed']}")
                created += len(want - have)
            for extra in sorted(have - want):
                admin.delete_acls([_filter(extra)])
                deleted += 1
        _wait_until_visible(admin, users)
        return Applied(len(users), missing, created, deleted)
    finally:
        admin.close()
