"""Alembic migrations per service: each service keeps ``migrations/`` inside its package."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import zlib
from pathlib import Path
from typing import Any

from alembic import command, op
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    pool,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(script_location: Path, database_url: str) -> Config:
    """An Alembic config for a service's migrations folder and database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_to_head(script_location: Path, database_url: str) -> None:
    """Bring the database to the newest revision (blocking; call from a worker thread).

    Replicas that start together take turns: on PostgreSQL with an advisory lock (see
    :func:`run_env`), on a SQLite file with a lock file beside it (SQLite's own lock is not held
    across Alembic's version check and its DDL, so two fresh replicas would both create the tables).
    """
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        command.upgrade(alembic_config(script_location, database_url), "head")
        return
    path = Path(str(parsed.database))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".migrate-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        command.upgrade(alembic_config(script_location, database_url), "head")
    finally:
        os.close(fd)  # releases the lock


async def upgrade_to_head_async(script_location: Path, database_url: str) -> None:
    """:func:`upgrade_to_head` without blocking the event loop."""
    await asyncio.to_thread(upgrade_to_head, script_location, database_url)


def run_env(context: Any, target_metadata: MetaData) -> None:
    """The body of every service's ``env.py`` (online mode, async engine).

    On PostgreSQL an advisory lock serialises replicas that start together.
    """
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                lock_id = zlib.crc32(str(context.script.dir).encode()) & 0x7FFFFFFF
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(do_run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def create_kit_tables_v1() -> None:
    """Create the kit's ``outbox`` and ``inbox`` tables (version 1) in a service's first migration.

    Frozen: a later change to the kit's tables gets a new function (``…_v2``) and a new migration in
    each service, so this one keeps describing what version 1 created.
    """
    op.create_table(
        "inbox",
        Column("consumer_group", String(length=200), nullable=False),
        Column("event_id", String(length=64), nullable=False),
        Column("event_type", String(length=200), nullable=False),
        Column("topic", String(length=249), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer_group", "event_id", name="pk_inbox"),
    )
    op.create_table(
        "outbox",
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True, nullable=False),
        Column("event_id", String(length=64), nullable=False),
        Column("event_type", String(length=200), nullable=False),
        Column("topic", String(length=249), nullable=False),
        Column("message_key", String(length=200), nullable=False),
        Column("payload", Text(), nullable=False),
        Column(
            "headers",
            Text(),
            nullable=False,
            comment="JSON object of Kafka headers (CloudEvents binary mode)",
        ),
        Column(
            "traceparent",
            String(length=64),
            nullable=True,
            comment="W3C trace context of the writing request",
        ),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer(), server_default=text("0"), nullable=False),
        Column("last_error", Text(), nullable=True),
        PrimaryKeyConstraint("id", name="pk_outbox"),
        UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "id"], unique=False)


def drop_kit_tables_v1() -> None:
    """Undo :func:`create_kit_tables_v1`."""
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")


def upgrade_kit_tables_v2() -> None:
    """Version 2 of the kit's tables: the inbox records refusals (``outcome``, ``detail``), the durable
    ``timers`` table and ``case_traces`` (the trace each case started in). Frozen, like
    :func:`create_kit_tables_v1`."""
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(
            Column(
                "outcome",
                String(length=20),
                server_default=text("'processed'"),
                nullable=False,
                comment="processed | refused (a business rejection, answered once, never retried)",
            )
        )
        batch.add_column(
            Column("detail", Text(), nullable=True, comment="Why it was refused (no personal data)")
        )
    op.create_table(
        "timers",
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), autoincrement=True, nullable=False),
        Column("kind", String(length=100), nullable=False, comment="What fires, e.g. followup.due"),
        Column("timer_key", String(length=200), nullable=False, comment="Business key, unique per kind"),
        Column("case_id", String(length=64), nullable=True, comment="Pseudonymous case id (logs, traces)"),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", Text(), nullable=False, comment="JSON object given to the handler"),
        Column("traceparent", String(length=64), nullable=True, comment="Trace the firing continues"),
        Column(
            "status",
            String(length=20),
            nullable=False,
            comment="scheduled | fired | cancelled | failed",
        ),
        Column("attempts", Integer(), server_default=text("0"), nullable=False),
        Column("last_error", Text(), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("fired_at", DateTime(timezone=True), nullable=True),
        PrimaryKeyConstraint("id", name="pk_timers"),
        UniqueConstraint("kind", "timer_key", name="uq_timers_kind_key"),
    )
    op.create_index("ix_timers_due", "timers", ["status", "due_at"], unique=False)
    op.create_table(
        "case_traces",
        Column("case_id", String(length=64), nullable=False),
        Column("traceparent", String(length=64), nullable=False, comment="Trace the case started in"),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("case_id", name="pk_case_traces"),
    )


def downgrade_kit_tables_v2() -> None:
    """Undo :func:`upgrade_kit_tables_v2`."""
    op.drop_table("case_traces")
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_table("timers")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("detail")
        batch.drop_column("outcome")


def main(argv: list[str] | None = None) -> int:
    """``python -m reintegra_kit.migrations <script location>``: what a service's start-up runs in a
    child process (:mod:`reintegra_kit.migrating`); the database URL comes from the environment."""
    from .migrating import DATABASE_URL_VARIABLE

    args = sys.argv[1:] if argv is None else argv
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if len(args) != 1 or not url:
        print(
            f"usage: {DATABASE_URL_VARIABLE}=<database url> python -m reintegra_kit.migrations <folder>",
            file=sys.stderr,
        )
        return 2
    upgrade_to_head(Path(args[0]), url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
