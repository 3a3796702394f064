"""Private infrastructure for one benchmark run: a Kafka broker and a PostgreSQL server of its own.

Both use the repository's local scripts (deploy/local/kafka.sh, postgres.sh) with their own port and
state directory, so the shared servers other people's tests use are never touched.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".local" / "bench"

KAFKA_PORT = int(os.environ.get("REINTEGRA_BENCH_KAFKA_PORT", "19592"))
PG_PORT = int(os.environ.get("REINTEGRA_BENCH_PG_PORT", "55592"))


class InfraError(Exception):
    """A private server did not start; the message says why."""


def _run(script: str, env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "local" / script), *args],
        cwd=REPO,
        env={**os.environ, **env},
        check=False,
        text=True,
        capture_output=True,
    )
    if result.returncode != 0:
        raise InfraError(f"deploy/local/{script} {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip() if capture else ""


@dataclass(frozen=True)
class PrivateKafka:
    port: int = KAFKA_PORT
    state_dir: Path = STATE / "kafka"

    @property
    def env(self) -> dict[str, str]:
        return {
            "REINTEGRA_KAFKA_PORT": str(self.port),
            "REINTEGRA_KAFKA_DIR": str(self.state_dir),
            "REINTEGRA_KAFKA_SECURITY": "plaintext",
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        _run("kafka.sh", self.env, "start")

    def stop(self) -> None:
        _run("kafka.sh", self.env, "stop")


@dataclass(frozen=True)
class PrivatePostgres:
    port: int = PG_PORT
    state_dir: Path = STATE / "postgres"

    @property
    def env(self) -> dict[str, str]:
        return {"REINTEGRA_PG_PORT": str(self.port), "REINTEGRA_PG_DIR": str(self.state_dir)}

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://reintegra:reintegra@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run("postgres.sh", self.env, "start")

    def createdb(self, name: str) -> None:
        _run("postgres.sh", self.env, "dropdb", name)
        _run("postgres.sh", self.env, "createdb", name)

    def dropdb(self, name: str) -> None:
        _run("postgres.sh", self.env, "dropdb", name)

    def stop(self) -> None:
        _run("postgres.sh", self.env, "stop")


@dataclass(frozen=True)
class GivenKafka:
    """A broker that is already running (``--kafka``): used with the run's own topics, never stopped.
    Its CPU is not measured (other work may share it): it counts as *other load*."""

    bootstrap: str
    state_dir: Path | None = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class GivenPostgres:
    """A PostgreSQL server that is already running (``--pg-url``, ``postgresql+asyncpg://user:pw@host:port``):
    the run creates its own databases there and drops them; the server is never stopped."""

    server_url: str

    def url(self, database: str) -> str:
        return f"{self.server_url.rstrip('/')}/{database}"

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def _admin(self, *statements: str) -> None:
        import asyncio

        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self.url("postgres").replace("+asyncpg", ""))
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(run())

    def createdb(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    def dropdb(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drop_topics(bootstrap: str, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix``; return how many.

    A platform run creates about 130 topics (events, commands, every agency's partner topics, their
    dead letters). Left behind, they add up on the bench broker run after run, and every consumer that
    subscribes by pattern decodes the metadata of all of them every 10 s: after ten runs that was a
    tenth of referral's and follow-up's CPU, measured as the services' own.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        for start in range(0, len(names), 100):
            await admin.delete_topics(names[start : start + 100])
        return len(names)
    finally:
        await admin.close()
