from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from reintegra_kit.health import health_router


async def ok() -> None:
    return None


async def down() -> None:
    raise ConnectionError("Kafka at 127.0.0.1:9092 does not answer")


def client(checks: dict) -> TestClient:  # type: ignore[type-arg]
    app = FastAPI()
    app.include_router(health_router(checks))
    return TestClient(app)


def test_ready_only_when_every_dependency_answers() -> None:
    assert client({"database": ok, "kafka": ok}).get("/readyz").status_code == 200
    response = client({"database": ok, "kafka": down}).get("/readyz")
    assert response.status_code == 503
    # which dependency fails, never why: host names and ports stay out of an unauthenticated answer
    assert response.json()["checks"] == {"database": "ok", "kafka": "failing"}
    assert "9092" not in response.text


def test_alive_even_when_not_ready() -> None:
    assert client({"kafka": down}).get("/livez").status_code == 200
