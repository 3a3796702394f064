"""Unit of work: one transaction holding a handler's state changes and the events they imply."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

from reintegra_contracts import Event
from sqlalchemy.ext.asyncio import AsyncSession

from .case_trace import CaseTraceScope
from .clock import Clock
from .db import Database, insert_many_or_ignore
from .outbox import Outbox

if TYPE_CHECKING:
    from .timers import Timers


class HandlerCommitError(RuntimeError):
    """A handler tried to commit: the caller (HTTP bus, consumer, timer runner) owns the transaction."""


class UnitOfWork:
    """``async with uow:`` opens a transaction; ``await uow.commit()`` commits it; leaving without
    committing rolls back. Services subclass it to expose their repositories.

    Handlers never commit (docs/adr/0012-handler-contract.md): whoever runs a handler does, after it
    returned, so that a message's inbox claim, its effects and the events they imply commit together.

    Emitted events are checked and encoded at once, and written to the outbox at :meth:`commit`, all in
    one statement (a consumer batch of hundreds of events costs one insert). A partial rollback must go
    through :meth:`savepoint`, which forgets the events emitted inside it.
    """

    def __init__(self, db: Database, outbox: Outbox, on_commit: Callable[[], None] | None = None) -> None:
        self._db = db
        self._outbox = outbox
        self._on_commit = on_commit
        self._session: AsyncSession | None = None
        self._staged: list[dict[str, Any]] = []  # the transaction's state: see _forget_transaction
        self._in_handler = False
        self._trace: CaseTraceScope | None = None
        self._remembered: dict[Hashable, Any] = {}
        self._traces_seen: dict[str, str | None] = {}  # for db.known_case_traces, at commit
        self._trace_rows: list[dict[str, Any]] = []  # case traces to write at commit
        self._new_cases: set[str] = set()  # cases created in this transaction (case_is_new)
        self._read_only = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use 'async with uow:'")
        return self._session

    def reading(self) -> Self:
        """Make this unit of work read-only (``async with uow().reading() as u:``), for a check before
        a request that reads a row or two and decides nothing with them: no transaction — on
        PostgreSQL each read is one round trip, not three with BEGIN and ROLLBACK. Emitting or
        committing through it is refused."""
        if self._session is not None:
            raise RuntimeError("a unit of work already open cannot become read-only")
        self._read_only = True
        return self

    async def __aenter__(self) -> Self:
        if self._read_only:
            self._session = self._db.read_session()
        else:
            self._session = self._db.session()
            await self._session.begin()
        self._forget_transaction()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._trace is not None:
            self._trace.close()
            self._trace = None
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            self._forget_transaction()
            await session.close()
            self._session = None

    @property
    def timers(self) -> Timers:
        """Durable timers scheduled in this transaction (see :mod:`reintegra_kit.timers`)."""
        return _timers_class()(self.session, self._outbox.tables.timers, self._outbox.clock)

    @property
    def remembered(self) -> dict[Hashable, Any]:
        """What repositories read once for the rest of this transaction (e.g. the directory facts
        that every need of a consumer batch is matched against), by a key of their choosing.

        Forgotten when the transaction ends or a savepoint rolls back. A repository that writes what
        it remembers forgets it (``remembered.clear()``), so that the transaction reads its own writes.
        """
        return self._remembered

    @property
    def clock(self) -> Clock:
        return self._outbox.clock

    def _writable(self) -> None:
        self.session  # noqa: B018 - raises unless the unit of work is open
        if self._read_only:
            raise RuntimeError("a read-only unit of work (reading()) emits and commits nothing")

    async def emit(self, event: Event) -> str:
        """Stage ``event`` in the outbox of this transaction; return its CloudEvents id."""
        self._writable()
        row = self._outbox.stage(event)
        self._staged.append(row)
        return str(row["event_id"])

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A SAVEPOINT: an exception inside rolls back its writes and forgets the events it emitted."""
        mark = len(self._staged)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._staged[mark:]
            self._remembered.clear()  # it may hold what the rolled-back writes changed
            raise

    async def emit_many(self, events: list[Event]) -> list[str]:
        """Stage ``events``, in order (written with the others at commit); return their CloudEvents ids."""
        self._writable()
        rows = [self._outbox.stage(e) for e in events]
        self._staged.extend(rows)
        return [str(r["event_id"]) for r in rows]

    @contextmanager
    def trace_scope(self, name: str, *, follow: bool) -> Iterator[None]:
        """While one message is handled: remember each case's trace, and — for a command (``follow``)
        — continue the case's trace from the moment the command changes the case
        (:mod:`reintegra_kit.case_trace`)."""
        previous, self._trace = self._trace, CaseTraceScope(name, follow=follow)
        try:
            yield
        finally:
            self._trace.close()
            self._trace = previous

    async def track_case(self, case_id: object) -> None:
        """Called by repositories before staging a case's events (see :meth:`trace_scope`)."""
        if self._trace is None:
            self._trace = CaseTraceScope("write", follow=False)
        await self._trace.case(
            self.session,
            self._outbox.tables.case_traces,
            self._outbox.clock,
            str(case_id),
            self._db.known_case_traces,
            self._traces_seen,
            self._trace_rows,
            self._new_cases,
        )

    def case_is_new(self, *case_ids: object) -> None:
        """Called by a repository that creates these cases in this transaction: their trace is the
        current one, remembered without reading whether they have one (:mod:`.case_trace`)."""
        self._new_cases.update(str(case_id) for case_id in case_ids)

    async def prepare_cases(self, case_ids: Sequence[UUID]) -> None:
        """Called by the consumer at the start of a batch's transaction, after the inbox claims, with
        the cases its new events are about (in order, maybe repeated), before any handler runs. A
        service whose handlers begin by locking the case and reading something of it overrides this
        to do it for the whole batch in one statement each (:func:`reintegra_kit.db.lock_cases`,
        :meth:`reintegra_kit.erasure.ErasedCaseRepository.remember`; ADR 0031). Nothing by default."""

    async def prepare_events(self, events: Sequence[Event]) -> None:
        """Called by the consumer right after :meth:`prepare_cases`, with the batch's new events (in
        order, maybe repeated), before any handler runs. A service whose handlers look rows up by
        keys the events name (a referral's id, a business key) overrides this to read them for the
        whole batch in one statement, and to remember what it read, found or not, in
        :attr:`remembered` — updated by its own writes, so that later events of the batch see the
        earlier ones' (ADR 0031). Nothing by default."""

    @contextmanager
    def handler_scope(self) -> Iterator[None]:
        """While a handler runs, :meth:`commit` refuses (the contract says handlers never commit)."""
        self._in_handler = True
        try:
            yield
        finally:
            self._in_handler = False

    async def commit(self) -> None:
        if self._in_handler:
            raise HandlerCommitError("handlers never commit; the bus, consumer or timer runner does")
        self._writable()
        staged, traces, trace_rows = self._staged, self._traces_seen, self._trace_rows
        self._forget_transaction()
        if trace_rows:  # the cases' traces remembered in this transaction, in one statement
            written = await insert_many_or_ignore(
                self.session, self._outbox.tables.case_traces, trace_rows, ["case_id"], "case_id"
            )
            for row in trace_rows:
                if row["case_id"] not in written:
                    traces[row["case_id"]] = None  # another transaction's came first: not ours
        await self._outbox.write(self.session, staged)
        await self.session.commit()
        self._db.known_case_traces.learn(traces)  # committed: true from now on
        if staged and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        self._forget_transaction()
        await self.session.rollback()

    def _forget_transaction(self) -> None:
        """What a unit of work keeps for one transaction only: events to write, reads remembered,
        case traces seen (learned by the process at commit) and to write."""
        self._staged = []
        self._remembered = {}
        self._traces_seen = {}
        self._trace_rows = []
        self._new_cases = set()


@functools.cache
def _timers_class() -> type[Timers]:
    """:class:`reintegra_kit.timers.Timers`, imported once (its module imports this one): an import
    statement run at each ``uow.timers`` costs importlib's relative-name resolution every time."""
    from .timers import Timers

    return Timers
