"""Running the services as real OS processes for cross-service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


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
