"""Running the services as real OS processes for cross-service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from reintegra_contracts import Event, encode
from reintegra_contracts.codelists import (
    ConsentBasis,
    ConsentGiver,
    ConsentMethod,
    ConsentPurpose,
    StaffRole,
)
from reintegra_contracts.events.reception import ConsentRecorded, ConsentScope, ConsentWithdrawn
from reintegra_kit.testing.kafka import produce


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """One service started with ``python -m reintegra_<name>`` and its own environment."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**os.environ, **env, "REINTEGRA_HTTP_PORT": str(self.port)}
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0, **extra_env: str) -> ServiceProcess:
        env = {**self.env, **extra_env}
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"reintegra_{self.name}"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait: the graceful path."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def arrival_payload(**overrides: object) -> dict[str, object]:
    """A valid ``POST /v1/arrivals`` body (synthetic person)."""
    body: dict[str, object] = {
        "person": {
            "given_names": "Marta Lidia",
            "family_names": "Zelaya Pineda",
            "date_of_birth": "1994-03-17",
            "document_number": "0501-1994-77777",
            "phone": "+504 9999-0000",
        },
        "sex": "female",
        "arrived_at": "2026-11-20T14:05:00Z",
        "port_of_entry": "HN-SAP",
        "reception_centre": "HN-CAMR-SPS",
        "country_of_return": "HN",
        "returned_from": "US",
        "return_type": "forced",
        "transport_mode": "air",
        "destination_municipality": "HN-0501",
    }
    body.update(overrides)
    return body


PERSONAL_VALUES = ("Marta", "Zelaya", "Pineda", "1994-03-17", "0501-1994-77777", "9999-0000")


async def record_consent(
    bootstrap: str,
    topic: Callable[[str], str],
    case_id: str | UUID,
    *purposes: ConsentPurpose,
    basis: ConsentBasis = ConsentBasis.CONSENT,
    agencies: Sequence[str] = (),
    valid_for: timedelta | None = None,
    traceparent: str | None = None,
    given_by: ConsentGiver = ConsentGiver.SELF,
) -> ConsentRecorded:
    """Publish the ``consent_recorded`` reception would publish for a case (referral to any agency and
    contact by providers and for follow-up, unless ``purposes`` say otherwise), in the case's trace
    when ``traceparent`` is given.

    TEMPORARY: until reception's consent API is on this branch (issue 11, reception half), the tests
    publish the event reception will publish; the contract is the same."""
    now = datetime.now(UTC)
    wanted = purposes or (
        ConsentPurpose.REFERRAL,
        ConsentPurpose.CONTACT_BY_PROVIDER,
        ConsentPurpose.FOLLOWUP_CONTACT,
    )
    event = ConsentRecorded(
        case_id=UUID(str(case_id)),
        consent_id=uuid4(),
        returnee_id=uuid4(),
        recorded_at=now,
        basis=basis,
        given_by=given_by,
        method=ConsentMethod.WRITTEN,
        scopes=[ConsentScope(purpose=p, agencies=list(agencies)) for p in wanted],
        valid_from=now - timedelta(minutes=1),
        valid_until=now + valid_for if valid_for else None,
        recorded_by_role=StaffRole.MENTAL_HEALTH_PROFESSIONAL
        if basis is ConsentBasis.VITAL_INTEREST
        else StaffRole.CASE_WORKER,
    )
    await _publish(bootstrap, topic, event, traceparent)
    return event


async def withdraw_consent(
    bootstrap: str,
    topic: Callable[[str], str],
    given: ConsentRecorded,
    *purposes: ConsentPurpose,
    traceparent: str | None = None,
) -> ConsentWithdrawn:
    """Publish the ``consent_withdrawn`` reception would publish: the whole consent, or these purposes."""
    event = ConsentWithdrawn(
        case_id=given.case_id,
        consent_id=given.consent_id,
        returnee_id=given.returnee_id,
        withdrawn_at=datetime.now(UTC),
        withdrawn_by=ConsentGiver.SELF,
        scopes=[ConsentScope(purpose=p) for p in purposes],
    )
    await _publish(bootstrap, topic, event, traceparent)
    return event


async def _publish(
    bootstrap: str, topic: Callable[[str], str], event: Event, traceparent: str | None
) -> None:
    record = encode(event, source="/reintegra/reception")
    headers = list(record.headers) + ([("traceparent", traceparent.encode())] if traceparent else [])
    await produce(bootstrap, topic(record.topic), record.value, key=record.key, headers=headers)
