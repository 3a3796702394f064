"""The access matrix, tested on every route of every service as its OpenAPI document lists it: no
route without a policy entry, 401 without a token or with a bad one, and for every role on every route
403 exactly when the policy grants that role nothing (the services built in process, with the kit's
Authorizer trusting the session's test issuer). Records outside a caller's scope are refused in
services/reception/tests/test_privacy_http.py (another centre), tests/test_referral_loop.py (another
agency's referral); a partner token without its agency claim is refused below."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from reintegra_kit.auth.policy import load_policy
from reintegra_kit.testing.auth import TestIssuer

SERVICES = ("reception", "assessment", "referral", "followup")
CLAIMS: dict[str, Any] = {"centre": "HN-CAMR-SPS", "country": "HN", "agency": "hn-senaf"}


def app_of(service: str, tmp_path: Path, auth: TestIssuer) -> Any:
    settings_module = importlib.import_module(f"reintegra_{service}.settings")
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    settings_class = next(
        getattr(settings_module, name)
        for name in dir(settings_module)
        if name.endswith("Settings") and name != "ServiceSettings"
    )
    settings = settings_class(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1", **auth.settings())
    return bootstrap.build(settings)[1]


def concrete(path: str) -> str:
    """The path with each parameter filled (a random id: no such record)."""
    return re.sub(r"\{[^}]+\}", lambda m: "hn-senaf" if "agency" in m.group(0) else str(uuid4()), path)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_refuses_without_a_token_and_grants_exactly_the_policys_roles(
    service: str, tmp_path: Path, auth: TestIssuer
) -> None:
    policy = load_policy()
    app = app_of(service, tmp_path, auth)
    client = TestClient(app, raise_server_exceptions=False)  # no lifespan: no database behind it
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    checked = 0
    for path, operations in document["paths"].items():
        for method in operations:
            operation = operations[method]
            url = concrete(path)
            if policy.is_open(path):
                assert operation["security"] == [], path
                assert client.request(method, url).status_code not in (401, 403), path
                continue
            entry = policy.route(service, method.upper(), path)
            assert entry is not None, f"{service} {method.upper()} {path}: no policy entry"
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path} documents no 401/403"
            assert operation["security"] == [{"bearer": []}], path
            anonymous = client.request(method, url)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["content-type"] == "application/problem+json"
            forged = client.request(method, url, headers={"Authorization": "Bearer e30.e30.c2ln"})
            assert forged.status_code == 401, (method, path, forged.text)
            for role in policy.roles:
                granted = role in policy.operations[entry.operation].grants
                response = client.request(method, url, headers=auth.headers(role, **CLAIMS))
                if granted:
                    # past the authorizer (no such record, or no database in this test): not refused
                    assert response.status_code not in (401, 403), (role, method, path, response.text)
                else:
                    assert response.status_code == 403, (role, method, path, response.text)
                    assert "rule role_not_granted" in response.json()["detail"]
                checked += 1
    assert checked >= len(policy.roles)


def test_a_scoped_grant_without_its_claim_reaches_nothing(tmp_path: Path, auth: TestIssuer) -> None:
    client = TestClient(app_of("referral", tmp_path, auth), raise_server_exceptions=False)
    no_agency = client.get("/v1/partner/referrals", headers=auth.headers("agency_partner", country="HN"))
    assert no_agency.status_code == 403
    assert "rule missing_scope_claim" in no_agency.json()["detail"]


def test_an_analyst_reaches_no_single_case_anywhere(tmp_path: Path, auth: TestIssuer) -> None:
    policy = load_policy()
    granted = {name for name, op in policy.operations.items() if "me_analyst" in op.grants}
    assert granted == {"report.read"}  # aggregates only
