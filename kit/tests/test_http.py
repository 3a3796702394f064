"""One error shape (RFC 9457 problem details), mapped in one place, and documented on every route."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, StrictInt
from reintegra_kit.domain import ConflictError, IllegalTransitionError, NotFoundError
from reintegra_kit.repository import StaleAggregateError
from reintegra_kit.runtime.http import PROBLEM_JSON, create_app, problems
from reintegra_kit.testing.auth import TestIssuer, policy_for
from sqlalchemy.exc import IntegrityError, OperationalError


class Body(BaseModel):
    count: StrictInt


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


ROUTES = ("POST /v1/things", "GET /v1/things/{thing_id}", "PUT /v1/plain")


def app(auth: TestIssuer, unavailable: list[int] | None = None) -> TestClient:
    api = APIRouter(prefix="/v1")

    @api.post("/things", responses=problems(409))
    async def post(body: Body) -> dict[str, int]:
        if body.count == 409:
            raise ConflictError("thing already exists")
        if body.count == 410:
            raise IllegalTransitionError("referral", "completed", "be accepted")
        if body.count == 411:
            raise StaleAggregateError("referrals r1 changed since it was loaded")
        if body.count == 412:
            raise IntegrityError("INSERT", {}, Exception('duplicate key value violates "uq_things_ref"'))
        if body.count == 503:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        if body.count == 500:
            raise RuntimeError("a bug")
        return {"count": body.count}

    @api.get("/things/{thing_id}", responses=problems(404))
    async def get(thing_id: int) -> dict[str, int]:
        raise NotFoundError(f"thing {thing_id} not found")

    counted = unavailable if unavailable is not None else []
    built = create_app(
        title="t",
        description="d",
        version="1",
        routers=[api],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", ROUTES)),
        on_unavailable=lambda: counted.append(1),
    )
    return TestClient(built, raise_server_exceptions=False, headers=auth.headers("operator"))


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:reintegra:problem:{code}"
    return body


def test_an_invalid_request_names_each_field_and_rejects_lax_types(auth: TestIssuer) -> None:
    body = problem(app(auth).post("/v1/things", json={"count": 4.0}), 422, "invalid-request")
    assert body["errors"][0]["field"] == "count"
    assert body["instance"] == "/v1/things"
    problem(app(auth).post("/v1/things", json={"count": False}), 422, "invalid-request")


def test_a_body_that_is_not_json_is_400(auth: TestIssuer) -> None:
    response = app(auth).post("/v1/things", content=b"{nope", headers={"content-type": "application/json"})
    problem(response, 400, "malformed-body")


def test_domain_errors_become_their_status_with_the_reason(auth: TestIssuer) -> None:
    client = app(auth)
    assert problem(client.post("/v1/things", json={"count": 409}), 409, "conflict")["detail"] == (
        "thing already exists"
    )
    illegal = problem(client.post("/v1/things", json={"count": 410}), 409, "illegal-transition")
    assert illegal["detail"] == "referral is 'completed'; it cannot be accepted"
    problem(client.post("/v1/things", json={"count": 411}), 409, "concurrent-change")
    collision = problem(client.post("/v1/things", json={"count": 412}), 409, "conflict")
    assert "uq_things_ref" not in collision["detail"]
    problem(client.get("/v1/things/7"), 404, "not-found")
    problem(client.get("/v1/nowhere"), 404, "not-found")


def test_a_database_outage_is_503_with_retry_after_and_counted(auth: TestIssuer) -> None:
    counted: list[int] = []
    response = app(auth, counted).post("/v1/things", json={"count": 503})
    body = problem(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert "connection refused" not in body["detail"]
    assert counted == [1]


def test_an_unexpected_error_is_500_without_details(auth: TestIssuer) -> None:
    body = problem(app(auth).post("/v1/things", json={"count": 500}), 500, "internal")
    assert body["detail"] is None


def test_a_method_not_allowed_lists_every_method_of_the_path_even_across_routes(auth: TestIssuer) -> None:
    # GET and POST of one path are separate routes; Starlette alone would allow only the first one's.
    api = APIRouter(prefix="/v1")

    @api.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @api.put("/items/{item_id}")
    async def write(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @api.delete("/items/{item_id}")
    async def remove(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @api.post("/items/{item_id}/archive")  # a longer path: not one of the methods of /items/{item_id}
    async def archive(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    routes = [f"{m} /v1/items/{{item_id}}" for m in ("GET", "PUT", "DELETE")] + [
        "POST /v1/items/{item_id}/archive"
    ]
    built = create_app(
        title="t",
        description="d",
        version="1",
        routers=[api],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", routes)),
    )
    client = TestClient(built, headers=auth.headers("operator"))
    for method in ("OPTIONS", "POST", "PATCH"):
        response = client.request(method, "/v1/items/7")
        problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "DELETE, GET, PUT"
    response = client.request("GET", "/v1/items/7/archive")
    problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


def test_the_openapi_document_promises_exactly_these_answers(auth: TestIssuer) -> None:
    document = app(auth).get("/openapi.json").json()
    post = document["paths"]["/v1/things"]["post"]["responses"]
    assert set(post) == {"200", "400", "401", "403", "409", "422", "503"}
    for status in ("400", "401", "403", "409", "422", "503"):
        assert post[status]["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "Retry-After" in post["503"]["headers"]
    get = document["paths"]["/v1/things/{thing_id}"]["get"]["responses"]
    assert set(get) == {"200", "401", "403", "404", "422", "503"}
    assert "WWW-Authenticate" in post["401"]["headers"]
    assert document["paths"]["/v1/things"]["post"]["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert {"Problem", "FieldProblem"} <= set(document["components"]["schemas"])


def test_every_write_documents_409_as_the_mapping_can_answer_it_on_any_write(auth: TestIssuer) -> None:
    api = APIRouter()

    @api.put("/v1/plain")
    async def put() -> dict[str, int]:
        return {}

    built = create_app(
        title="t",
        description="d",
        version="1",
        routers=[api],
        lifespan=nothing,
        authorizer=auth.authorizer("t", policy=policy_for("t", ROUTES)),
    )
    responses = TestClient(built).get("/openapi.json").json()["paths"]["/v1/plain"]["put"]["responses"]
    assert set(responses) == {"200", "401", "403", "409", "503"}


def test_refusals_are_problem_details_and_every_route_is_guarded(auth: TestIssuer) -> None:
    client = app(auth)
    anonymous = client.post("/v1/things", json={"count": 1}, headers={"Authorization": ""})
    body = problem(anonymous, 401, "unauthenticated")
    assert "bearer token is required" in body["detail"]
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="reintegra"'
    bad = client.get("/v1/things/7", headers={"Authorization": "Bearer not-a-jwt"})
    problem(bad, 401, "unauthenticated")
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    refused = client.get("/v1/things/7", headers=auth.headers("case_worker", centre="HN-CAMR-SPS"))
    assert "not granted to your roles" in problem(refused, 403, "forbidden")["detail"]
    # a route the policy does not list is refused even to a granted role: nothing open by omission
    problem(client.get("/v1/nowhere"), 404, "not-found")  # no such route: 404 before any decision
    assert client.get("/docs").status_code == 200  # the description of the API stays readable
    assert client.get("/openapi.json").status_code == 200


def test_an_app_without_an_identity_provider_refuses_every_protected_request(auth: TestIssuer) -> None:
    from reintegra_kit.auth import Authorizer

    api = APIRouter()

    @api.get("/v1/things/{thing_id}")
    async def get(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    unconfigured = Authorizer(policy_for("t", ROUTES), None, "t")
    built = create_app(
        title="t", description="d", version="1", routers=[api], lifespan=nothing, authorizer=unconfigured
    )
    response = TestClient(built).get("/v1/things/1", headers=auth.headers("operator"))
    assert "no identity provider configured" in problem(response, 503, "http-503")["detail"]
