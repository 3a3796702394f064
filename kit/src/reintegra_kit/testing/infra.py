"""Finding (or starting) the real Kafka broker and PostgreSQL server the tests run against."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def repo_root() -> Path:
    """The repository root (the folder holding ``deploy/local``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "local" / "kafka.sh").exists():
            return parent
    return Path.cwd()


def _script(name: str, *args: str) -> str:
    script = repo_root() / "deploy" / "local" / name
    result = subprocess.run(["bash", str(script), *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{script.name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return result.stdout.strip()


def kafka_bootstrap() -> str:
    """``REINTEGRA_TEST_KAFKA_BOOTSTRAP`` if set, else the local broker (started if needed)."""
    given = os.environ.get("REINTEGRA_TEST_KAFKA_BOOTSTRAP")
    if given:
        return given
    _script("kafka.sh", "start")
    return _script("kafka.sh", "bootstrap").splitlines()[-1]


def postgres_server_url() -> str:
    """``REINTEGRA_TEST_PG_URL`` (``postgresql+asyncpg://user:pw@host:port``) if set, else the local
    test cluster (installed and started if needed)."""
    given = os.environ.get("REINTEGRA_TEST_PG_URL")
    if given:
        return given.rstrip("/")
    _script("postgres.sh", "start")
    return _script("postgres.sh", "url").splitlines()[-1].rstrip("/")
