"""Operators' commands on reception's personal data, run against its database with the service's own
settings (``REINTEGRA_*``, as the service reads them)::

    python -m reintegra_reception audit verify [--anchor SEQ:HASH]
    python -m reintegra_reception keys status
    python -m reintegra_reception keys rotate
    python -m reintegra_reception erase CASE_ID --reason subject_request --requested-by NAME
    python -m reintegra_reception retention run [--dry-run] [--limit N] [--requested-by NAME]
    python -m reintegra_reception export CASE_ID --requested-by NAME [--out FILE]
    python -m reintegra_reception access-report CASE_ID --requested-by NAME

They use the same handlers as the service, in their own transactions; events they imply (an
erasure's ``returnee_erased``) go to the outbox, which the running service's relay publishes. Every
read and erasure is written to the audit log under ``--requested-by``. Exit status: 0 done (the chain
intact), 1 refused or the chain broken, 2 bad settings or arguments.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from reintegra_contracts.codelists import ErasureReason
from reintegra_kit.clock import Clock, SystemClock
from reintegra_kit.db import Database
from reintegra_kit.domain import DomainError
from reintegra_kit.handlers import Dependencies, MessageBus
from reintegra_kit.outbox import Outbox
from reintegra_kit.settings import SettingsError, load_settings
from rich.console import Console
from rich.table import Table

from .audit import verify_chain
from .bootstrap import COMMANDS, SPEC
from .crypto import CryptoError
from .domain.commands import Actor, EraseReturnee
from .erasure import ExportSubject, RetentionCandidate, due_for_retention, rewrap_data_keys
from .orm import kit_tables
from .privacy import AccessReport, AccessReportView
from .repository import ReceptionUnitOfWork
from .settings import ReceptionSettings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
audit_app = typer.Typer(help="The audit log of personal data.", no_args_is_help=True)
keys_app = typer.Typer(help="The key-encryption key and the people's data keys.", no_args_is_help=True)
retention_app = typer.Typer(help="Erasure after the retention period.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

RequestedBy = Annotated[
    str, typer.Option("--requested-by", help="Who asks (your user name); written to the audit log.")
]


class Reception:
    """Reception's handlers over its database, outside the service process."""

    def __init__(self, settings: ReceptionSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = settings.keys
        self.db = Database(settings.effective_database_url)
        self.outbox = Outbox(kit_tables, settings.event_source, clock, declared=SPEC.emitted_types)
        self.dependencies = Dependencies(
            clock=clock,
            settings=settings,
            match_policy=settings.match_policy,
            blind_index=self.keys.blind_index,
            override_max_validity=settings.override_max_validity,
        )
        self.bus: MessageBus[ReceptionUnitOfWork] = MessageBus(self.uow, self.dependencies)
        self.bus.register(COMMANDS)

    def uow(self) -> ReceptionUnitOfWork:
        return ReceptionUnitOfWork(self.db, self.outbox, lambda: None, keys=self.keys)

    async def run(self, handler: Callable[..., Awaitable[T]], message: Any) -> T:
        result: T = await self.bus.run(self.dependencies.bind(handler), message)
        return result


@asynccontextmanager
async def reception(clock: Clock | None = None) -> AsyncIterator[Reception]:
    try:
        settings = load_settings(ReceptionSettings)
        opened = Reception(settings, clock or SystemClock())
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        yield opened
    finally:
        await opened.db.dispose()


def operator(name: str) -> Actor:
    if not name.strip():
        err.print("[red]--requested-by: say who asks (it goes to the audit log)[/red]")
        raise typer.Exit(2)
    return Actor(subject=name.strip(), roles=frozenset({"operator"}))


def _run(coro: Coroutine[Any, Any, int]) -> None:
    try:
        code = asyncio.run(coro)
    except CryptoError as exc:  # a key missing or wrong: say which, no traceback
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if code:
        raise typer.Exit(code)


def _refused(exc: DomainError) -> int:
    err.print(f"[red]refused: {exc}[/red]")
    return 1


# -- audit -------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None, typer.Option(help="SEQ:HASH of a head printed before: check that the chain still has it.")
    ] = None,
) -> None:
    """Recompute the hash chain: exit 1 and name each row that was changed or removed."""
    kept: tuple[int, str] | None = None
    if anchor is not None:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            err.print("[red]--anchor is SEQ:HASH (a row number and its 64-digit hash)[/red]")
            raise typer.Exit(2)
        kept = (int(seq), digest)

    async def go() -> int:
        async with reception() as r, r.uow() as uow:
            report = await verify_chain(uow.audit, anchor=kept)
        for problem in report.problems:
            out.print(f"[red]broken:[/red] {problem}")
        state = "intact" if report.intact else "BROKEN"
        out.print(f"audit log {state}: {report.rows} rows; head {report.head_seq}:{report.head_hash}")
        if report.intact:
            out.print("keep the head above somewhere else; `audit verify --anchor` checks it later")
        return 0 if report.intact else 1

    _run(go())


# -- keys --------------------------------------------------------------------------------------------


@keys_app.command("status")
def keys_status() -> None:
    """How many data keys each key-encryption key wraps (and how many were destroyed by erasure)."""

    async def go() -> int:
        async with reception() as r, r.uow() as uow:
            counts = await uow.data_keys.count_by_kek()
        _print_keys(r, counts)
        return 0

    _run(go())


def _print_keys(r: Reception, counts: dict[str, int]) -> None:
    table = Table("key-encryption key", "data keys", "")
    current = r.keys.ring.current_id
    for kek_id, n in sorted(counts.items()):
        note = "current" if kek_id == current else ("erased" if kek_id == "destroyed" else "to re-wrap")
        table.add_row(kek_id, str(n), note)
    out.print(table)


@keys_app.command("rotate")
def keys_rotate(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Re-wrap every data key under the current REINTEGRA_KEY_ENCRYPTION_KEY (the old ones given in
    REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS); then the old key can be removed."""

    async def go() -> int:
        async with reception() as r:
            total = 0
            while done := await r.run(rewrap_data_keys, batch):
                total += done
            async with r.uow() as uow:
                counts = await uow.data_keys.count_by_kek()
        out.print(f"re-wrapped {total} data keys under {r.keys.ring.current_id}")
        _print_keys(r, counts)
        if set(counts) <= {r.keys.ring.current_id, "destroyed"}:
            out.print(
                "every data key is under the current key: remove REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS"
            )
            return 0
        err.print("[red]some data keys are still under another key (see above)[/red]")
        return 1

    _run(go())


# -- erasure, retention, subject access ----------------------------------------------------------------


@app.command("erase")
def erase(
    case_id: Annotated[UUID, typer.Argument(help="A case of the person to erase.")],
    requested_by: RequestedBy,
    reason: Annotated[ErasureReason, typer.Option(help="Why.")] = ErasureReason.SUBJECT_REQUEST,
) -> None:
    """Erase a person: destroy their data key (every copy becomes unreadable), tell every service."""
    actor = operator(requested_by)

    async def go() -> int:
        async with reception() as r:
            try:
                done = await r.bus.handle(EraseReturnee(case_id, reason, actor))
            except DomainError as exc:
                return _refused(exc)
        out.print(
            f"erased returnee {done.returnee_id} ({len(done.records)} record(s)); returnee_erased published "
            f"for {len(done.case_ids)} case(s)"
        )
        return 0

    _run(go())


def years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


@retention_app.command("run")
def retention_run(
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="Written to the audit log.")
    ] = "retention-job",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List who would be erased; erase nobody.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many people per run.")] = 1_000,
) -> None:
    """Erase everybody whose cases closed (or last changed) more than REINTEGRA_RETENTION_YEARS ago,
    each in their own transaction."""
    actor = operator(requested_by)

    async def go() -> int:
        async with reception() as r:
            cutoff = years_before(r.clock.now(), r.settings.retention_years)
            due: list[RetentionCandidate] = []
            after: UUID | None = None
            while len(due) < limit:
                async with r.uow() as uow:
                    found = await due_for_retention(cutoff, uow, min(500, limit - len(due)), after)
                if not found:
                    break
                due.extend(found)
                after = found[-1].returnee_id
            verb = "would erase" if dry_run else "erased"
            for candidate in due:
                if not dry_run:
                    await r.bus.handle(
                        EraseReturnee(candidate.case_id, ErasureReason.RETENTION_PERIOD_ENDED, actor)
                    )
                out.print(
                    f"{verb} returnee {candidate.returnee_id} (last activity {candidate.last_activity.isoformat()})"
                )
        out.print(
            f"retention ({r.settings.retention_years} years, before {cutoff.isoformat()}): {verb} {len(due)}"
        )
        return 0

    _run(go())


@app.command("export")
def export(
    case_id: Annotated[UUID, typer.Argument(help="A case of the person.")],
    requested_by: RequestedBy,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the JSON here (mode 0600).")] = None,
) -> None:
    """Subject access: everything reception holds on one person, as JSON."""
    actor = operator(requested_by)

    async def go() -> int:
        async with reception() as r:
            try:
                data = await r.bus.handle(ExportSubject(case_id, actor))
            except DomainError as exc:
                return _refused(exc)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if out_file is None:
            print(text, end="")
        else:
            fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            err.print(f"wrote {out_file}")
        return 0

    _run(go())


@app.command("access-report")
def access_report_command(
    case_id: Annotated[UUID, typer.Argument(help="A case of the person.")], requested_by: RequestedBy
) -> None:
    """Who looked at the person's data (their own access report)."""
    actor = operator(requested_by)

    async def go() -> int:
        async with reception() as r:
            try:
                report: AccessReportView = await r.bus.handle(AccessReport(case_id, actor))
            except DomainError as exc:
                return _refused(exc)
        table = Table("when", "who (role)", "agency", "centre", "what", "fields", "why", "outcome")
        for row in report.rows:
            table.add_row(
                row.at.isoformat(timespec="seconds"),
                row.actor_roles,
                row.actor_agency or "",
                row.actor_centre or "",
                row.action,
                ", ".join(row.fields),
                row.purpose,
                row.outcome,
            )
        out.print(table)
        return 0

    _run(go())


def main(argv: list[str]) -> None:
    """Run one command (exits with its status)."""
    app(args=argv, prog_name="python -m reintegra_reception")
