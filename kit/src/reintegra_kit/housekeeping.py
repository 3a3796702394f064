"""Housekeeping: prune what the outbox, the inbox and the timers no longer need, so tables stay small.

::

    python -m reintegra_kit.housekeeping prune <service> [--retention P30D] [--dry-run]

reads the service's own settings (``REINTEGRA_DATABASE_URL`` …, as the service would) and deletes, in
batches, published outbox rows, inbox rows and fired or cancelled timers older than the retention.
Unpublished outbox rows and scheduled timers are never touched.

The inbox is what makes a redelivered event a duplicate: keep it at least as long as the consumed
topics keep their records (Kafka retention) plus the longest dead-letter replay you may do — a
record replayed after its inbox row was pruned is handled again (docs/operations.md). The Helm chart
runs this as a CronJob per service; locally it is a command.
"""

from __future__ import annotations

import asyncio
import importlib
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import typer
from pydantic import TypeAdapter
from rich.console import Console
from sqlalchemy import Table, delete, func, select

from .clock import Clock, SystemClock
from .db import Database, KitTables
from .settings import ServiceSettings, SettingsError, load_settings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
DEFAULT_RETENTION = timedelta(days=30)
BATCH = 5_000


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int
    timers: int


async def prune(
    db: Database, tables: KitTables, *, older_than: datetime, dry_run: bool = False, batch: int = BATCH
) -> Pruned:
    """Delete (or, with ``dry_run``, count) what is older than ``older_than`` and no longer needed."""
    outbox, inbox, timers = tables.outbox, tables.inbox, tables.timers
    targets: list[tuple[Table, object, object]] = [
        (outbox, outbox.c.id, (outbox.c.published_at.is_not(None)) & (outbox.c.published_at < older_than)),
        (inbox, None, inbox.c.processed_at < older_than),
        (
            timers,
            timers.c.id,
            timers.c.status.in_(("fired", "cancelled", "failed"))
            & (func.coalesce(timers.c.fired_at, timers.c.created_at) < older_than),
        ),
    ]
    counts: list[int] = []
    for table, key, condition in targets:
        counts.append(await _prune_table(db, table, key, condition, dry_run=dry_run, batch=batch))
    return Pruned(*counts)


async def _prune_table(
    db: Database, table: Table, key: typing.Any, condition: typing.Any, *, dry_run: bool, batch: int
) -> int:
    if dry_run:
        async with db.session() as session:
            return int(
                (await session.execute(select(func.count()).select_from(table).where(condition))).scalar_one()
            )
    total = 0
    while True:
        async with db.session() as session, session.begin():
            if key is not None:  # in batches, so a large backlog never holds one huge transaction
                ids = select(key).where(condition).limit(batch).scalar_subquery()
                result = await session.execute(delete(table).where(key.in_(ids)))
            else:
                result = await session.execute(delete(table).where(condition))
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if key is None or deleted < batch:
            return total


def _service_parts(service: str) -> tuple[type[ServiceSettings], KitTables]:
    bootstrap = importlib.import_module(f"reintegra_{service}.bootstrap")
    orm = importlib.import_module(f"reintegra_{service}.orm")
    settings_class: type[ServiceSettings] = typing.get_type_hints(bootstrap.build)["settings"]
    return settings_class, orm.kit_tables


@app.callback()
def main() -> None:
    """Housekeeping of a service's kit tables."""


@app.command("prune")
def prune_command(
    service: Annotated[str, typer.Argument(help="The service whose database to prune (e.g. referral).")],
    retention: Annotated[
        str, typer.Option(help="ISO 8601 duration to keep (e.g. P30D); older rows that are done go.")
    ] = "P30D",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
) -> None:
    """Delete published outbox rows, inbox rows and finished timers older than the retention."""
    try:
        keep = TypeAdapter(timedelta).validate_python(retention)
    except ValueError:
        console.print(f"[red]--retention {retention!r} is not an ISO 8601 duration such as P30D[/red]")
        raise typer.Exit(2) from None
    try:
        settings_class, tables = _service_parts(service)
    except ModuleNotFoundError:
        console.print(f"[red]no service named {service!r} (expected a package reintegra_{service})[/red]")
        raise typer.Exit(2) from None
    try:
        settings = load_settings(settings_class)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    result = asyncio.run(_run(settings, tables, keep, dry_run, SystemClock()))
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{service}: {verb} {result.outbox} outbox rows, {result.inbox} inbox rows, "
        f"{result.timers} timers older than {keep}"
    )


async def _run(
    settings: ServiceSettings, tables: KitTables, keep: timedelta, dry_run: bool, clock: Clock
) -> Pruned:
    db = Database(settings.effective_database_url)
    try:
        return await prune(db, tables, older_than=clock.now() - keep, dry_run=dry_run)
    finally:
        await db.dispose()


if __name__ == "__main__":
    app()
