"""The HTTP part of the runtime: one FastAPI app per service, one error shape, one error mapping.

Every error answer is an RFC 9457 *problem details* object (``application/problem+json``)::

    {"type": "urn:reintegra:problem:conflict", "title": "Conflicts with the current state",
     "status": 409, "detail": "referral is 'completed'; it cannot accept", "instance": "/v1/...",
     "code": "conflict", "errors": null}

The mapping lives here and nowhere else: request validation → 422 (400 when the body is not JSON at
all), a :class:`~reintegra_kit.domain.DomainError` → its ``http_status``, a concurrent change or a
write that collides with an existing row (a unique constraint) → 409, an unknown route → 404, a database or broker outage → 503 with ``Retry-After`` (counted), anything
else → 500 without details. The OpenAPI document is completed to match: every operation documents
the problem answers it can give, so that what a service returns is what it promises (schemathesis
checks it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..auth.authorizer import REALM, Authorizer, bearer_scheme
from ..domain import DomainError
from ..errors import is_infrastructure_error
from ..logging import get_logger
from ..metrics import OPERATIONAL_PATHS
from ..repository import StaleAggregateError

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:reintegra:problem:"
RETRY_AFTER_S = 5


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Dotted path of the field (e.g. person.date_of_birth), or 'body'.")
    message: str = Field(description="What is wrong with it.")
    type: str = Field(description="Machine-readable kind of error (pydantic's error type).")
    line: int | None = Field(default=None, description="Line of an uploaded file (e.g. a manifest), if any.")


class Problem(BaseModel):
    """An error answer: RFC 9457 problem details, with Reintegra's ``code`` and per-field ``errors``."""

    type: str = Field(description="URI naming the kind of problem (urn:reintegra:problem:<code>).")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong with this request.")
    instance: str | None = Field(default=None, description="The request path.")
    code: str = Field(description="Stable machine-readable name of the problem.")
    errors: list[FieldProblem] | None = Field(default=None, description="Invalid fields (validation).")


_DIGITS = re.compile(r"[0-9]+")


def whole_number(value: Any) -> Any:
    """A query or path value is text: accept a whole number written in digits only, so that ``5.0``,
    ``+5`` or `` 5`` are refused like ``42.0`` in a JSON body (strict types at the API edge)."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in digits")
    return value


# The bounds sit on the inner type (with the digits check) so that they reach the OpenAPI schema as
# minimum/maximum; Query only documents.
Limit = Annotated[
    Annotated[int, Field(ge=1, le=500), BeforeValidator(whole_number)],
    Query(description="Page size (1 to 500)."),
]
"""The ``limit`` of a list endpoint: 1 to 500 items."""

Offset = Annotated[
    Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(whole_number)],
    Query(description="Items to skip (0 to 1,000,000)."),
]
"""The ``offset`` of a list endpoint, bounded (an unbounded one overflows the database's integers)."""


STANDARD_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not well-formed JSON",
    401: "Not authenticated (no token, or a bad one)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid request: each bad field is named",
    503: "The database or the broker is unavailable; retry after Retry-After seconds",
}


def problems(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the problem answers it can give beyond the standard ones
    (e.g. ``problems(404, 409)``); ``descriptions`` override the text per status (``_409="…"``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        text = descriptions.get(f"_{status}", STANDARD_DESCRIPTIONS.get(status, "Problem"))
        out[status] = {"description": text, "model": Problem, "content": {PROBLEM_JSON: {}}}
    return out


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None,
    request: Request,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_PREFIX + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=[FieldProblem(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        status_code=status,
        content=body.model_dump(mode="json"),
        media_type=PROBLEM_JSON,
        headers=headers,
    )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405: every method some route of the app serves at this path (Starlette lists
    only the first matching route's, so a path with a GET route and a POST route would allow just one).
    Asked of the routes themselves, method by method, so included routers are looked into too."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(sorted(allowed))


OnUnavailable = Callable[[], None]


def install_error_handlers(app: FastAPI, on_unavailable: OnUnavailable | None = None) -> None:
    """Map every error to a problem-details answer (the one place that does)."""

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path"))
                or str(err["loc"][0] if err["loc"] else "body"),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                400, "malformed-body", "Malformed body", "the body is not well-formed JSON", request
            )
        return problem_response(
            422,
            "invalid-request",
            "Invalid request",
            "; ".join(f"{e['field']}: {e['message']}" for e in errors)[:1000],
            request,
            errors=errors,
        )

    async def domain(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        errors = exc.details.get("errors")
        return problem_response(
            exc.http_status,
            exc.code,
            exc.title,
            str(exc),
            request,
            errors=list(errors) if isinstance(errors, list | tuple) else None,
        )

    async def stale(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            409,
            "concurrent-change",
            "Changed concurrently",
            f"{exc}; read it again and retry",
            request,
        )

    async def collision(request: Request, exc: Exception) -> JSONResponse:
        # A unique constraint refused the write: what was sent collides with a record written before
        # (or at the same moment). Not a crash; the constraint and the row stay out of the answer.
        log.warning("http.conflict", path=request.url.path, error=repr(exc)[:300])
        return problem_response(
            409,
            "conflict",
            "Conflicts with the current state",
            "a record with these values already exists",
            request,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated", 403: "forbidden"}
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return problem_response(
            exc.status_code,
            code.get(exc.status_code, f"http-{exc.status_code}"),
            STANDARD_DESCRIPTIONS.get(exc.status_code, "Problem"),
            str(exc.detail),
            request,
            headers=headers or None,
        )

    async def infrastructure(request: Request, exc: Exception) -> JSONResponse:
        if not is_infrastructure_error(exc):
            log.error("http.unexpected_error", path=request.url.path, error=repr(exc)[:500])
            return problem_response(500, "internal", "Internal error", None, request)
        log.warning("http.unavailable", path=request.url.path, error=repr(exc)[:300])
        if on_unavailable is not None:
            on_unavailable()
        return problem_response(
            503,
            "unavailable",
            "Service unavailable",
            "the database or the broker does not answer; retry later",
            request,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(DomainError, domain)
    app.add_exception_handler(StaleAggregateError, stale)
    app.add_exception_handler(IntegrityError, collision)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for cls in (DBAPIError, OSError, TimeoutError, Exception):
        app.add_exception_handler(cls, infrastructure)


def _problem_ref(components: dict[str, Any]) -> dict[str, Any]:
    schemas = components.setdefault("schemas", {})
    for name in ("Problem", "FieldProblem"):
        if name not in schemas:
            model = Problem if name == "Problem" else FieldProblem
            schemas[name] = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas[name].pop("$defs", None)
    return {"$ref": "#/components/schemas/Problem"}


def _problem_response(description: str, ref: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": ref}}, **extra}


WRITES = frozenset({"post", "put", "patch", "delete"})


def complete_openapi(document: dict[str, Any], open_paths: Sequence[str]) -> dict[str, Any]:
    """Document the answers the error mapping and the access policy give on every operation outside
    ``open_paths``: the bearer token it needs, 401 (no token or a bad one), 403 (the policy says no), 422
    (parameters or a body), 400 (a body), 409 (a write: a concurrent change or a collision), 503, each
    as problem details. Open paths declare that they need no token."""
    components = document.setdefault("components", {})
    ref = _problem_ref(components)
    schemes = components.setdefault("securitySchemes", {})
    schemes[bearer_scheme.scheme_name] = bearer_scheme.model.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    security: list[dict[str, list[str]]] = [{bearer_scheme.scheme_name: []}]
    for path, operations in document.get("paths", {}).items():
        if path in open_paths:
            for operation in operations.values():
                operation["security"] = []  # open by design (the policy's [open] paths)
            continue  # health and metrics answer in their own shapes
        for method, operation in operations.items():
            operation["security"] = security
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                content = response.get("content", {})
                if status.startswith(("4", "5")) and PROBLEM_JSON not in content:
                    responses[status] = _problem_response(response.get("description", "Problem"), ref)
                elif status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
            has_input = bool(operation.get("parameters")) or "requestBody" in operation
            if has_input:
                responses["422"] = _problem_response(STANDARD_DESCRIPTIONS[422], ref)
            if "requestBody" in operation:
                responses["400"] = _problem_response(STANDARD_DESCRIPTIONS[400], ref)
            responses["401"] = _problem_response(
                STANDARD_DESCRIPTIONS[401],
                ref,
                headers={
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": f'The challenge (RFC 6750): Bearer realm="{REALM}", and why a token '
                        "was refused.",
                    }
                },
            )
            responses["403"] = _problem_response(STANDARD_DESCRIPTIONS[403], ref)
            if method in WRITES and "409" not in responses:
                responses["409"] = _problem_response(STANDARD_DESCRIPTIONS[409], ref)
            responses["503"] = _problem_response(
                STANDARD_DESCRIPTIONS[503],
                ref,
                headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
            )
    schemas = components.get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def _untraced(scope: Any) -> bool:
    return scope.get("path") in OPERATIONAL_PATHS  # the probes and the scrape get no span


HTTP_TELEMETRY: TelemetryConfig = {
    "tracing": True,
    "metrics": False,  # the kit's Prometheus middleware counts requests (reintegra_kit.metrics)
    "logs": False,  # the kit logs through structlog
    "operation_spans": False,  # no span per dependency, endpoint and serialization: the request's is enough
    "auto_configure": False,  # the kit configures the tracer provider and its exporter (telemetry.py)
    "exclude": _untraced,
}
"""FastAPI's OpenTelemetry support as the services use it (ADR 0035): a server span per request."""


def create_app(
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[Any],
    lifespan: Callable[[], contextlib.AbstractAsyncContextManager[None]],
    authorizer: Authorizer,
    on_unavailable: OnUnavailable | None = None,
    dependencies: Sequence[Any] = (),
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The service's FastAPI app: its routers, the error mapping, its HTTP server spans and the
    completed OpenAPI document.

    The spans are FastAPI's own OpenTelemetry support (:data:`HTTP_TELEMETRY`): one server span per
    request, ``<method> <route>``, with the semantic conventions' attributes, made with
    ``tracer_provider`` (the global one when ``None``) and continuing the caller's ``traceparent``.

    ``authorizer`` guards every route of the app (an app dependency: the one place access is
    enforced); only the policy's open paths answer without a token. FastAPI's own ``/docs`` and
    ``/openapi.json`` are plain routes outside it: the API's description, no data."""

    @contextlib.asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        async with lifespan():
            yield

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=run,
        dependencies=[Depends(authorizer), *dependencies],
        swagger_ui_parameters={"persistAuthorization": True},
        telemetry={**HTTP_TELEMETRY, "tracer_provider": tracer_provider},
    )
    app.state.authorizer = authorizer
    open_paths = sorted(authorizer.policy.open_paths)
    for router in routers:
        app.include_router(router)
    install_error_handlers(app, on_unavailable)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete_openapi(document, open_paths)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


Check = Callable[[], Awaitable[None]]
