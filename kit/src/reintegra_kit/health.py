"""Liveness and readiness endpoints (open by design: no token needed, and no internal details shown)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from .logging import get_logger

log = get_logger(__name__)

Check = Callable[[], Awaitable[None]]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Literal["ok", "failing"]] = Field(
        description="Each dependency (database, kafka) and whether it answers; the reason is in the logs."
    )


def health_router(checks: dict[str, Check], timeout_s: float = 2.0) -> APIRouter:
    """``GET /livez`` answers while the process runs; ``GET /readyz`` only when every check passes.

    Readiness shows which dependency fails, never why (host names, ports and error texts would tell an
    unauthenticated caller about the network inside); the reason goes to the log.
    """
    router = APIRouter(tags=["health"])

    @router.get("/livez", summary="Liveness: the process is running", response_model=Liveness)
    async def livez() -> Liveness:
        return Liveness(status="ok")

    @router.get(
        "/readyz",
        summary="Readiness: the database and Kafka answer",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: a dependency does not answer"}},
    )
    async def readyz(response: Response) -> Readiness:
        results: dict[str, Literal["ok", "failing"]] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=timeout_s)
                results[name] = "ok"
            except Exception as exc:
                log.info("health.check_failing", check=name, error=f"{type(exc).__name__}: {exc}"[:300])
                results[name] = "failing"
        ready = all(v == "ok" for v in results.values())
        if not ready:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(status="ready" if ready else "not ready", checks=results)

    return router
