"""Async SQLAlchemy for PostgreSQL (asyncpg) and SQLite (aiosqlite), and the kit's own tables."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import functools
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from sqlalchemy import (
    VARCHAR,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    any_,
    bindparam,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio.session import AsyncSessionTransaction
from sqlalchemy.orm.session import SessionTransactionState
from sqlalchemy.util import EMPTY_DICT, immutabledict
from sqlalchemy.util.concurrency import in_greenlet

from .deferred import KeepingWrites
from .direct import Plan, Plans
from .wal import WalCheckpointer

if TYPE_CHECKING:
    from .case_trace import KnownCaseTraces

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the naming convention every service uses (stable constraint names in migrations)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# SQLite has no BIGINT autoincrement; this maps to INTEGER PRIMARY KEY (the rowid) there.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class KitTables:
    """The outbox, inbox and timers tables of one service's database."""

    outbox: Table
    inbox: Table
    timers: Table
    case_traces: Table


def define_kit_tables(metadata: MetaData) -> KitTables:
    """Declare the kit's tables on ``metadata`` (each service has its own database).

    Their migrations are frozen functions of :mod:`reintegra_kit.migrations` (``create_kit_tables_v1``,
    ``upgrade_kit_tables_v2``); a change here needs a new one and a migration in every service.
    """
    outbox = Table(
        "outbox",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("message_key", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column(
            "headers", Text, nullable=False, comment="JSON object of Kafka headers (CloudEvents binary mode)"
        ),
        Column("traceparent", String(64), nullable=True, comment="W3C trace context of the writing request"),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer_group", String(200), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        Column(
            "outcome",
            String(20),
            nullable=False,
            server_default=text("'processed'"),
            comment="processed | refused (a business rejection, answered once, never retried)",
        ),
        Column("detail", Text, nullable=True, comment="Why it was refused (no personal data)"),
    )
    timers = Table(
        "timers",
        metadata,
        Column("id", AutoId, primary_key=True, autoincrement=True),
        Column("kind", String(100), nullable=False, comment="What fires, e.g. followup.due"),
        Column("timer_key", String(200), nullable=False, comment="Business key, unique per kind"),
        Column("case_id", String(64), nullable=True, comment="Pseudonymous case id (logs, traces)"),
        Column("due_at", DateTime(timezone=True), nullable=False),
        Column("payload", Text, nullable=False, comment="JSON object given to the handler"),
        Column("traceparent", String(64), nullable=True, comment="Trace the firing continues"),
        Column("status", String(20), nullable=False, comment="scheduled | fired | cancelled | failed"),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("fired_at", DateTime(timezone=True), nullable=True),
        UniqueConstraint("kind", "timer_key", name="uq_timers_kind_key"),
        Index("ix_timers_due", "status", "due_at"),
    )
    case_traces = Table(
        "case_traces",
        metadata,
        Column("case_id", String(64), primary_key=True),
        Column("traceparent", String(64), nullable=False, comment="Trace the case started in"),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    return KitTables(outbox=outbox, inbox=inbox, timers=timers, case_traces=case_traces)


@functools.cache
def insert_ignoring(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Any:
    """``INSERT … ON CONFLICT (conflict_columns) DO NOTHING`` for ``dialect``, built once per table:
    execute it with a dict of values, or a list of them (one compiled form whatever their number)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # inline: no implicit RETURNING of a generated key (nothing reads inserted_primary_key), so that
    # PostgreSQL runs it from its plan too (ADR 0025)
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns)).inline()


@functools.cache
def plain_insert(table: Table) -> Any:
    """``INSERT INTO table``, built once: execute it with a dict of values (or a list of them).
    Inline: no implicit ``RETURNING`` of a generated key (ADR 0025)."""
    return table.insert().inline()


@functools.cache
def select_by(table: Table, *keys: str, columns: tuple[str, ...] = (), order_by: tuple[str, ...] = ()) -> Any:
    """``SELECT columns (all by default) FROM table WHERE key = :key AND … ORDER BY …``, built once:
    execute it with ``{key: value, …}``.

    A statement built for each call costs more CPU than SQLite takes to run it: building (coercions,
    operators), then its cache key, then matching the cached compiled form's columns to the new
    object. Built once, the statement keeps its cache key and its compiled form's result columns
    (docs/adr/0024-statements-built-once.md).
    """
    chosen = [table.c[name] for name in columns] if columns else [table]
    query = select(*chosen).where(*(table.c[name] == bindparam(name) for name in keys))
    return query.order_by(*(table.c[name] for name in order_by)) if order_by else query


def among(column: Any, name: str, dialect: str) -> Any:
    """``column`` among the values of the list parameter ``:name``: on PostgreSQL ``= ANY`` of one
    array, so that the statement's text does not change with the number of values and each
    connection prepares it once (ADR 0029); on SQLite an expanded ``IN``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(_unbounded(column.type))))
    return column.in_(bindparam(name, expanding=True))


async def rows_among(
    session: AsyncSession, table: Table, key: str, values: Iterable[Any], columns: tuple[str, ...] = ()
) -> list[Any]:
    """The rows (``columns``, all by default) of ``table`` whose ``key`` is among ``values``, in one
    statement built once per dialect (:func:`among`); none without values."""
    wanted = list(values)
    if not wanted:
        return []
    statement = _select_among(table, key, dialect_of(session), columns)
    return list(await session.execute(statement, {"values": wanted}))


@functools.cache
def _select_among(table: Table, key: str, dialect: str, columns: tuple[str, ...]) -> Any:
    chosen = [table.c[name] for name in columns] if columns else [table]
    return select(*chosen).where(among(table.c[key], "values", dialect))


@functools.cache
def update_by(table: Table, *keys: str) -> Any:
    """``UPDATE table SET … WHERE key = :key_<key> AND …``, built once: execute it with
    ``{"key_<key>": value, …, column: new value, …}`` — the other parameters are the columns set."""
    return update(table).where(*(table.c[name] == bindparam(f"key_{name}") for name in keys))


@functools.cache
def delete_by(table: Table, *keys: str) -> Any:
    """``DELETE FROM table WHERE key = :key AND …``, built once: execute it with ``{key: value, …}``."""
    return delete(table).where(*(table.c[name] == bindparam(name) for name in keys))


# a SELECT built once, not textual SQL: planned like the rest (ADR 0025), one round trip
_CASE_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
_KEYS = (
    func.unnest(bindparam("keys", type_=postgresql.ARRAY(BigInteger))).table_valued("key").render_derived()
)
# one lock per row, taken in the array's order as the function scan produces the rows
_CASE_LOCKS = select(func.pg_advisory_xact_lock(_KEYS.c.key)).select_from(_KEYS)
_LOCKED = "reintegra.locked_cases"
"""``session.info`` key: the transaction the cases were locked in by :func:`lock_cases`, and their keys."""


def dialect_of(session: AsyncSession) -> str:
    """The session's database dialect: ``postgresql`` or ``sqlite``."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _case_key(case_id: UUID) -> int:
    return int.from_bytes(case_id.bytes[:8], "big", signed=True)


def _locked_here(session: AsyncSession) -> set[int]:
    """The case keys :func:`lock_cases` locked in the session's current transaction."""
    transaction, keys = session.info.get(_LOCKED, (None, set()))
    return (
        keys if transaction is not None and transaction is session.sync_session.get_transaction() else set()
    )


async def lock_case(session: AsyncSession, case_id: UUID) -> None:
    """Hold ``case_id`` until the transaction ends (ADR 0060): on PostgreSQL a transaction-level
    advisory lock keyed by the case id's first 8 bytes; SQLite already runs one writer at a time.
    Free when :func:`lock_cases` locked the case with the others of a consumer batch."""
    if dialect_of(session) == "postgresql":
        key = _case_key(case_id)
        if key not in _locked_here(session):
            await session.execute(_CASE_LOCK, {"key": key})


async def lock_cases(session: AsyncSession, case_ids: Iterable[UUID]) -> None:
    """Hold every one of ``case_ids`` until the transaction ends, as :func:`lock_case` does, in one
    statement: at the start of a consumer batch's transaction, before anything about the cases is
    read (a read after a lock sees what the lock's previous holder committed). The locks are taken in
    the order of their keys, so that two transactions locking overlapping cases this way never wait
    for each other in a circle. :func:`lock_case` of one of them is then free (ADR 0031)."""
    if dialect_of(session) != "postgresql":
        return
    held = _locked_here(session)
    keys = sorted({_case_key(case_id) for case_id in case_ids} - held)
    if not keys:
        return
    await session.execute(_CASE_LOCKS, {"keys": keys})
    session.info[_LOCKED] = (session.sync_session.get_transaction(), held | set(keys))


async def insert_or_ignore(
    session: AsyncSession, table: Table, values: dict[str, Any], conflict_columns: list[str]
) -> bool:
    """Insert a row unless one with the same ``conflict_columns`` exists; True if inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite alike: a concurrent insert of the same
    key waits for the other transaction instead of failing.
    """
    result = await session.execute(
        insert_ignoring(dialect_of(session), table, tuple(conflict_columns)), values
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def insert_many_or_ignore(
    session: AsyncSession,
    table: Table,
    rows: list[dict[str, Any]],
    conflict_columns: list[str],
    returning: str,
) -> set[Any]:
    """Insert the rows that do not exist yet (by ``conflict_columns``); return the ``returning``
    column of those inserted (``INSERT … ON CONFLICT DO NOTHING RETURNING``). Every row has the
    same keys.

    One statement built once whatever the number of rows. On PostgreSQL the rows go as one array per
    column (``INSERT … SELECT … FROM unnest($1::VARCHAR[], …)``): its text does not change with the
    number of rows, so each connection prepares it once — multi-row ``VALUES`` was a new statement to
    parse and prepare for every batch size (ADR 0029). On SQLite, which prepares nothing over a
    network, SQLAlchemy sends the list as multi-row ``VALUES`` ("insertmanyvalues").
    """
    if not rows:
        return set()
    dialect = dialect_of(session)
    if dialect == "postgresql":
        columns = tuple(rows[0])
        stmt = _insert_unnest_ignoring_returning(table, columns, tuple(conflict_columns), returning)
        arrays = {name: [row[name] for row in rows] for name in columns}
        return set((await session.execute(stmt, arrays)).scalars())
    stmt = _insert_ignoring_returning(dialect, table, tuple(conflict_columns), returning)
    return set((await session.execute(stmt, rows)).scalars())


@functools.cache
def _insert_ignoring_returning(
    dialect: str, table: Table, conflict_columns: tuple[str, ...], returning: str
) -> Any:
    return insert_ignoring(dialect, table, conflict_columns).returning(table.c[returning])


def _unbounded(type_: Any) -> Any:
    """A bounded string's type without its length: an explicit cast to ``VARCHAR(n)`` would cut a
    longer value silently, where the insert into the column refuses it."""
    return String() if type(type_) in (String, VARCHAR) else type_


@functools.cache
def _insert_unnest_ignoring_returning(
    table: Table, columns: tuple[str, ...], conflict_columns: tuple[str, ...], returning: str
) -> Any:
    """``INSERT INTO table (columns) SELECT … FROM unnest(:c1, :c2, …) AS anon(columns) ON CONFLICT
    DO NOTHING RETURNING returning``: one array parameter per column, in the rows' order."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(_unbounded(table.c[name].type))) for name in columns]
    source = func.unnest(*arrays).table_valued(*columns).render_derived()
    return (
        pg_insert(table)
        .from_select(list(columns), select(*source.c))
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(table.c[returning])
    )


class Database:
    """One service's database: an async engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        # No pre-ping on every checkout: PostgreSQL's costs three round trips (BEGIN, ";", ROLLBACK),
        # ~16 % of all of them under load; a connection idle long enough is pinged instead (below).
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": False}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Statements run inline on the event loop (see _InlineCursor), so the connection is used
            # outside aiosqlite's thread; a file database gets ONE pooled connection per process, so
            # the process's transactions take turns (waiting asynchronously for the connection) and
            # never wait for each other's SQLite lock inside the loop. No pre-ping: a file answers.
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if parsed.database and parsed.database != ":memory:":
                kwargs.update(pool_size=1, max_overflow=0)
        else:
            # A fixed pool (HikariCP's advice): a connection opened beyond the pool and closed after
            # the peak costs a connect, authentication and every statement prepared again on it —
            # under the benchmark's load assessment prepared ~2 statements per case that way (ADR 0029).
            kwargs.update(pool_size=pool_size, max_overflow=0)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            _ping_when_idle(self.engine)
        plans = Plans(self.engine.sync_engine.dialect)
        base = _InlineSession if self.dialect == "sqlite" else _PostgresSession
        attributes: dict[str, Any] = {"_plans": plans}
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            attributes["_checkout"] = InlineCheckout(self.engine)  # its pool of one connection
        session_class: type[AsyncSession] = type(base.__name__.lstrip("_"), (base,), attributes)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, class_=session_class
        )
        self._sqlite_file = (
            Path(parsed.database)
            if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:")
            else None
        )
        # Reads that need no transaction (a request's record-scope check, ADR 0028): on PostgreSQL each
        # statement on its own (autocommit), so one round trip instead of BEGIN, SELECT, ROLLBACK. On a
        # SQLite file, a connection of their own that only reads (``query_only``), each statement its
        # own snapshot: no BEGIN IMMEDIATE (the write lock) and ROLLBACK around them, and no wait for
        # the one connection that a consumer's batch or the relay may be holding.
        self.read_engine: AsyncEngine | None = None
        self._direct_reads: DirectReads | None = None
        # an in-memory database is one connection's (another would be another database): its reads
        # are ordinary sessions
        self.reads: async_sessionmaker[AsyncSession] = self.sessions
        if self.dialect == "postgresql":
            self.reads = async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
                class_=session_class,
            )
        elif self._sqlite_file is not None:
            self.read_engine = create_async_engine(
                url,
                echo=echo,
                pool_pre_ping=False,
                connect_args={"timeout": 30, "check_same_thread": False},
                pool_size=1,
                max_overflow=0,
            )
            event.listen(self.read_engine.sync_engine, "connect", _sqlite_read_pragmas)
            self._direct_reads = DirectReads(self.read_engine)
        # A file's WAL is checkpointed in a thread, not by a commit on the event loop (ADR 0034).
        self.checkpointer = WalCheckpointer(self._sqlite_file) if self._sqlite_file is not None else None
        if self.checkpointer is not None:
            event.listen(self.engine.sync_engine, "connect", self.checkpointer.on_connect)
        self._relay_lock_fd: int | None = None

    @contextlib.contextmanager
    def relay_lock(self) -> Iterator[bool]:
        """SQLite: hold ``<database>.relay-lock`` (an OS file lock, released if the process dies) if no
        other process does; yields whether this process holds it. Processes sharing a SQLite file share
        a machine, so a file lock is exactly the scope of the database's own lock."""
        if self._sqlite_file is None:
            yield True  # an in-memory database belongs to one process
            return
        if self._relay_lock_fd is None:
            path = self._sqlite_file.with_name(self._sqlite_file.name + ".relay-lock")
            self._relay_lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._relay_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(self._relay_lock_fd, fcntl.LOCK_UN)

    @functools.cached_property
    def known_case_traces(self) -> KnownCaseTraces:
        """The cases whose trace row this process saw committed in this database (case_trace)."""
        from .case_trace import KnownCaseTraces

        return KnownCaseTraces()

    def session(self) -> AsyncSession:
        """A new session (use as ``async with db.session() as s``)."""
        return self.sessions()

    def read_session(self) -> AsyncSession:
        """A session for reads outside any transaction, every statement its own snapshot: on
        PostgreSQL a new one in autocommit; on a SQLite file the process's read connection
        (:class:`DirectReads`, which answers what a read-only unit of work asks of a session)."""
        if self._direct_reads is not None:
            return cast(AsyncSession, self._direct_reads)
        return self.reads()

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection (and stop checkpointing, until a connection is made again)."""
        if self.checkpointer is not None:
            await asyncio.to_thread(self.checkpointer.stop)
        await self.engine.dispose()
        if self._direct_reads is not None:
            await self._direct_reads.close_connection()
        if self.read_engine is not None:
            await self.read_engine.dispose()
        if self._relay_lock_fd is not None:
            os.close(self._relay_lock_fd)
            self._relay_lock_fd = None


PING_AFTER_IDLE_S = 0.5
"""A pooled connection idle at least this long is pinged before use (HikariCP's ``aliveBypassWindowMs``
is the same 500 ms); one used more recently is trusted."""


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pessimistic disconnect handling for connections that sat in the pool: a connection checked in
    at least :data:`PING_AFTER_IDLE_S` ago is pinged at checkout, and one that does not answer is
    replaced (``DisconnectionError``: the pool connects anew, up to three times). Under load a
    connection comes back within milliseconds and is not pinged. A server restarted in between is
    found by the next statement instead: SQLAlchemy invalidates the pool, the statement fails as an
    outage (``errors.is_infrastructure_error``), a consumer redelivers and HTTP answers 503 with
    ``Retry-After`` — the same as for a restart in the middle of a transaction."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["reintegra_idle_since"] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("reintegra_idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # a new connection, or one in use moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"a pooled connection did not answer: {error!r}") from error

    event.listen(pool, "checkin", checked_in)
    event.listen(pool, "checkout", checked_out)


_BUFFERED = immutabledict({"prebuffer_rows": True})  # what AsyncSession.execute asks for


class _Lifecycle(AsyncSession):
    """The kit's sessions: a transaction's begin, end and close run right away, without a greenlet,
    whenever nothing in them can await.

    ``AsyncSession`` runs each of them in a greenlet of its own (and closes in a task of its own), so
    that a driver that awaits can suspend inside SQLAlchemy's synchronous code. Some never do I/O:

    * beginning (the ORM transaction; the database's begins with its first statement);
    * ending or closing a session that holds no connection (a unit of work after its commit);
    * on SQLite, whose connection answers in the process (:class:`_InlineConnection`), ending a
      transaction and taking the pool's connection when it is free and connected
      (:class:`InlineCheckout`).

    What can await takes SQLAlchemy's path: on PostgreSQL ``COMMIT`` and ``ROLLBACK`` and taking a
    connection; on SQLite taking the connection another transaction holds or that must connect anew,
    and ending on an invalidated one. A SQLite transaction saves ~4 greenlet switches and a task,
    ~40 % of its CPU besides its statements; a PostgreSQL one 2 and a task (``bench/statement_cost.py``).
    """

    _checkout: InlineCheckout | None = None  # a SQLite file's (set on the subclass Database makes)
    _inline_connections = False  # whether the connections end in the process (SQLite's)

    def begin(self) -> AsyncSessionTransaction:
        return _InlineTransaction(self)

    async def connection(
        self, bind_arguments: Any = None, execution_options: Any = None, **kw: Any
    ) -> AsyncConnection:
        if bind_arguments is None and execution_options is None and not kw and self._checks_out_inline():
            return AsyncConnection._retrieve_proxy_for_target(self.sync_session.connection())
        return await super().connection(bind_arguments, execution_options, **kw)

    def _checks_out_inline(self) -> bool:
        """Whether taking the connection for this session's transaction cannot await: the pool holds
        it free and connected (:class:`InlineCheckout`)."""
        return self._checkout is not None and self._checkout.ready()

    def _ends_inline(self) -> bool:
        """Whether this session's transaction can end here: it holds no connection, or (SQLite) every
        one it holds is a valid inline connection (its commit, rollback and return to the pool run
        in the process)."""
        connections = _held_connections(self)
        if not connections:
            return True
        if not self._inline_connections:
            return False
        for connection, *_ in connections.values():
            fairy = connection._dbapi_connection
            if connection.invalidated or fairy is None:
                return False
            if not isinstance(fairy.dbapi_connection, _InlineConnection):
                return False
        return True

    async def commit(self) -> None:
        if self._ends_inline():
            self.sync_session.commit()
        else:
            await super().commit()

    async def rollback(self) -> None:
        if self._ends_inline():
            self.sync_session.rollback()
        else:
            await super().rollback()

    async def close(self) -> None:
        if self._ends_inline():
            self.sync_session.close()
        else:
            await super().close()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if self._ends_inline():
            await self.close()  # nothing awaits in it: a cancellation cannot stop it halfway
        else:
            await super().__aexit__(type_, value, traceback)


class DirectReads:
    """A SQLite file's reads outside any transaction: what a read-only unit of work
    (``uow.reading()``, a request's record-scope check: ADR 0028) uses as its session.

    One connection that only reads (``PRAGMA query_only``), connected at the first read and held
    until ``Database.dispose()``. Its statements run on the event loop's thread, as the kit's
    sessions run theirs: from a plan from their second execution on (ADR 0025), through SQLAlchemy's
    connection before that. Each is its own snapshot of what was committed (no ``BEGIN``). A read
    takes no session, transaction or pool checkout, so a record-scope check costs its statement:
    ~20 µs instead of ~200 µs through a session. It never waits for the service's connection that a
    consumer's batch or the relay is holding, nor for the write lock. Every statement runs without
    awaiting once the connection is there, so concurrent reads never interleave on it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.bind = engine
        self._plans = Plans(engine.sync_engine.dialect)
        self._connection: AsyncConnection | None = None
        self._connecting = asyncio.Lock()

    async def _sync_connection(self) -> Any:
        held = self._connection
        if held is None or held.closed or held.invalidated:
            async with self._connecting:  # one connection, however many reads wait for it
                held = self._connection
                if held is None or held.closed or held.invalidated:
                    held = self._connection = await self.bind.connect()
        return held.sync_connection

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        connection = await self._sync_connection()
        if not execution_options and bind_arguments is None and not kw and not isinstance(params, list):
            plan = self._plans.plan(statement, params)
            if plan is not None and not _watched(connection):
                raw = _inline_sqlite(connection)
                if raw is not None:
                    return plan.run(raw, params)
        return connection.execute(statement, params, execution_options=execution_options)

    def in_transaction(self) -> bool:
        return False  # each statement is its own

    async def rollback(self) -> None:
        return None

    async def close(self) -> None:
        return None  # the connection stays for the next read

    async def close_connection(self) -> None:
        held, self._connection = self._connection, None
        if held is not None:
            await held.close()


class _InlineTransaction(AsyncSessionTransaction):
    """``async with session.begin()`` of the kit's sessions (:class:`_Lifecycle`): a root transaction
    begun (no I/O) and ended right away when nothing can await; a savepoint takes SQLAlchemy's path."""

    async def start(self, is_ctxmanager: bool = False) -> AsyncSessionTransaction:
        if self.nested:
            return await super().start(is_ctxmanager)
        self.sync_transaction = self._assign_proxied(self.session.sync_session.begin())
        if is_ctxmanager:
            self.sync_transaction.__enter__()
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        session = self.session
        if not self.nested and isinstance(session, _Lifecycle) and session._ends_inline():
            self._sync_transaction().__exit__(type_, value, traceback)
        else:
            await super().__aexit__(type_, value, traceback)


class InlineCheckout:
    """Whether a SQLite database's pool holds its connection free and connected, so that a session can
    take it without awaiting. The pool's ``checkin`` event says whether the connection it got back is
    connected (an invalidated one connects anew at its next checkout, which awaits); a pool made anew
    (``dispose``) is watched from its first use."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self._pool: Any = None
        self._connected = False

    def ready(self) -> bool:
        pool: Any = self._engine.pool  # a QueuePool of one (a file database's)
        if pool is not self._pool:
            self._watch(pool)
        return self._connected and pool.checkedin() > 0

    def _watch(self, pool: Any) -> None:
        self._pool, self._connected = pool, False

        def checked_in(dbapi_connection: Any, record: Any) -> None:
            if self._pool is pool:
                self._connected = dbapi_connection is not None

        event.listen(pool, "checkin", checked_in)


class _InlineSession(KeepingWrites, _Lifecycle):
    """A SQLite session whose statements, once its transaction holds the connection, run right away.

    ``AsyncSession.execute`` runs each statement in a new greenlet, so that a driver that awaits can
    suspend inside SQLAlchemy's synchronous code. On SQLite nothing awaits any more (the statements run
    inline: :class:`_InlineCursor`) except checking the connection out of the pool, which happens once
    per transaction — so after that, ``execute`` calls the synchronous session directly: ~40 µs of
    CPU less per statement, a third of SQLAlchemy's cost (``bench/statement_cost.py``). A statement
    not planned without a connection held yet takes the usual path. The result is the same buffered
    ``Result`` as ``AsyncSession.execute`` gives.

    A statement it has seen before runs on the driver directly, from a plan compiled once
    (:mod:`.direct`, ADR 0025): ~20 µs instead of ~80 — its transaction's first too, once the
    connection is checked out.
    """

    _plans: Plans  # the database's (set on the subclass Database makes)
    _inline_connections = True

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        await self._before(statement)  # writes kept for the commit that this statement touches
        planned = await _planned(self, self._plans, statement, params, execution_options, bind_arguments, kw)
        if planned is not None:
            plan, connection, values, many = planned
            raw = _inline_sqlite(connection)
            if raw is not None:
                return plan.run_many(raw, values) if many else plan.run(raw, values)
        if not _held_connections(self):
            if bind_arguments is not None or not self._checks_out_inline():
                return await super().execute(  # the checkout may await: SQLAlchemy's greenlet
                    statement,
                    params,
                    execution_options=execution_options,
                    bind_arguments=bind_arguments,
                    **kw,
                )
            self.sync_session.connection()  # free and connected: taken without awaiting
        options = immutabledict(execution_options).union(_BUFFERED) if execution_options else _BUFFERED
        return self.sync_session.execute(
            statement, params, execution_options=options, bind_arguments=bind_arguments, **kw
        )


class _PostgresSession(KeepingWrites, _Lifecycle):
    """A PostgreSQL session whose statements seen before (its transaction's first too, once the
    connection is checked out) run on asyncpg directly from a plan compiled once (:mod:`.direct`,
    ADR 0025): no greenlet, no execution context; the adapter's transaction and prepared-statement
    cache as SQLAlchemy uses them."""

    _plans: Plans  # the database's (set on the subclass Database makes)

    async def execute(
        self,
        statement: Any,
        params: Any = None,
        *,
        execution_options: Any = EMPTY_DICT,
        bind_arguments: Any = None,
        **kw: Any,
    ) -> Any:
        await self._before(statement)  # writes kept for the commit that this statement touches
        planned = await _planned(self, self._plans, statement, params, execution_options, bind_arguments, kw)
        if planned is not None:
            plan, connection, values, many = planned
            if many:
                return await plan.run_many_asyncpg(connection, values)
            return await plan.run_asyncpg(connection, values)
        return await super().execute(
            statement, params, execution_options=execution_options, bind_arguments=bind_arguments, **kw
        )


async def _planned(
    session: AsyncSession,
    plans: Plans,
    statement: Any,
    params: Any,
    execution_options: Any,
    bind_arguments: Any,
    kw: dict[str, Any],
) -> tuple[Plan, Any, Any, bool] | None:
    """The plan of a statement run again, the connection of the session's transaction, the
    parameters to run it with, and whether they are many sets (``executemany``); or ``None``:
    SQLAlchemy's path (options, a statement not planned, many sets the plan cannot run, a listener, an
    invalidated connection).

    A planned statement that is its transaction's first begins the transaction as SQLAlchemy's
    ``execute`` would have (the connection checked out, ``BEGIN``), then runs from its plan too."""
    if execution_options or kw or bind_arguments is not None:
        return None
    many = isinstance(params, list)
    if many:
        if not params or not _same_names(params):
            return None
        plan = plans.plan(statement, params[0], many=True)
        if plan is None:
            return None
        if len(params) == 1 and (plan.runs_many or plan.inserts):  # one set: the statement, run once
            params, many = params[0], False  # (an INSERT … RETURNING gives the same rows either way)
        elif not (plan.runs_many or plan.returns_per_set):
            return None
    else:
        plan = plans.plan(statement, params)
        if plan is None:
            return None
    connection = _held_connection(session)
    if connection is None:
        if not _held_connections(session):
            await session.connection()  # autobegin, as execute does: the pool's checkout may await
        connection = session.sync_session.connection()  # held now: no I/O
    if _watched(connection) or connection.invalidated:
        return None
    return plan, connection, params, many


def _held_connections(session: AsyncSession) -> Any:
    """The connections the session's transaction holds, by engine (empty: no transaction begun, or
    none checked out yet) — SQLAlchemy's private attributes, read here (and the transaction's state
    in :func:`_held_connection`)."""
    transaction = session.sync_session._transaction
    return EMPTY_DICT if transaction is None else transaction._connections_boundary._connections


def _held_connection(session: AsyncSession) -> Any:
    """The connection the session's active transaction holds for its engine, or ``None``: what
    ``Session.connection()`` returns then, without its bind lookup and state checks (~5 µs per
    planned statement); ``None`` sends the caller to ``Session.connection()``, which begins,
    checks out or refuses (a transaction that is not active) as SQLAlchemy does."""
    sync = session.sync_session
    transaction, bind = sync._transaction, sync.bind
    if transaction is None or bind is None or transaction._state is not SessionTransactionState.ACTIVE:
        return None
    entry = _held_connections(session).get(bind)  # as SessionTransaction.bound_connection looks it up
    return None if entry is None else entry[0]


def _inline_sqlite(connection: Any) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under a (synchronous) SQLAlchemy connection whose statements run
    inline (:class:`_InlineConnection`), or ``None``."""
    dbapi = connection.connection.dbapi_connection
    return dbapi._connection._conn if isinstance(dbapi, _InlineConnection) else None


def _same_names(rows: list[Any]) -> bool:
    """Whether every parameter set is a dict naming the same parameters (what a plan is made for)."""
    first = rows[0]
    if type(first) is not dict:
        return False
    names = first.keys()
    return all(type(row) is dict and row.keys() == names for row in rows)


def _watched(connection: Any) -> bool:
    """Whether a listener or echo wants to see each statement of ``connection`` (then SQLAlchemy runs it)."""
    if connection._echo:
        return True
    if not (connection._has_events or connection.engine._has_events):
        return False  # no listener was ever added (SQLAlchemy's own test before it dispatches)
    # the connection's dispatch joins the engine's to its own, which only a listener added to this
    # very connection fills; without one, the engine's answers (a fifth of the joined one's cost)
    dispatch = connection.dispatch if connection._has_events else connection.engine.dispatch
    return bool(
        dispatch.before_cursor_execute
        or dispatch.after_cursor_execute
        or dispatch.before_execute
        or dispatch.after_execute
    )


class _ClosedCursor:
    """What a statement left of its (already closed) sqlite3 cursor: what SQLAlchemy reads after it."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1, lastrowid: int | None = None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    async def close(self) -> None:
        return None


class _InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """Runs each statement (open a cursor, execute, fetch, close) right away on the event loop's
    thread, instead of in four trips to aiosqlite's thread: each trip is a queue hand-off, a thread
    switch and a wake-up of the loop — about 150 µs of CPU against 30 µs for the statement itself,
    and most of what a SQLite-backed service spent per event. A local SQLite statement takes
    microseconds; the one wait that can be long, another process's write lock (``busy_timeout``),
    lasts one short transaction of that process (replicas sharing the file, a CLI)."""

    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return _ClosedCursor()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if in_greenlet():  # SQLAlchemy's async path, which expects the driver to await once
            return super().execute(operation, parameters)
        try:  # _InlineSession's fast path: no greenlet, nothing to await
            return self._run(operation, parameters, many=False)
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        if in_greenlet():
            return super().executemany(operation, seq_of_parameters)
        try:
            return self._run(operation, seq_of_parameters, many=True)
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> Any:
        raw = self._connection._conn  # the sqlite3 connection (check_same_thread=False)

        def statement() -> tuple[Any, int, int | None, list[Any] | None]:
            cursor = raw.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                rows = cursor.fetchall() if cursor.description else None
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        description, rowcount, lastrowid, rows = statement()
        self._cursor = _ClosedCursor(description, rowcount, lastrowid)  # type: ignore[assignment]
        if rows is not None:
            self._rows = collections.deque(rows)
        return None

    async def _async_soft_close(self) -> None:
        return None  # nothing is open

    def close(self) -> None:
        self._rows.clear()


class _InlineConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _InlineCursor

    def commit(self) -> None:
        if self._connection._connection:
            try:
                self._connection._conn.commit()
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        if self._connection._connection:
            try:
                self._connection._conn.rollback()
            except Exception as error:
                self._handle_exception(error)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # SQLAlchemy, not the driver, decides where transactions begin (the driver's own handling breaks
    # SAVEPOINT, which the timer runner and the batch consumer use): see _sqlite_begin.
    dbapi_connection.isolation_level = None
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _InlineConnection
    cursor = dbapi_connection.cursor()
    # WAL lets the HTTP API read while the relay or a consumer writes; busy_timeout waits for the lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, record: Any) -> None:
    """A SQLite file's read connection (``Database.read_engine``, :class:`DirectReads`): the service's
    settings, and no writes."""
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: take the write lock at the start. A deferred transaction that reads and then writes
    # fails at once with "database is locked" when another writer committed meanwhile (busy_timeout
    # cannot help a lock upgrade); waiting at BEGIN is what SQLite's documentation recommends.
    adapted = conn.connection.dbapi_connection
    if isinstance(adapted, _InlineConnection):  # straight to sqlite3: a tenth of exec_driver_sql's cost
        try:
            adapted._connection._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # as SQLAlchemy would raise it ("database is locked": an outage)
            raise DBAPIError.instance("BEGIN IMMEDIATE", None, error, sqlite3.Error) from error
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
