"""Every service keeps its own OpenAPI promise: schemathesis, every check, on real processes over
PostgreSQL and Kafka, with a fixed seed and a bounded number of examples per operation.

``tests/openapi-known-failures.json`` (schemathesis' baseline format) lists the failures accepted for
now, each with an issue to fix it; a failure not listed there fails the test. Run
``bash scripts/uv.sh run st run http://127.0.0.1:<port>/openapi.json --checks all`` against a
running service to see the details.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from reintegra_kit.testing.auth import TestIssuer

from .conftest import SERVICES
from .support import ServiceProcess

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]

SEED = 2026
MAX_EXAMPLES = 20
ST = Path(sys.executable).with_name("st")
KNOWN_FAILURES = Path(__file__).with_name("openapi-known-failures.json")
CONFIG = Path(__file__).with_name("schemathesis.toml")
"""Which operations may answer a documented 422 to schema-valid data (rules of time and of other records)."""


def schemathesis(url: str, report: Path, headers: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Schemathesis with a token of every role (``headers``); its ``ignored_auth`` check also sends
    requests without it and with a bad one, which must be refused as the documents say (401)."""
    return subprocess.run(
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/openapi.json",
            *(arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")),
            "--checks",
            "all",
            "--seed",
            str(SEED),
            "--max-examples",
            str(MAX_EXAMPLES),
            # No stateful phase: the documents declare no links between operations, so it would only
            # repeat what the other phases send (and take as long as they do).
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--baseline",
            str(KNOWN_FAILURES),
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def huge_offsets_refused(url: str, headers: dict[str, str]) -> list[str]:
    """Every list endpoint answers 422 (not 500) to an offset beyond PostgreSQL's bigint; returns the
    paths it checked."""
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    checked = []
    for path, operations in document["paths"].items():
        names = {p["name"] for p in operations.get("get", {}).get("parameters", [])}
        if "offset" in names:
            response = httpx.get(f"{url}{path}", params={"offset": str(2**63)}, headers=headers, timeout=10)
            assert response.status_code == 422, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            checked.append(path)
    return checked


@pytest.mark.timeout(900)
async def test_every_service_answers_as_its_openapi_document_promises(
    launch: Launch, tmp_path: Path, auth: TestIssuer
) -> None:
    processes = [await launch(name) for name in SERVICES]
    everyone = auth.everyone()
    lists = [
        path
        for proc in processes
        for path in await asyncio.to_thread(huge_offsets_refused, proc.url, everyone)
    ]
    assert {"/v1/cases", "/v1/assessments", "/v1/referrals", "/v1/followups"} <= set(lists)
    failures: dict[str, str] = {}
    for proc in processes:
        result = await asyncio.to_thread(schemathesis, proc.url, tmp_path / f"{proc.name}.xml", everyone)
        if result.returncode != 0:
            failures[proc.name] = (result.stdout[-8000:] + result.stderr[-2000:]).strip()
    assert not failures, "\n\n".join(f"== {name}\n{text}" for name, text in failures.items())
