"""Counts a service process's PostgreSQL round trips for ``bash scripts/bench.sh --round-trips``.

The benchmark puts this folder first on the services' ``PYTHONPATH`` and names a folder in
``REINTEGRA_BENCH_ROUND_TRIPS`` (bench/round_trips.py); Python then imports this module at start-up
(``sitecustomize``).
It wraps asyncpg's connection and prepared statement, so every way to the server is counted,
SQLAlchemy's and the kit's plans alike:

* ``statements`` — an extended-protocol execution (Bind, Execute, Sync) of a prepared statement;
* ``prepares`` — a statement parsed on the server because the connection had not prepared it;
* ``simple`` — a simple query without parameters: BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE;
* ``executemany`` — one ``executemany`` (asyncpg pipelines its parameter sets and waits once);
* ``sql:<the first 90 characters of its SQL>`` — the same, by statement (every kind but ``prepares``).

On SIGUSR1 the process appends its counts so far, as one JSON line, to
``<folder>/<pid>.jsonl``; the benchmark signals before and after the throughput phase and prints the
difference per case. Never imported by the services themselves, nor in production.
"""

from __future__ import annotations

import collections
import json
import os
import signal
from pathlib import Path
from typing import Any

_FOLDER = os.environ.get("REINTEGRA_BENCH_ROUND_TRIPS")
counts: collections.Counter[str] = collections.Counter()


def _install() -> None:
    try:
        from asyncpg import connection, prepared_stmt
    except ImportError:
        return
    Connection, Prepared = connection.Connection, prepared_stmt.PreparedStatement

    real_execute = Connection.execute

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:
            counts["simple"] += 1  # with arguments it goes through _execute, counted there
            counts["sql:" + query[:90]] += 1
        return await real_execute(self, query, *args, **kwargs)

    real_internal = Connection._execute

    async def internal(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        counts["sql:" + str(args[0] if args else kwargs.get("query"))[:90]] += 1
        return await real_internal(self, *args, **kwargs)

    real_many = Connection._executemany

    async def many(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["executemany"] += 1
        counts["sql:" + str(args[0] if args else kwargs.get("query"))[:90]] += 1
        return await real_many(self, *args, **kwargs)

    real_get = Connection._get_statement

    async def get_statement(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        record_class = kwargs.get("record_class") or self._protocol.get_record_class()
        key = (query, record_class, kwargs.get("ignore_custom_codec", False))
        if not (kwargs.get("use_cache", True) and self._stmt_cache.get(key) is not None):
            counts["prepares"] += 1
        return await real_get(self, query, *args, **kwargs)

    real_bind = Prepared._PreparedStatement__bind_execute

    async def bind(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        counts["sql:" + self._query[:90]] += 1
        return await real_bind(self, *args, **kwargs)

    Connection.execute = execute
    Connection._execute = internal
    Connection._executemany = many
    Connection._get_statement = get_statement
    Prepared._PreparedStatement__bind_execute = bind


def _dump(signum: int, frame: Any) -> None:
    if _FOLDER:
        with (Path(_FOLDER) / f"{os.getpid()}.jsonl").open("a") as out:
            out.write(json.dumps(dict(counts)) + "\n")


if _FOLDER:
    _install()
    signal.signal(signal.SIGUSR1, _dump)
