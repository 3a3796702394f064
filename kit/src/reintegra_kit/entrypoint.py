"""``python -m reintegra_<service>``: read settings, build the service, serve until SIGTERM."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from .auth.authorizer import require_identity_provider
from .auth.policy import PolicyError, load_policy
from .settings import ServiceSettings, SettingsError, load_settings

S = TypeVar("S", bound=ServiceSettings)


def run_service(settings_class: type[S], build: Callable[[S], tuple[Any, Any]]) -> None:
    """Start a service process; exit with status 2 and one line per problem if the settings or the
    access policy are wrong, or if no identity provider is configured (no request is served without
    authentication)."""
    try:
        settings = load_settings(settings_class)
        require_identity_provider(settings)
        load_policy(settings.auth_policy_file)  # refuse a bad policy before anything starts
        runtime, app = build(settings)
    except (SettingsError, PolicyError) as exc:
        print(f"reintegra: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    runtime.serve(app)
