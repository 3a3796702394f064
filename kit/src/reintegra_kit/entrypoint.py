"""``python -m reintegra_<service>``: read settings, build the service, serve until SIGTERM."""

from __future__ import annotations

import gc
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
    tune_garbage_collector()
    runtime.serve(app)


GC_THRESHOLDS = (20_000, 20, 20)
"""Young objects between collections (Python's default: 700), and the default ratios of the older
generations."""


def tune_garbage_collector() -> None:
    """Leave what start-up built (modules, the app, the routes, the compiled schemas) out of every
    collection (``gc.freeze``), and collect the young generation less often. A service allocates
    briefly-lived objects by the thousand per batch; at Python's default threshold it collected them
    ~700 times and promoted survivors ~60 times in a 1,000-case run — 4-7 % of each service's CPU
    (docs/performance.md). Reference counting still frees everything not in a cycle at once; the
    collector only finds cycles, a little later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
