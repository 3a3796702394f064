"""Liveness and readiness endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response, status

Check = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, Check], timeout_s: float = 2.0) -> APIRouter:
    """``GET /livez`` answers while the process runs; ``GET /readyz`` only when every check passes."""
    router = APIRouter(tags=["health"])

    @router.get("/livez", summary="Liveness: the process is running")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: the database and Kafka answer")
    async def readyz(response: Response) -> dict[str, object]:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=timeout_s)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in results.values())
        if not ready:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "ready" if ready else "not ready", "checks": results}

    return router
