"""Running the services as real OS processes for cross-service tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
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


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_pair() -> int:
    """A port P with P and P+1 free, for a server started by another process (a broker's controller
    listens on PORT+1). Taken below the kernel's ephemeral range: a port from ``free_port()`` is
    ephemeral, and an outgoing connection of any process may take it (or P+1) before the server binds
    — which once failed a storm's private broker with "Address already in use"."""
    top = _ephemeral_start() - 2
    for _ in range(200):
        port = random.randint(20_000, top)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports below the ephemeral range")


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

    def wait_for_log(self, text: str, timeout_s: float = 30.0) -> None:
        """Wait until the process has logged a line containing ``text``."""
        deadline = time.monotonic() + timeout_s
        while text not in self.log_path.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not log {text!r} in {timeout_s}s:\n{self.log_tail()}")
            time.sleep(0.1)

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


class TcpProxy:
    """A TCP relay between service processes and their database that a test can *cut* (the database
    is gone: connections reset, new ones refused) or *stall* (the database hangs: bytes are held, not
    forwarded), then restore. It runs its own event loop in a thread."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.held = bytearray()
        """What clients sent while the proxy stalled (to see which statement hangs)."""
        self._mode = "open"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()

    @classmethod
    def for_url(cls, url: str) -> tuple[TcpProxy, str]:
        """A started proxy in front of the server of ``url``, and ``url`` pointing at the proxy."""
        parts = urlsplit(url)
        proxy = cls(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{proxy.port}"
        via = urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
        return proxy, via

    def _run(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)  # type: ignore[arg-type]

    def start(self) -> TcpProxy:
        self._thread.start()
        self._run(self._open())
        return self

    async def _open(self) -> None:
        self._mode = "open"
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close_all(self, *, listening: bool) -> None:
        if listening and self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    def cut(self) -> None:
        """The database disappears: every connection is reset and new ones are refused."""
        self._mode = "cut"
        self._run(self._close_all(listening=True))

    def stall(self) -> None:
        """The database hangs: connections stay open but nothing goes through."""

        async def stall() -> None:
            self._mode = "stall"
            self._flowing.clear()

        self._run(stall())

    def restore(self) -> None:
        """The database is back (connections held while stalled are reset first)."""
        self._run(self._close_all(listening=False))
        self._run(self._open())
        self.held.clear()

    def close(self) -> None:
        async def close() -> None:
            await self._close_all(listening=True)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._run(close())
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._mode == "cut":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._connections.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer, from_client=True),
            self._pipe(up_reader, writer, from_client=False),
            return_exceptions=True,
        )
        for w in (writer, up_writer):
            self._connections.discard(w)
            w.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, from_client: bool
    ) -> None:
        while data := await reader.read(65536):
            if not self._flowing.is_set():
                if from_client:
                    self.held.extend(data)
                await self._flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


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


DEFAULT_PURPOSES = (
    ConsentPurpose.REFERRAL,
    ConsentPurpose.CONTACT_BY_PROVIDER,
    ConsentPurpose.FOLLOWUP_CONTACT,
)
"""What a person consents to in these tests unless a test says otherwise: referral to any agency,
contact by the provider, contact for follow-up."""

SHARING = frozenset(
    {ConsentPurpose.REFERRAL, ConsentPurpose.SHARE_WITH_PROVIDER, ConsentPurpose.CONTACT_BY_PROVIDER}
)
"""The purposes a scope may narrow to agencies (reception refuses agencies on any other)."""


async def consent_at_reception(
    http: httpx.AsyncClient,
    reception_url: str,
    case_id: str | UUID,
    headers: Mapping[str, str],
    *purposes: ConsentPurpose,
    given_by: ConsentGiver = ConsentGiver.SELF,
    agencies: Sequence[str] = (),
    method: ConsentMethod = ConsentMethod.WRITTEN,
) -> dict[str, Any]:
    """Record a consent the way staff do: ``POST /v1/cases/{case_id}/consent`` at a running reception,
    with ``headers`` (a bearer token of a role that records consent). Returns the consent record
    reception answered with (``consent_id``, ``scopes``, …); reception publishes ``consent_recorded``."""
    body = {
        "given_by": given_by.value,
        "method": method.value,
        "scopes": [
            {"purpose": p.value, **({"agencies": list(agencies)} if p in SHARING else {})}
            for p in purposes or DEFAULT_PURPOSES
        ],
    }
    response = await http.post(f"{reception_url}/v1/cases/{case_id}/consent", json=body, headers=headers)
    assert response.status_code == 201, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records[-1]


async def withdrawal_at_reception(
    http: httpx.AsyncClient,
    reception_url: str,
    case_id: str | UUID,
    headers: Mapping[str, str],
    consent_id: str | UUID | None = None,
    *purposes: ConsentPurpose,
    withdrawn_by: ConsentGiver = ConsentGiver.SELF,
) -> dict[str, Any]:
    """Withdraw consent the way staff record it: ``POST /v1/cases/{case_id}/consent/withdrawal`` at a
    running reception — one consent (``consent_id``) or every active one, whole or for ``purposes``.
    Returns the case's consent as reception answered; reception publishes ``consent_withdrawn``."""
    body: dict[str, Any] = {"withdrawn_by": withdrawn_by.value, "purposes": [p.value for p in purposes]}
    if consent_id is not None:
        body["consent_id"] = str(consent_id)
    response = await http.post(
        f"{reception_url}/v1/cases/{case_id}/consent/withdrawal", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


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
    """Publish on Kafka the ``consent_recorded`` reception would publish for a case (referral to any
    agency and contact by providers and for follow-up, unless ``purposes`` say otherwise), in the
    case's trace when ``traceparent`` is given.

    Only for tests in which no reception process runs (the consumers' side alone). Where reception
    runs, record consent through its API (:func:`consent_at_reception`) so that the test proves the
    real path: the access policy, reception's consent rules, its outbox and its event. (Some tests
    that run reception still call this helper and are to move to the API.)"""
    now = datetime.now(UTC)
    wanted = purposes or DEFAULT_PURPOSES
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
    """Publish on Kafka the ``consent_withdrawn`` reception would publish: the whole consent, or these
    purposes. Like :func:`record_consent`, only where no reception process runs; otherwise
    :func:`withdrawal_at_reception`."""
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
