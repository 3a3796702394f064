"""Statements of the hot path run straight on the driver (docs/adr/0025-statements-on-the-driver.md).

For each execution SQLAlchemy computes the statement's cache key, looks its compiled form up, builds an
execution context, processes the parameters, runs the cursor, and builds the result's metadata. For a
statement a service runs again and again — its module constants, the kit's (ADR 0024) — all but the
parameters and the rows is the same every time. So the kit's sessions (``db._InlineSession`` on
SQLite, ``db._PostgresSession``) compile such a statement once, with SQLAlchemy, into a :class:`Plan`
(the SQL, the order of its parameters, SQLAlchemy's own bind and result processors for its types, the
result's keys), and then run it on the driver's connection of the session's transaction: ``sqlite3``
synchronously, asyncpg as SQLAlchemy's adapter does (``bench/statement_cost.py``: ~80 → ~20 µs on
SQLite, ~200-290 → ~125 µs on PostgreSQL).

What SQLAlchemy decides is unchanged: the SQL is its compilation for the dialect, the values go through
its type processors both ways, errors are raised as its ``DBAPIError`` subclasses (an
``IntegrityError`` stays one). A statement takes the usual path when the plan cannot promise that:
the first time it is seen (a statement built per call is never planned), one with Python-side column
defaults or implicit ``RETURNING``, ORM statements, execution options, textual SQL, and whenever an
engine listener or echo wants to see each statement.

Many parameter sets (a list of dicts: ``executemany``) run on the driver too when they all name the
same columns and the statement is an INSERT, UPDATE or DELETE that returns no rows — what SQLAlchemy
itself hands to the driver's ``executemany`` then (neither dialect rewrites such an INSERT into one
multi-row statement without ``RETURNING``). A list of one runs as that one row, and so does an
``INSERT … RETURNING`` given a list of one (SQLAlchemy sends that one row, and gets the same rows
back). Most lists of the hot path are one row long: an arrival's returnee, its case, its keys; a
transaction's outbox rows.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.selectable import Select

_PLANNABLE = (Select, Insert, Update, Delete)
_DML = (Insert, Update, Delete)
_ROWCOUNT = re.compile(
    r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)"
)  # asyncpg's status, as SQLAlchemy reads it
_NOT_PLANNABLE = None
_T = TypeVar("_T")


class DirectResult(IteratorResult[Any]):
    """The buffered result of a planned statement: its rows, and ``rowcount`` as the driver gave it."""

    def __init__(self, metadata: SimpleResultMetaData, rows: list[Any], rowcount: int) -> None:
        super().__init__(metadata, iter(rows))
        self.rowcount = rowcount


class Plan:
    """One statement compiled once for one set of parameter names (what decides an INSERT's columns
    or an UPDATE's ``SET``)."""

    __slots__ = (
        "_compiled",
        "_dialect",
        "_expanding",
        "_metadata",
        "_positions",
        "_processors",
        "_results",
        "_types",
        "inserts",
        "positiontup",
        "returns_per_set",
        "runs_many",
        "sql",
    )

    def __init__(self, compiled: Any, dialect: Dialect) -> None:
        self._compiled = compiled
        self.sql: str = compiled.string
        self.positiontup: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._processors: Mapping[str, Callable[[Any], Any]] = _bind_processors(compiled, dialect)
        self._expanding = bool(compiled.literal_execute_params or compiled.post_compile_params)
        self._positions = (
            None if self._expanding else _fast_positions(compiled, self.positiontup, self._processors)
        )
        self._metadata = SimpleResultMetaData([column.keyname for column in compiled._result_columns])
        self._dialect = dialect
        self._types = [column.type for column in compiled._result_columns]
        # SQLite's cursor names no column types; asyncpg's does, and a few processors depend on them
        # (PostgreSQL numerics): those are chosen from the first execution's, as SQLAlchemy does
        self._results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = (
            self._processors_for([None] * len(self._types)) if dialect.name == "sqlite" else None
        )
        # many parameter sets at once (``executemany``): DML that returns no rows, without an IN list
        # rendered per execution
        self.runs_many: bool = (
            not self._types and not self._expanding and isinstance(compiled.statement, _DML)
        )
        # an INSERT (its RETURNING rows included) given as a list of one set runs as that one statement
        self.inserts: bool = not self._expanding and isinstance(compiled.statement, Insert)
        # on SQLite, an INSERT … RETURNING given many sets runs once per set, its rows returned together:
        # sqlite3's executemany returns no rows, so SQLAlchemy sends multi-row VALUES through its whole
        # execution path (an inbox's claims of a consumer batch), ~1 % of a service's CPU
        self.returns_per_set: bool = dialect.name == "sqlite" and self.inserts and bool(self._types)

    def _processors_for(self, coltypes: Sequence[Any]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        return tuple(
            (i, processor)
            for i, (type_, coltype) in enumerate(zip(self._types, coltypes, strict=True))
            if (processor := type_._cached_result_processor(self._dialect, coltype)) is not None
        )

    def _bind(self, params: Mapping[str, Any] | None) -> tuple[str, tuple[Any, ...]]:
        """The SQL and the driver's positional values for ``params``, as SQLAlchemy would send them."""
        fast = self._positions
        if fast is not None and params:
            # what construct_params would pick for each position, without building its dict first: the
            # value given by key (or by name), else the statement's own; a missing required one takes
            # SQLAlchemy's path below, which names it
            args = []
            for key, name, value, processor in fast:
                if key in params:
                    value = params[key]
                elif name in params:
                    value = params[name]
                elif value is _REQUIRED:
                    break
                args.append(value if processor is None else processor(value))
            else:
                return self.sql, tuple(args)
        values = self._compiled.construct_params(params, escape_names=False)
        sql, positions, processors = self.sql, self.positiontup, self._processors
        if self._expanding:  # IN (…) of a list: rendered for this many values, as SQLAlchemy does
            expanded = self._compiled._process_parameters_for_postcompile(values)
            sql, positions = expanded.statement, expanded.positiontup
            processors = {**processors, **expanded.processors}
            values = expanded.parameters
        return sql, tuple(processors[k](values[k]) if k in processors else values[k] for k in positions)

    def _result(self, rows: Sequence[Any], rowcount: int) -> DirectResult:
        converters = self._results or ()
        if converters and rows:
            converted = []
            for row in rows:
                values = list(row)
                for i, processor in converters:
                    values[i] = processor(values[i])
                converted.append(tuple(values))
            rows = converted
        return DirectResult(self._metadata, list(rows), rowcount)

    def run(self, raw: sqlite3.Connection, params: Mapping[str, Any] | None) -> DirectResult:
        """Run on a ``sqlite3`` connection (synchronous: SQLite answers from the process)."""
        sql, args = self._bind(params)
        rows, rowcount = _on_sqlite(raw, sql, args, many=False)
        return self._result(rows, rowcount)

    def run_many(self, raw: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> DirectResult:
        """Run once per parameter set on a ``sqlite3`` connection, as ``executemany`` (see
        :attr:`runs_many`); an INSERT … RETURNING (:attr:`returns_per_set`) returns the rows of every
        set, in their order, as SQLAlchemy's multi-row ``VALUES`` would."""
        if self.returns_per_set:
            returned: list[Any] = []
            count = 0
            # in a savepoint, so that the sets land all or none, as one multi-row statement's would
            _on_sqlite(raw, "SAVEPOINT reintegra_sets", (), many=False)
            try:
                for row in rows:
                    found, rowcount = _on_sqlite(raw, self.sql, self._bind(row)[1], many=False)
                    returned.extend(found)
                    count += max(rowcount, 0)
            except BaseException:
                with contextlib.suppress(DBAPIError):  # the statement's own error is the one to raise
                    _on_sqlite(raw, "ROLLBACK TO reintegra_sets", (), many=False)
                    _on_sqlite(raw, "RELEASE reintegra_sets", (), many=False)
                raise
            _on_sqlite(raw, "RELEASE reintegra_sets", (), many=False)
            return self._result(returned, count)
        _, rowcount = _on_sqlite(raw, self.sql, [self._bind(row)[1] for row in rows], many=True)
        return DirectResult(self._metadata, [], rowcount)

    async def run_asyncpg(self, connection: Connection, params: Mapping[str, Any] | None) -> DirectResult:
        """Run on the asyncpg connection under ``connection`` (SQLAlchemy's), as its asyncpg adapter
        does: in the transaction it began (beginning it if this is the transaction's first
        statement), prepared once per connection in the adapter's statement cache."""
        sql, args = self._bind(params)
        invalidated_asof = connection.dialect._invalidate_schema_cache_asof  # type: ignore[attr-defined]

        async def fetch(adapted: Any) -> tuple[list[Any], Any]:
            prepared, attributes = await adapted._prepare(sql, invalidated_asof)
            if self._results is None and self._types:
                self._results = self._processors_for([a.type.oid for a in attributes])
            return await prepared.fetch(*args), prepared

        rows, prepared = await _on_asyncpg(connection, sql, args, fetch)
        status = _ROWCOUNT.match(prepared.get_statusmsg() or "")
        return self._result(rows, int(status.group(1)) if status else -1)

    async def run_many_asyncpg(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> DirectResult:
        """Run once per parameter set on asyncpg, as SQLAlchemy's adapter runs ``executemany`` (asyncpg
        pipelines them; no row count, as there)."""
        sql = self.sql
        args = [self._bind(row)[1] for row in rows]
        invalidated_asof = connection.dialect._invalidate_schema_cache_asof  # type: ignore[attr-defined]

        async def execute_many(adapted: Any) -> None:
            await adapted._check_type_cache_invalidation(invalidated_asof)
            await adapted._connection.executemany(sql, args)

        await _on_asyncpg(connection, sql, args, execute_many)
        return DirectResult(self._metadata, [], -1)


_REQUIRED = object()

_SQLITE_DATETIME_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
"""What SQLAlchemy's SQLite ``DATETIME`` writes by default (its ``_storage_format``), positionally."""


def _bind_processors(compiled: Any, dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    """The statement's bind processors, SQLAlchemy's own, but for a SQLite ``DATETIME`` of the default
    storage format: the same text from a positional format. SQLAlchemy's formats a dict of seven
    fields per value, ~2.6 µs; this ~1 µs, and a few dozen timestamps are written per case (~1 % of a
    service's CPU). Anything but a plain ``datetime`` (a date, ``None``, a subclass) takes SQLAlchemy's."""
    processors = dict(compiled._bind_processors)
    if dialect.name != "sqlite":
        return processors
    for name, processor in processors.items():
        bind = compiled.binds.get(name)
        if bind is None:
            continue
        impl = bind.type.dialect_impl(dialect)
        if type(impl) is SQLITE_DATETIME and impl._storage_format == SQLITE_DATETIME._storage_format:
            processors[name] = _sqlite_datetime_text(processor)
    return processors


def _sqlite_datetime_text(fallback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any, text: str = _SQLITE_DATETIME_TEXT) -> Any:
        if type(value) is datetime:
            return text % (
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
            )
        return fallback(value)

    return process


def _fast_positions(
    compiled: Any, positiontup: tuple[str, ...], processors: Mapping[str, Callable[[Any], Any]]
) -> tuple[tuple[str, str, Any, Callable[[Any], Any] | None], ...] | None:
    """For each position of a statement's parameters: the key a caller gives its value by, its name in
    the SQL, the statement's own value (or ``_REQUIRED``), and its type's processor; ``None`` where
    ``construct_params`` does more than pick values (a value computed by a callable, values given to
    the statement's ``params()``, names it escapes)."""
    if getattr(compiled, "_collected_params", None) or compiled.escaped_bind_names:  # .params(…) values
        return None
    by_name = {}
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:
            return None
        by_name[name] = (bind.key, name, _REQUIRED if bind.required else bind.value, processors.get(name))
    if any(name not in by_name for name in positiontup):
        return None
    return tuple(by_name[name] for name in positiontup)


def _on_sqlite(raw: sqlite3.Connection, sql: str, args: Any, *, many: bool) -> tuple[list[Any], int]:
    """Run ``sql`` on a cursor of ``raw`` (once, or once per set of ``args``): its rows and row count,
    its error raised as SQLAlchemy raises it (IntegrityError, OperationalError, …)."""
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(sql, args)
            return [], cursor.rowcount
        cursor.execute(sql, args)
        return (cursor.fetchall() if cursor.description else []), cursor.rowcount
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, args, error, sqlite3.Error) from error
    finally:
        cursor.close()


async def _on_asyncpg(
    connection: Connection, sql: str, args: Any, work: Callable[[Any], Awaitable[_T]]
) -> _T:
    """``work`` on the asyncpg adapter under ``connection``, as the adapter runs a statement: under its
    mutex, in the transaction it began (beginning it for the transaction's first statement); asyncpg's
    errors as the adapter's DBAPI errors, and those as SQLAlchemy's (a lost connection is invalidated)."""
    adapted: Any = connection.connection.dbapi_connection
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
            try:
                return await work(adapted)
            except Exception as error:
                adapted._handle_exception(error)  # raises
    except connection.dialect.loaded_dbapi.Error as error:
        connection._handle_dbapi_exception(error, sql, args, None, None)  # raises
    raise AssertionError("not reached: the adapter and the connection raise")


class Plans:
    """The plans of one database's statements (keyed by the statement object, forgotten with it)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._seen: dict[int, weakref.ref[Any]] = {}
        self._plans: dict[int, tuple[weakref.ref[Any], dict[tuple[frozenset[str], bool], Plan | None]]] = {}

    def plan(self, statement: Any, params: Mapping[str, Any] | None, *, many: bool = False) -> Plan | None:
        """The plan of ``statement`` for these parameter names, for one set or for many (an INSERT
        compiled for ``executemany`` fetches no generated key); ``None``: take SQLAlchemy's path."""
        key = id(statement)
        entry = self._plans.get(key)
        names = (frozenset(params) if params else frozenset(), many)  # and one set or many
        if entry is not None:
            by_names = entry[1]
            if names in by_names:
                return by_names[names]
        elif (
            not isinstance(statement, _PLANNABLE)
            or statement._propagate_attrs
            or statement._execution_options
        ):
            return None  # an ORM statement, or options SQLAlchemy must see
        elif key not in self._seen:  # planned from its second execution on: per-call statements never
            self._seen[key] = weakref.ref(statement, lambda _, key=key: self._seen.pop(key, None))  # type: ignore[misc]
            return None
        else:
            self._seen.pop(key, None)
            entry = (weakref.ref(statement, lambda _, key=key: self._plans.pop(key, None)), {})  # type: ignore[misc]
            self._plans[key] = entry
        made = self._make(statement, names)
        entry[1][names] = made
        return made

    def _make(self, statement: Any, key: tuple[frozenset[str], bool]) -> Plan | None:
        names, many = key
        dml = isinstance(statement, _DML)
        compiled = statement.compile(
            dialect=self._dialect, column_keys=sorted(names) if dml else None, for_executemany=many
        )
        if (
            not compiled.positional
            or compiled.insert_prefetch  # Python-side defaults: SQLAlchemy computes them per execution
            or compiled.update_prefetch
            or compiled.implicit_returning  # SQLAlchemy reads those rows for inserted_primary_key
            or compiled.schema_translate_map
            or compiled._textual_ordered_columns
            or compiled._ad_hoc_textual
            or compiled._loose_column_name_matching
        ):
            return _NOT_PLANNABLE
        keys = [column.keyname for column in compiled._result_columns]
        if len(set(keys)) != len(keys):  # ambiguous names: SQLAlchemy's metadata handles those
            return _NOT_PLANNABLE
        return Plan(compiled, self._dialect)

    def __len__(self) -> int:
        return sum(
            1 for _, by_names in self._plans.values() for plan in by_names.values() if plan is not None
        )
