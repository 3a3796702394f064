"""The platform the fault storm and the poison run drive: private (or given) Kafka and PostgreSQL, the
services of the registry as real processes (some with a second replica), and the counting helpers
that read the truth back from the databases and the topics.

Not a package on purpose: ``bench/*.py`` are scripts (``uv run python bench/fault_storm.py``) that
import this file from their own folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _auth import BenchIssuer  # noqa: E402
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from reintegra_kit.registry import discover  # noqa: E402
from reintegra_kit.testing.kafka import consumer_lag  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tests.support import ServiceProcess, free_port_pair  # noqa: E402

SPECS = {spec.name: spec for spec in discover(ROOT)}


def local(script: str, *args: str, env: dict[str, str]) -> str:
    """Run ``deploy/local/<script> ARGS`` with ``env``; its stdout (its last line is what it prints)."""
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


@dataclass
class Infra:
    """Kafka and PostgreSQL: private ones (own ports and folders, restartable) or given ones."""

    workdir: Path
    kafka_bootstrap: str = ""
    pg_url: str = ""
    private: bool = True
    kafka_env: dict[str, str] = field(default_factory=dict)
    pg_env: dict[str, str] = field(default_factory=dict)
    owned: list[Path] = field(default_factory=list)

    @classmethod
    def start_private(cls, workdir: Path) -> Infra:
        kafka_port, pg_port = free_port_pair(), free_port_pair()
        while pg_port in (kafka_port - 1, kafka_port, kafka_port + 1):
            pg_port = free_port_pair()
        # As root, the server runs as the postgres user, which must reach its folder: not under a
        # private temporary folder such as pytest's; /var/tmp is searchable by everyone.
        pg_dir = Path(tempfile.mkdtemp(prefix="reintegra-storm-pg-", dir="/var/tmp"))
        pg_dir.chmod(0o755)
        infra = cls(
            workdir,
            kafka_env={
                "REINTEGRA_KAFKA_PORT": str(kafka_port),
                "REINTEGRA_KAFKA_DIR": str(workdir / "kafka"),
            },
            pg_env={"REINTEGRA_PG_PORT": str(pg_port), "REINTEGRA_PG_DIR": str(pg_dir)},
        )
        infra.owned.append(pg_dir)
        local("kafka.sh", "start", env=infra.kafka_env)
        infra.kafka_bootstrap = local("kafka.sh", "bootstrap", env=infra.kafka_env).splitlines()[-1]
        local("postgres.sh", "start", env=infra.pg_env)
        infra.pg_url = local("postgres.sh", "url", env=infra.pg_env).splitlines()[-1].rstrip("/")
        return infra

    @classmethod
    def given(cls, workdir: Path, kafka_bootstrap: str, pg_url: str) -> Infra:
        return cls(workdir, kafka_bootstrap, pg_url.rstrip("/"), private=False)

    def restart_kafka(self) -> None:
        assert self.private, "only a private broker is ever restarted"
        local("kafka.sh", "restart", env=self.kafka_env)

    def restart_postgres(self) -> None:
        assert self.private, "only a private database server is ever restarted"
        local("postgres.sh", "restart", env=self.pg_env)

    def stop(self) -> None:
        if self.private:
            with contextlib.suppress(Exception):
                local("kafka.sh", "stop", env=self.kafka_env)
            with contextlib.suppress(Exception):
                local("postgres.sh", "stop", env=self.pg_env)
            for folder in self.owned:
                shutil.rmtree(folder, ignore_errors=True)


async def create_database(server_url: str, name: str) -> str:
    engine = create_async_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return f"{server_url}/{name}"


async def drop_database(server_url: str, name: str) -> None:
    engine = create_async_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


@dataclass
class Platform:
    """The services of the registry, each on its own database, some with replicas."""

    infra: Infra
    tag: str = field(default_factory=lambda: uuid4().hex[:6])
    processes: list[ServiceProcess] = field(default_factory=list)
    db_urls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    issuer: BenchIssuer | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """A centre's staff token (every case role) that the services started here accept."""

    @property
    def prefix(self) -> str:
        return f"run-{self.tag}."

    def topic(self, logical: str) -> str:
        return self.prefix + logical

    def group(self, service: str) -> str:
        return f"{self.prefix}reintegra-{service}"

    async def start(self, replicas: dict[str, int], **env: str) -> None:
        """Start ``replicas[name]`` processes of every service of the registry (default 1)."""
        self.issuer = BenchIssuer()
        self.headers = self.issuer.staff()
        self.env = {
            **self.issuer.env(),
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka_bootstrap,
            "REINTEGRA_TOPIC_PREFIX": self.prefix,
            "REINTEGRA_LOG_LEVEL": "WARNING",
            "REINTEGRA_RELAY_INTERVAL_S": "0.1",
            "REINTEGRA_INFRASTRUCTURE_RETRY_S": "1.0",
            **env,
        }
        logs = self.infra.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for name in SPECS:
            self.db_urls[name] = await create_database(self.infra.pg_url, f"storm_{self.tag}_{name}")

        async def start_service(name: str) -> None:
            # Replicas one after the other: the first migrates the database.
            for _ in range(replicas.get(name, 1)):
                service_env = {
                    **self.env,
                    "REINTEGRA_DATABASE_URL": self.db_urls[name],
                    "REINTEGRA_CONSUMER_GROUP": self.group(name),
                }
                proc = ServiceProcess(name, service_env, logs)
                self.processes.append(proc)
                await asyncio.to_thread(proc.start, 240.0)

        await asyncio.gather(*(start_service(name) for name in SPECS))

    def of(self, name: str) -> list[ServiceProcess]:
        return [p for p in self.processes if p.name == name]

    def alive(self, name: str) -> list[ServiceProcess]:
        return [p for p in self.of(name) if p.proc is not None and p.proc.poll() is None]

    def stop(self) -> None:
        for proc in reversed(self.processes):
            with contextlib.suppress(Exception):
                proc.stop()
        if self.issuer is not None:
            self.issuer.stop()

    async def drop_databases(self) -> None:
        for name in self.db_urls:
            with contextlib.suppress(Exception):
                await drop_database(self.infra.pg_url, f"storm_{self.tag}_{name}")

    # -- the truth, read back -----------------------------------------------------------------

    async def unpublished(self) -> dict[str, int]:
        out = {}
        for name, url in self.db_urls.items():
            [(n,)] = await rows(url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            out[name] = int(n)
        return out

    async def lag(self) -> dict[str, int]:
        out = {}
        for name, spec in SPECS.items():
            topics = [self.topic(t) for t in spec.consumes if "{" not in t]
            if topics:
                out[name] = sum(
                    (await consumer_lag(self.infra.kafka_bootstrap, self.group(name), topics)).values()
                )
        return out

    async def wait_quiet(self, timeout_s: float) -> tuple[dict[str, int], dict[str, int], float]:
        """Wait until every outbox is published and every consumer group is caught up; returns the
        last (unpublished, lag) seen and the seconds waited."""
        started = time.monotonic()
        while True:
            try:
                unpublished, lag = await self.unpublished(), await self.lag()
            except Exception:  # the broker or the database is still coming back
                unpublished, lag = {"?": -1}, {"?": -1}
            if not any(unpublished.values()) and not any(lag.values()):
                return unpublished, lag, time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                return unpublished, lag, time.monotonic() - started
            await asyncio.sleep(1.0)


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to its end offsets now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        records: list[Any] = []
        while [tp for tp in assigned if await consumer.position(tp) < end[tp]]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000, max_records=5000)).items():
                records.extend(r for r in batch if r.offset < end[tp])
        return records
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode("utf-8", errors="replace"))
    return None


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.monotonic()
    try:
        yield box
    finally:
        box.append(time.monotonic() - start)
