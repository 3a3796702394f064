"""What an operator and an SRE rely on: configuration errors, readiness, traces exported by OTLP."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from reintegra_contracts.topics import FOLLOWUP_EVENTS, RECEPTION_EVENTS
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header

from .leaks import Collector
from .support import ServiceProcess, arrival_payload, free_port

Launch = Callable[..., Awaitable[ServiceProcess]]


def test_a_bad_setting_stops_the_service_with_a_message_naming_each_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reintegra_reception"],
        env={
            "PATH": "/usr/bin:/bin",
            "REINTEGRA_HTTP_PORT": "eighty",
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": "kafka-without-port",
            "REINTEGRA_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "REINTEGRA_HTTP_PORT" in result.stderr
    assert (
        "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS: Value error, 'kafka-without-port' is not host:port"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "REINTEGRA_AUTH_ISSUER and REINTEGRA_AUTH_AUDIENCE: required to serve"),
        (
            {"REINTEGRA_AUTH_ISSUER": "http://id.example.org", "REINTEGRA_AUTH_AUDIENCE": "reintegra"},
            "plain http only on a loopback address",
        ),
    ],
)
def test_a_service_without_an_identity_provider_refuses_to_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """No request is served without authentication, and no switch turns it off."""
    result = subprocess.run(
        [sys.executable, "-m", "reintegra_assessment"],
        env={"PATH": "/usr/bin:/bin", "REINTEGRA_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_a_service_without_kafka_is_alive_but_not_ready(tmp_path: Path, auth: TestIssuer) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    proc = ServiceProcess(
        "assessment",
        {"REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": nowhere, "REINTEGRA_DATA_DIR": str(tmp_path), **auth.env()},
        tmp_path,
    )
    proc.proc = subprocess.Popen(
        [sys.executable, "-m", "reintegra_assessment"],
        env=proc.env,
        stdout=proc.log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{proc.url}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, proc.log_tail()
            time.sleep(0.2)
        ready = httpx.get(f"{proc.url}/readyz", timeout=10)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["kafka"].startswith("failing")
    finally:
        assert proc.stop() == 0


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as c:
        yield c


@pytest.mark.connected
@pytest.mark.processes
async def test_one_arrival_is_one_trace_exported_by_every_service_it_touches(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str, collector: Collector
) -> None:
    otlp = {"REINTEGRA_OTLP_ENDPOINT": collector.url}
    reception, assessment, followup = await asyncio.gather(
        launch("reception", **otlp), launch("assessment", **otlp), launch("followup", **otlp)
    )
    async with (
        TopicReader(kafka_bootstrap, topic(FOLLOWUP_EVENTS)) as reader,
        httpx.AsyncClient(
            headers=auth.staff(),
        ) as http,
    ):
        response = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
        case_id = response.json()["case_id"]
        await reader.wait_for(lambda rs: any(r.key == case_id.encode() for r in rs), what="a follow-up")
    trace_id = (header(reader.records[0], "traceparent") or "").split("-")[1]
    for proc in (reception, assessment, followup):
        await asyncio.to_thread(proc.stop)  # flushes the batch span processor

    services = {service for service, trace, _ in collector.spans if trace == trace_id}
    assert services == {"reintegra-reception", "reintegra-assessment", "reintegra-followup"}
    names = {name for _, trace, name in collector.spans if trace == trace_id}
    assert "POST /v1/arrivals" in names
    # the outbox relay's producer spans are "send {destination}" (OpenTelemetry messaging naming)
    assert any(name == f"send {topic(RECEPTION_EVENTS)}" for name in names)
    # each consumed event is processed in its own producer's trace (OpenTelemetry messaging naming:
    # "{operation} {destination}"), even when the consumer fetched it in a batch
    assert any(name.startswith("process ") and name.endswith(RECEPTION_EVENTS) for name in names)
