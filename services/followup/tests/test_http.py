"""Follow-up's HTTP edge: strict, bounded query parameters visible in the OpenAPI document."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reintegra_followup import http
from reintegra_kit.runtime.http import PROBLEM_JSON, create_app
from reintegra_kit.testing.auth import TestIssuer


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


def unreachable(*_: Any) -> Any:
    raise AssertionError("an invalid request must not reach the database")


@pytest.fixture(scope="module")
def client(auth: TestIssuer) -> TestClient:
    app = create_app(
        title="followup",
        description="",
        version="1",
        routers=[http.router(unreachable)],
        lifespan=nothing,
        authorizer=auth.authorizer("followup"),
    )
    worker = auth.headers("case_worker", centre="HN-CAMR-SPS", country="HN")
    return TestClient(app, raise_server_exceptions=False, headers=worker)


@pytest.mark.parametrize(
    "query",
    [
        "limit=5.0",
        "limit=0",
        "limit=501",
        "offset=-1",
        "offset=9223372036854775808",
        "offset=1e3",
        "status=late",
        "case_id=42",
    ],
)
def test_bad_list_parameters_are_refused(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/followups?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


def test_the_bounds_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/followups"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 500)
    assert (parameters["offset"]["minimum"], parameters["offset"]["maximum"]) == (0, 1_000_000)
    assert set(operation["responses"]) == {"200", "401", "403", "422", "503"}
    assert operation["security"] == [{"bearer": []}]
