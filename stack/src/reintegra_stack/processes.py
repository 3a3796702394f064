"""Local processes: Kafka (through ``deploy/local/kafka.sh``) and the four services as OS processes."""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reintegra_kit.registry import RegistryError, discover

from . import issuer

BOOTSTRAP_ENV = "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS"
HOST = "127.0.0.1"
STOP_TIMEOUT_S = 15.0

DEMO_TIMINGS: dict[str, str] = {
    "REINTEGRA_FIRST_FOLLOWUP_AFTER": "PT30S",
    "REINTEGRA_REFERRAL_CHECK_AFTER": "PT45S",
}
"""Demo only: follow-ups fall due after seconds instead of the platform's 90 / 14 days."""


class StackError(Exception):
    """Something the person running the stack must fix; the message says what."""


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@functools.cache
def services() -> tuple[Service, ...]:
    """The services of the registry (each ``services/<name>/…/service.toml``), in start order."""
    try:
        specs = discover(find_repo_root())
    except RegistryError as exc:
        raise StackError(str(exc)) from exc
    return tuple(Service(spec.name, spec.module, spec.port) for spec in specs)


def issuer_service() -> Service:
    """The local OpenID Connect issuer, run like a service (pid file, log, ``/readyz``)."""
    return Service("issuer", "reintegra_stack.issuer", issuer.port())


def find_repo_root() -> Path:
    """The repository: the folder holding ``deploy/local/kafka.sh`` (above this file, or the cwd)."""
    candidates = [*Path(__file__).resolve().parents, Path.cwd(), *Path.cwd().parents]
    for folder in candidates:
        if (folder / "deploy" / "local" / "kafka.sh").is_file():
            return folder
    raise StackError("cannot find the Reintegra repository (deploy/local/kafka.sh); run from inside it")


@dataclass(frozen=True)
class Layout:
    """Where the local stack keeps its state, under ``<repo>/.local``."""

    root: Path

    @classmethod
    def discover(cls) -> Layout:
        return cls(find_repo_root())

    @property
    def kafka_script(self) -> Path:
        return self.root / "deploy" / "local" / "kafka.sh"

    @property
    def data_dir(self) -> Path:
        return self.root / ".local" / "data"

    @property
    def log_dir(self) -> Path:
        return self.root / ".local" / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / ".local" / "run"

    @property
    def keys_dir(self) -> Path:
        return self.root / ".local" / "keys"

    def log_file(self, service: Service) -> Path:
        return self.log_dir / f"{service.name}.log"

    def pid_file(self, service: Service) -> Path:
        return self.run_dir / f"{service.name}.pid"


# ------------------------------------------------------------------------------------------ Kafka


def kafka(layout: Layout, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/local/kafka.sh ARGS``; its own messages go to our stderr unless captured."""
    return subprocess.run(
        ["bash", str(layout.kafka_script), *args],
        cwd=layout.root,
        check=False,
        text=True,
        capture_output=capture,
    )


def ensure_kafka(layout: Layout) -> tuple[str, bool]:
    """The bootstrap servers to use and whether they are the local broker (started if needed)."""
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        return external, False
    started = kafka(layout, "start")
    if started.returncode != 0:
        raise StackError(
            f"Kafka did not start (deploy/local/kafka.sh start exited with {started.returncode}); "
            f"see the messages above and .local/kafka/kafka.log"
        )
    address = kafka(layout, "bootstrap", capture=True)
    if address.returncode != 0 or not address.stdout.strip():
        raise StackError("deploy/local/kafka.sh bootstrap printed no address")
    return address.stdout.strip(), True


def kafka_status(layout: Layout) -> tuple[bool, str]:
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        return port_open_any(external), f"external broker {external} (REINTEGRA_KAFKA_BOOTSTRAP_SERVERS)"
    result = kafka(layout, "status", capture=True)
    text = (result.stdout.strip() or result.stderr.strip() or "unknown").splitlines()[-1]
    return result.returncode == 0, text


def port_open_any(servers: str) -> bool:
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        with contextlib.suppress(OSError, ValueError), socket.create_connection((host, int(port)), 1.0):
            return True
    return False


# --------------------------------------------------------------------------------------- processes


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields and fields[0] == "Z":
            return False
    return True


def running_pid(layout: Layout, service: Service) -> int | None:
    """The pid recorded for ``service`` if that process still runs it, else ``None``."""
    try:
        pid = int(layout.pid_file(service).read_text().strip())
    except (OSError, ValueError):
        return None
    if not is_alive(pid):
        return None
    cmdline = _cmdline(pid)
    if cmdline and f"-m {service.module}" not in cmdline:
        return None  # the pid was recycled by another program
    return pid


LOCAL_SECRETS = {
    "reception": ("REINTEGRA_KEY_ENCRYPTION_KEY", "REINTEGRA_BLIND_INDEX_SECRET"),
}
"""Secrets a service requires that the local stack generates once, into ``.local/keys/``."""


def local_secrets(layout: Layout, service: Service) -> dict[str, str]:
    """The service's local secrets (reception: the key-encryption key and the blind-index secret),
    each 32 random bytes in base64, generated the first time into ``.local/keys/<NAME>`` (mode 0600).

    They seal the personal data in ``.local/data``: removing them makes that data unreadable (remove
    both folders together). A variable already set in the environment wins.
    """
    found: dict[str, str] = {}
    for name in LOCAL_SECRETS.get(service.name, ()):
        path = layout.keys_dir / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(os.urandom(32)).decode() + "\n")
            tmp.replace(path)
        found[name] = path.read_text().strip()
    return found


def service_env(
    layout: Layout, service: Service, bootstrap: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in issuer.service_auth_env().items():
        env.setdefault(name, value)  # the local issuer, unless the caller points at another provider
    for name, value in local_secrets(layout, service).items():
        env.setdefault(name, value)
    env.update(
        {
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REINTEGRA_DATA_DIR": str(layout.data_dir),
            "REINTEGRA_HTTP_PORT": str(service.port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Started:
    service: Service
    pid: int
    process: subprocess.Popen[bytes] | None  # None: it was already running (started earlier)

    def exited(self) -> int | None:
        """The exit status if the process has ended, else ``None``."""
        if self.process is not None:
            return self.process.poll()
        return None if is_alive(self.pid) else -1


def check_ports(layout: Layout) -> None:
    """Refuse before starting anything if a service's port is held by a program that is not ours."""
    taken = [s for s in services() if running_pid(layout, s) is None and not port_is_free(s.port)]
    if taken:
        ports = ", ".join(f"{s.port} ({s.name})" for s in taken)
        raise StackError(
            f"port {ports} already in use by another program; stop it (`ss -ltnp` shows which) and try again"
        )


def start_service(
    layout: Layout, service: Service, bootstrap: str, extra_env: Mapping[str, str] | None = None
) -> Started:
    """Start ``python -m <module>`` with its log and pid file, or adopt the one already running."""
    pid = running_pid(layout, service)
    if pid is not None:
        return Started(service, pid, None)
    if not port_is_free(service.port):
        raise StackError(
            f"port {service.port} ({service.name}) is already in use by another program; stop it "
            f"(`ss -ltnp 'sport = :{service.port}'` shows which) and try again"
        )
    for folder in (layout.data_dir, layout.log_dir, layout.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    log_path = layout.log_file(service)
    with log_path.open("ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n===== reintegra-stack: starting {service.name} at {stamp} =====\n".encode())
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", service.module],
            cwd=layout.root,
            env=service_env(layout, service, bootstrap, extra_env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us, not the services: we stop them in order
        )
    layout.pid_file(service).write_text(f"{process.pid}\n")
    return Started(service, process.pid, process)


def stop_pid(
    pid: int, timeout_s: float = STOP_TIMEOUT_S, process: subprocess.Popen[bytes] | None = None
) -> str:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. Returns how it ended."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return "stopped"
        elif not is_alive(pid):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
    return f"killed (still running after {timeout_s:.0f} s)"


def stop_service(layout: Layout, service: Service, started: Started | None = None) -> str:
    if started is not None and started.process is not None:
        outcome = stop_pid(started.pid, process=started.process)
    else:
        pid = running_pid(layout, service)
        outcome = "not running" if pid is None else stop_pid(pid)
    with contextlib.suppress(OSError):
        layout.pid_file(service).unlink()
    return outcome


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
