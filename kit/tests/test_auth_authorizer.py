"""The Authorizer dependency on a small FastAPI app: 401 without a good token, 403 by the policy,
allowed and refused per scope (own centre, own agency, own country, all), lists filtered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request
from prometheus_client import REGISTRY
from reintegra_kit.auth import (
    Authorizer,
    CurrentAccess,
    JwksCache,
    RecordScope,
    TokenVerifier,
    load_policy,
)
from reintegra_kit.auth.issuing import JwksServer, SigningKey, access_token_claims
from reintegra_kit.auth.policy import Policy, parse_policy

AUDIENCE = "reintegra"
SERVICE = "casebook"

POLICY: dict[str, Any] = {
    "version": 1,
    "open": {"paths": ["/livez", "/readyz", "/metrics"]},
    "roles": {
        r: r.replace("_", " ")
        for r in (
            "reception_officer",
            "case_worker",
            "protection_officer",
            "agency_partner",
            "me_analyst",
            "auditor",
        )
    },
    "operations": {
        "case.create": {"description": "Open a case.", "grants": {"reception_officer": "own_centre"}},
        "case.read": {
            "description": "Read cases.",
            "grants": {
                "reception_officer": "own_centre",
                "protection_officer": "own_country",
                "auditor": "all",
            },
        },
        "referral.read": {
            "description": "Read referrals.",
            "grants": {"agency_partner": "own_agency", "case_worker": "own_centre"},
        },
        "report.read": {"description": "Aggregates.", "grants": {"me_analyst": "own_country"}},
    },
    "routes": {
        SERVICE: {
            "POST /v1/cases": "case.create",
            "GET /v1/cases": "case.read",
            "GET /v1/cases/{case_id}": "case.read",
            "GET /v1/referrals/{referral_id}": "referral.read",
            "GET /v1/reports": "report.read",
        }
    },
}

SPS = RecordScope(centre="HN-CAMR-SPS", country="HN")
GUA = RecordScope(centre="GT-CR-GUA", country="GT")
CASES = {"c-hn": SPS, "c-gt": GUA}
REFERRALS = {
    "r-senaf": RecordScope(centre="HN-CAMR-SPS", agency="hn-senaf", country="HN"),
    "r-sesal": RecordScope(centre="HN-CAMR-SPS", agency="hn-sesal", country="HN"),
}


async def record_scope(request: Request) -> RecordScope | None:
    """The casebook's one record-scope function: whose record each request touches."""
    route = request.scope["route"].path
    if route == "/v1/cases/{case_id}":
        return CASES.get(request.path_params["case_id"])
    if route == "/v1/referrals/{referral_id}":
        return REFERRALS.get(request.path_params["referral_id"])
    if route == "/v1/cases" and request.method == "POST":
        body = await request.json()
        return RecordScope(centre=body["centre"], country=body["country"])
    return None


def casebook(authorizer: Authorizer) -> FastAPI:
    app = FastAPI(title="casebook", dependencies=[Depends(authorizer)])

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/cases", status_code=201)
    async def create(body: dict[str, str]) -> dict[str, str]:
        return {"created": body["centre"]}

    @app.get("/v1/cases")
    async def list_cases(access: CurrentAccess) -> list[str]:
        return sorted(case_id for case_id, scope in CASES.items() if access.filter.permits(scope))

    @app.get("/v1/cases/{case_id}")
    async def get_case(case_id: str) -> dict[str, str]:
        if case_id not in CASES:
            raise HTTPException(404, f"case {case_id} not found")
        return {"case_id": case_id}

    @app.get("/v1/referrals/{referral_id}")
    async def get_referral(referral_id: str) -> dict[str, str]:
        return {"referral_id": referral_id}

    @app.get("/v1/reports")
    async def reports() -> dict[str, int]:
        return {"arrivals": 120}

    @app.get("/v1/unlisted")
    async def unlisted() -> dict[str, str]:
        return {"secret": "nobody wrote a policy entry for this"}

    return app


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture(scope="module")
def issuer(key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([key]).start()
    yield server
    server.stop()


def make_authorizer(issuer: JwksServer, policy: Policy, *, with_scope: bool = True) -> Authorizer:
    keys = JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url)
    verifier = TokenVerifier(issuer=issuer.issuer, audience=AUDIENCE, keys=keys)
    return Authorizer(policy, verifier, SERVICE, record_scope if with_scope else None)


@pytest.fixture
async def client(issuer: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    app = casebook(make_authorizer(issuer, parse_policy(POLICY)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://casebook") as http:
        yield http


def token(key: SigningKey, issuer: JwksServer, *roles: str, **attributes: str) -> dict[str, str]:
    claims = access_token_claims(
        issuer=issuer.issuer, audience=AUDIENCE, subject="staff-7", roles=roles, **attributes
    )
    return {"Authorization": f"Bearer {key.sign(claims)}"}


def refusals(rule: str) -> float:
    return (
        REGISTRY.get_sample_value("reintegra_access_refused_total", {"service": SERVICE, "rule": rule}) or 0.0
    )


async def test_open_paths_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).status_code == 200


async def test_no_token_is_401_with_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    before = refusals("missing_token")
    response = await client.get("/v1/cases")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="reintegra"'
    assert response.json()["detail"] == "a bearer token is required (rule missing_token)"
    assert refusals("missing_token") == before + 1


async def test_another_scheme_is_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401


async def test_a_bad_token_is_401_invalid_token(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    claims = access_token_claims(issuer=issuer.issuer, audience=AUDIENCE, roles=["auditor"], ttl_s=-3600)
    response = await client.get("/v1/cases", headers={"Authorization": f"Bearer {key.sign(claims)}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="reintegra", error="invalid_token", error_description="token expired"'
    )
    assert response.json()["detail"] == "token expired (rule token_expired)"


async def test_a_route_without_policy_entry_is_refused_to_everybody(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    response = await client.get("/v1/unlisted", headers=token(key, issuer, "auditor", "reception_officer"))
    assert response.status_code == 403
    assert "no policy entry for casebook GET /v1/unlisted" in response.json()["detail"]


async def test_a_role_without_the_operation_is_403_naming_role_and_operation(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    before = refusals("role_not_granted")
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/v1/cases/c-hn", headers=token(key, issuer, "me_analyst", country="HN"))
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "operation 'case.read' (GET /v1/cases/{case_id}) is not granted to your roles (me_analyst); "
        "it is granted to: auditor, protection_officer, reception_officer (rule role_not_granted)"
    )
    assert refusals("role_not_granted") == before + 1
    [line] = [entry for entry in logs if entry["event"] == "access.refused"]
    assert line == {
        "event": "access.refused",
        "log_level": "warning",
        "service": SERVICE,
        "status": 403,
        "rule": "role_not_granted",
        "route": "GET /v1/cases/{case_id}",
        "operation": "case.read",
        "subject": "staff-7",
        "agency": None,
        "roles": ["me_analyst"],
    }


async def test_the_analyst_gets_aggregates(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    response = await client.get("/v1/reports", headers=token(key, issuer, "me_analyst", country="HN"))
    assert response.status_code == 200


async def test_own_centre_reads_its_centre_and_not_another(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    officer = token(key, issuer, "reception_officer", centre="HN-CAMR-SPS", country="HN")
    assert (await client.get("/v1/cases/c-hn", headers=officer)).status_code == 200
    before = refusals("outside_scope")
    cross_centre = await client.get("/v1/cases/c-gt", headers=officer)
    assert cross_centre.status_code == 403
    assert cross_centre.json()["detail"] == (
        "the record is outside your scope: 'case.read' is granted to you on reception_officer: own_centre "
        "(yours: centre HN-CAMR-SPS, country HN) (rule outside_scope)"
    )
    assert refusals("outside_scope") == before + 1
    assert (await client.get("/v1/cases", headers=officer)).json() == ["c-hn"]


async def test_own_centre_creates_only_at_its_centre(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    officer = token(key, issuer, "reception_officer", centre="HN-CAMR-SPS", country="HN")
    here = await client.post("/v1/cases", json={"centre": "HN-CAMR-SPS", "country": "HN"}, headers=officer)
    assert (here.status_code, here.json()) == (201, {"created": "HN-CAMR-SPS"})
    there = await client.post("/v1/cases", json={"centre": "HN-CAMR-TGU", "country": "HN"}, headers=officer)
    assert there.status_code == 403


async def test_own_country_reads_the_country_and_not_another(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    officer = token(key, issuer, "protection_officer", agency="hn-senaf", country="HN")
    assert (await client.get("/v1/cases/c-hn", headers=officer)).status_code == 200
    assert (await client.get("/v1/cases/c-gt", headers=officer)).status_code == 403
    assert (await client.get("/v1/cases", headers=officer)).json() == ["c-hn"]


async def test_all_reaches_every_record(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    auditor = token(key, issuer, "auditor")
    assert (await client.get("/v1/cases/c-gt", headers=auditor)).status_code == 200
    assert (await client.get("/v1/cases", headers=auditor)).json() == ["c-gt", "c-hn"]


async def test_an_agency_reads_its_referrals_and_not_another_agencys(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    senaf = token(key, issuer, "agency_partner", agency="hn-senaf", country="HN")
    assert (await client.get("/v1/referrals/r-senaf", headers=senaf)).status_code == 200
    cross_agency = await client.get("/v1/referrals/r-sesal", headers=senaf)
    assert cross_agency.status_code == 403
    assert "agency_partner: own_agency (yours: agency hn-senaf, country HN)" in cross_agency.json()["detail"]
    assert (await client.get("/v1/cases/c-hn", headers=senaf)).status_code == 403  # cases: not granted


async def test_roles_add_up(client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer) -> None:
    both = token(key, issuer, "reception_officer", "protection_officer", centre="GT-CR-GUA", country="HN")
    assert (await client.get("/v1/cases", headers=both)).json() == ["c-gt", "c-hn"]


async def test_a_scope_the_token_cannot_place_reaches_nothing(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    no_centre = token(key, issuer, "reception_officer", country="HN")
    response = await client.get("/v1/cases", headers=no_centre)
    assert response.status_code == 403
    assert "missing_scope_claim" in response.json()["detail"]


async def test_a_missing_record_is_the_routes_404(
    client: httpx.AsyncClient, key: SigningKey, issuer: JwksServer
) -> None:
    officer = token(key, issuer, "reception_officer", centre="HN-CAMR-SPS", country="HN")
    assert (await client.get("/v1/cases/c-none", headers=officer)).status_code == 404


async def test_without_a_record_scope_function_only_all_reaches_single_records(
    issuer: JwksServer, key: SigningKey
) -> None:
    app = casebook(make_authorizer(issuer, parse_policy(POLICY), with_scope=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://casebook") as http:
        officer = token(key, issuer, "reception_officer", centre="HN-CAMR-SPS", country="HN")
        refused = await http.get("/v1/cases/c-hn", headers=officer)
        assert refused.status_code == 403
        assert "declares no record-scope function" in refused.json()["detail"]
        assert (await http.get("/v1/cases/c-hn", headers=token(key, issuer, "auditor"))).status_code == 200


async def test_openapi_declares_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert document["paths"]["/v1/cases"]["get"]["security"] == [{"bearer": []}]
    assert (await client.get("/docs")).status_code == 200  # the page with the Authorize button


async def test_the_shipped_policy_governs_reception_routes(issuer: JwksServer, key: SigningKey) -> None:
    app = FastAPI(
        dependencies=[
            Depends(
                Authorizer(
                    load_policy(),
                    make_authorizer(issuer, parse_policy(POLICY)).verifier,
                    "reception",
                    record_scope,
                )
            )
        ]
    )

    @app.get("/v1/cases/{case_id}")
    async def get_case(case_id: str) -> dict[str, str]:
        return {"case_id": case_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://reception") as http:
        officer = token(key, issuer, "reception_officer", centre="HN-CAMR-SPS", country="HN")
        assert (await http.get("/v1/cases/c-hn", headers=officer)).status_code == 200
        assert (await http.get("/v1/cases/c-gt", headers=officer)).status_code == 403
        partner = token(key, issuer, "agency_partner", agency="hn-senaf", country="HN")
        assert (await http.get("/v1/cases/c-hn", headers=partner)).status_code == 403
