"""Counting what a session sends to its database, for tests of reads that should not happen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


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
