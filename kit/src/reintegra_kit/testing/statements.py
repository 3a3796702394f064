"""Counting what a session sends to its database, for tests of reads that should not happen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


@contextmanager
def statements_sent(session: AsyncSession) -> Iterator[list[Any]]:
    """While inside, every statement ``session.execute`` is given is appended to the list yielded
    (whether it then runs on SQLAlchemy's path or from a plan); the session is left as it was."""
    sent: list[Any] = []
    real = session.execute

    async def counted(statement: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(statement)
        return await real(statement, *args, **kwargs)

    session.execute = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        del session.execute  # the class's method again


@contextmanager
def reads_of(engine: AsyncEngine, table: str) -> Iterator[list[str]]:
    """While inside, the SQL of every ``SELECT … FROM <table>`` any session of ``engine`` runs (a
    listener sees each statement: the kit's sessions then run them on SQLAlchemy's path, not from
    plans), for tests that count a batch's look-ups."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and f"FROM {table}" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
