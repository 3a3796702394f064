"""The four services as real processes (``python -m reintegra_<name>``), watched with psutil."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

SERVICES = ("reception", "assessment", "referral", "followup")
CONSUMERS = ("assessment", "referral", "followup")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    profile_to: Path | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    retries: int = 0

    def start(self) -> None:
        command = [sys.executable, "-m", f"reintegra_{self.name}"]
        if self.profile_to is not None:  # pyinstrument runs the service in-process, writes at exit
            command = [
                sys.executable, "-m", "pyinstrument", "--renderer", "text", "--show-all",
                "-o", str(self.profile_to), "-m", f"reintegra_{self.name}",
            ]  # fmt: skip
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            command,
            env={**os.environ, **self.env, "REINTEGRA_HTTP_PORT": str(self.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.ps = psutil.Process(self.proc.pid)

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            if (
                "address already in use" in self.log_path.read_text(errors="replace")[-3000:]
                and self.retries < 3
            ):
                self.retries += 1  # another program took the free port meanwhile: take another one
                self.port = free_port()
                self.start()
                return False
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def thread_cpu(self) -> dict[int, float]:
        return {t.id: t.user_time + t.system_time for t in self.ps.threads()}

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Platform:
    """Every service (``replicas`` processes of each consumer service) on one broker and database set."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        database_urls: Mapping[str, str],
        log_dir: Path,
        replicas: int = 1,
        profile: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.processes: dict[str, list[ServiceProcess]] = {}
        for name in SERVICES:
            count = replicas if name in CONSUMERS else 1
            self.processes[name] = [
                ServiceProcess(
                    name,
                    {**env, "REINTEGRA_DATABASE_URL": database_urls[name]},
                    log_dir / f"{name}-{i}.log",
                    profile_to=log_dir / f"profile-{name}.txt" if name in profile and i == 0 else None,
                )
                for i in range(count)
            ]

    def all(self) -> list[ServiceProcess]:
        return [p for ps in self.processes.values() for p in ps]

    def ports(self, name: str) -> list[int]:
        return [p.port for p in self.processes[name]]

    def start(self, timeout_s: float = 180.0) -> None:
        """Start every process and wait until all are ready; stop them all if one does not get there."""
        try:
            for proc in self.all():
                proc.start()
            deadline = time.monotonic() + timeout_s
            waiting = self.all()
            while waiting:
                waiting = [p for p in waiting if not p.ready()]
                if waiting and time.monotonic() > deadline:
                    raise RuntimeError(f"not ready after {timeout_s:.0f} s: {[p.name for p in waiting]}")
                time.sleep(0.3)
        except BaseException:
            self.stop()
            raise

    def cpu(self) -> dict[str, float]:
        return {name: sum(p.cpu_seconds() for p in ps) for name, ps in self.processes.items()}

    def rss(self) -> dict[str, int]:
        """Largest resident set of one process of each service."""
        return {name: max(p.rss() for p in ps) for name, ps in self.processes.items()}

    def stop(self) -> None:
        for proc in reversed(self.all()):
            proc.stop()
