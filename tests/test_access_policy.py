"""Every route of every service has an entry in the access policy, and every entry names a real route:
nothing is open by omission, and the policy does not drift from the code."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from reintegra_kit.auth import matrix
from reintegra_kit.auth.policy import load_policy

SERVICES = ("reception", "assessment", "referral", "followup")


def routes_of(service: str, tmp_path: Path) -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation in the service's OpenAPI document."""
    settings_module = importlib.import_module(f"reintegra_{service}.settings")
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    settings_class = next(
        getattr(settings_module, name)
        for name in dir(settings_module)
        if name.endswith("Settings") and name != "ServiceSettings"
    )
    settings = settings_class(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    _, app = bootstrap.build(settings)
    document = app.openapi()
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_has_a_policy_entry_and_every_entry_a_route(service: str, tmp_path: Path) -> None:
    policy = load_policy()
    routes = routes_of(service, tmp_path)
    governed = {(m, p) for m, p in routes if not policy.is_open(p)}
    unlisted = sorted(f"{m} {p}" for m, p in governed if policy.route(service, m, p) is None)
    assert not unlisted, f"{service}: routes without a policy entry (refused to everybody): {unlisted}"
    stale = sorted(
        f"{r.method} {r.path}"
        for (s, _, _), r in policy.routes.items()
        if s == service and (r.method, r.path) not in routes
    )
    assert not stale, f"{service}: policy entries for routes that do not exist: {stale}"
    assert {p for _, p in routes if policy.is_open(p)} == {"/livez", "/readyz", "/metrics"}


def test_the_policy_names_only_these_services() -> None:
    assert set(load_policy().services()) == set(SERVICES)


def test_the_access_control_document_shows_the_policy_as_it_is(tmp_path: Path) -> None:
    """docs/access-control.md's matrix is generated from the policy file; a change to one without the
    other fails here (`uv run python -m reintegra_kit.auth.matrix` regenerates it)."""
    document = Path(__file__).resolve().parents[1] / matrix.DOCUMENT
    assert matrix.main(["--check", "--document", str(document)]) == 0
    stale = tmp_path / "access-control.md"
    stale.write_text(document.read_text().replace("| `case.read` | own_centre", "| `case.read` | all"))
    assert matrix.main(["--check", "--document", str(stale)]) == 1
