"""Access control: bearer tokens from any OpenID Connect provider, one policy file, one FastAPI
dependency per service. See ``docs/access-control.md`` and ADR 0030."""

from __future__ import annotations

from .authorizer import (
    ACCESS_REFUSED,
    Access,
    Authorizer,
    CurrentAccess,
    RecordFilter,
    RecordScope,
    RecordScopeFunction,
    current_access,
    require_identity_provider,
)
from .policy import DEFAULT_POLICY_FILE, Policy, PolicyError, Route, Scope, load_policy
from .query import visible
from .tokens import ClaimNames, InvalidTokenError, JwksCache, KeysUnavailableError, Principal, TokenVerifier

__all__ = [
    "ACCESS_REFUSED",
    "DEFAULT_POLICY_FILE",
    "Access",
    "Authorizer",
    "ClaimNames",
    "CurrentAccess",
    "InvalidTokenError",
    "JwksCache",
    "KeysUnavailableError",
    "Policy",
    "PolicyError",
    "Principal",
    "RecordFilter",
    "RecordScope",
    "RecordScopeFunction",
    "Route",
    "Scope",
    "TokenVerifier",
    "current_access",
    "load_policy",
    "require_identity_provider",
    "visible",
]
