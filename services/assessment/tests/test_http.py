"""Assessment's HTTP edge: strict types, and every constraint visible in the OpenAPI document."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from reintegra_assessment import http
from reintegra_kit.auth import RecordScope
from reintegra_kit.runtime.http import PROBLEM_JSON, create_app
from reintegra_kit.testing.auth import TestIssuer


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


def unreachable(*_: Any) -> Any:
    raise AssertionError("an invalid request must not reach the bus or the database")


async def in_centre(_: Request) -> RecordScope:
    """No database: every assessment is of the caller's centre."""
    return RecordScope(centre="HN-CAMR-SPS", country="HN")


@pytest.fixture(scope="module")
def client(auth: TestIssuer) -> TestClient:
    # Invalid requests are refused before any handler runs: no bus, no database needed.
    app = create_app(
        title="assessment",
        description="",
        version="1",
        routers=[http.router(unreachable, unreachable)],  # type: ignore[arg-type]
        lifespan=nothing,
        authorizer=auth.authorizer("assessment", record_scope=in_centre),
    )
    worker = auth.headers("case_worker", centre="HN-CAMR-SPS", country="HN")
    return TestClient(app, raise_server_exceptions=False, headers=worker)


SCORES = {"economic": 0.5, "social": 0.25, "psychosocial": 1, "composite": 0.5}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scores": {**SCORES, "economic": "0.5"}}, "scores.economic"),  # a number as text
        ({"scores": {**SCORES, "social": True}}, "scores.social"),  # a boolean as a number
        ({"scores": {**SCORES, "composite": 1.5}}, "scores.composite"),  # out of 0..1
        ({"scores": {**SCORES, "extra": 1}}, "scores.extra"),  # unknown field
        ({"instrument": 7}, "instrument"),  # a number as text
        ({"instrument": ""}, "instrument"),
        ({"needs": [{"category": "employment", "priority": 3}]}, "needs.0.priority"),
        ({"needs": [{"category": "housing"}] * 51}, "needs"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_lax_or_out_of_bounds_completion_is_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/v1/assessments/{uuid4()}/completion", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=5.0",
        "limit=0",
        "limit=501",
        "offset=-1",
        "offset=9223372036854775808",
        "limit=%2B5",
        "status=done",
    ],
)
def test_bad_list_parameters_are_refused(client: TestClient, query: str) -> None:
    response = client.get(f"/v1/assessments?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "body",
    [
        {"instrument": "rss\u0000"},  # PostgreSQL cannot store a NUL: this answered 500 (schemathesis ST101)
        {"instrument_version": "Z\u001b"},
        {"instrument": "rss\n2"},
    ],
)
def test_control_characters_in_the_instrument_are_refused_not_a_server_error(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post(f"/v1/assessments/{uuid4()}/completion", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == list(body)


def test_the_constraints_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    scores = schemas["ScoresIn"]
    assert scores["additionalProperties"] is False
    assert scores["properties"]["economic"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "title": "Economic",
    }
    completion = schemas["CompletionIn"]
    assert completion["additionalProperties"] is False
    assert completion["properties"]["needs"]["maxItems"] == 50
    assert completion["properties"]["instrument"]["minLength"] == 1
    for name in ("instrument", "instrument_version"):
        assert completion["properties"][name]["pattern"] == "^[^\\x00-\\x1f\\x7f]*$"
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/v1/assessments"]["get"]["parameters"]}
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 500)
    assert (parameters["offset"]["minimum"], parameters["offset"]["maximum"]) == (0, 1_000_000)
