"""A service migrates its database at start-up in a child process (ADR 0027).

Alembic, the migration scripts and what one run allocates take ~13 MB of a service's memory (9.5 MB
to import Alembic beside what the service already has, 3.3 MB to run the migrations of reception),
and a Python process keeps that memory for its lifetime: it was ~9 % of each service's RSS, against
a target of 150 MB per service under load. A child process (``python -m reintegra_kit.migrations``,
the same interpreter and environment) runs :func:`reintegra_kit.migrations.upgrade_to_head`, with
the same locks (PostgreSQL's advisory lock, SQLite's lock file), and exits; the service process
never imports Alembic. An in-memory SQLite database belongs to this process, so it is migrated here.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

DATABASE_URL_VARIABLE = "REINTEGRA_MIGRATIONS_DATABASE_URL"
"""Where the child reads the database URL (not its command line, which other users can read)."""

_TAIL_LINES = 30


class MigrationError(RuntimeError):
    """The migrations of a service's database failed (the message ends with what the child printed)."""


async def upgrade_to_head_async(script_location: Path, database_url: str) -> None:
    """Bring the database to the newest revision without blocking the event loop, in a child process
    (in a thread for an in-memory SQLite database); raise :class:`MigrationError` if it fails."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        from .migrations import upgrade_to_head  # Alembic: only for a database of this process

        await asyncio.to_thread(upgrade_to_head, script_location, database_url)
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reintegra_kit.migrations",
        str(script_location),
        env={**os.environ, DATABASE_URL_VARIABLE: database_url},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await process.communicate()
    except asyncio.CancelledError:  # the service stops while migrating: so does the child
        if process.returncode is None:
            process.terminate()
            await process.wait()
        raise
    if process.returncode != 0:
        tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-_TAIL_LINES:])
        where = make_url(database_url).render_as_string(hide_password=True)
        raise MigrationError(
            f"the migrations in {script_location} failed on {where} (exit status "
            f"{process.returncode}):\n{tail}"
        )
