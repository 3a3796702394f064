from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from reintegra_kit.registry import discover
from reintegra_kit.testing.auth import TestIssuer

from .support import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]

SERVICES = tuple(spec.name for spec in discover(Path(__file__).resolve().parents[1]))
"""Every service of the registry (each ``services/<name>/…/service.toml``)."""

RECEPTION_KEK = base64.b64encode(os.urandom(32)).decode()
RECEPTION_BLIND_INDEX_SECRET = base64.b64encode(os.urandom(32)).decode()
"""Reception's key-encryption key and blind-index secret for this test session."""


@pytest.fixture
def service_env(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, auth: TestIssuer) -> dict[str, str]:
    """Environment shared by the service processes of one test: the real broker and a private topic
    namespace, the session's token issuer (``auth``: tests send its tokens); the timer and retry
    settings are shortened so tests do not wait for days."""
    return {
        **auth.env(),
        "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REINTEGRA_TOPIC_PREFIX": f"{topic_prefix}{tmp_path.name[-12:]}.",
        "REINTEGRA_LOG_LEVEL": "INFO",
        "REINTEGRA_RETRY_BACKOFF_S": "0.05",
        "REINTEGRA_TIMER_INTERVAL_S": "0.2",
        "REINTEGRA_RELAY_INTERVAL_S": "0.1",
        # reception's secrets (personal data sealed under them; the other services ignore them)
        "REINTEGRA_KEY_ENCRYPTION_KEY": RECEPTION_KEK,
        "REINTEGRA_BLIND_INDEX_SECRET": RECEPTION_BLIND_INDEX_SECRET,
    }


@pytest.fixture
def launch(
    service_env: dict[str, str], make_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> Iterator[Callable[..., Awaitable[ServiceProcess]]]:
    """``await launch("assessment", database_url=None, **env)`` starts a service on its own fresh
    PostgreSQL database (or the one given) and stops it after the test. Each service of a test has a
    consumer group of that test alone (``proc.group``; replicas of a service share it), so that no
    other test's members rebalance it and its lag can be read."""
    started: list[ServiceProcess] = []

    async def start(name: str, database_url: str | None = None, **env: str) -> ServiceProcess:
        url = database_url or await make_database(name)
        group = service_env["REINTEGRA_TOPIC_PREFIX"] + f"reintegra-{name}"
        settings = {**service_env, "REINTEGRA_DATABASE_URL": url, "REINTEGRA_CONSUMER_GROUP": group, **env}
        proc = ServiceProcess(name, settings, tmp_path)
        proc.db_url = url  # type: ignore[attr-defined]
        proc.group = settings["REINTEGRA_CONSUMER_GROUP"]  # type: ignore[attr-defined]
        started.append(proc)
        await asyncio.to_thread(proc.start)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def topic(service_env: dict[str, str]) -> Callable[[str], str]:
    """Physical topic name of a catalogue topic in this test's namespace."""
    prefix = service_env["REINTEGRA_TOPIC_PREFIX"]
    return lambda logical: prefix + logical


def _jaeger(*args: str, timeout: float = 60) -> str:
    """The last line ``deploy/local/jaeger.sh`` prints (its progress goes to stderr)."""
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "jaeger.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"jaeger.sh {' '.join(args)} failed:\n{result.stderr}"
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="session")
def tracing_backend() -> tuple[str, str]:
    """(OTLP/HTTP endpoint, query API base URL) of a real tracing backend: REINTEGRA_TEST_OTLP_ENDPOINT
    and REINTEGRA_TEST_TRACES_URL if set, else the local Jaeger (deploy/local/jaeger.sh, started if
    needed; the first start builds it, see docs/adr/0020-tracing-backend.md)."""
    otlp, traces = os.environ.get("REINTEGRA_TEST_OTLP_ENDPOINT"), os.environ.get("REINTEGRA_TEST_TRACES_URL")
    if otlp and traces:
        return otlp.rstrip("/"), traces.rstrip("/")
    _jaeger("start", timeout=3600)
    return _jaeger("otlp-endpoint"), _jaeger("url")
