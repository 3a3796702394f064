"""Unit of work: one transaction holding a handler's state changes and the events they imply."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from reintegra_contracts import Event
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database
from .outbox import Outbox


class UnitOfWork:
    """``async with uow:`` opens a transaction; ``await uow.commit()`` commits it; leaving without
    committing rolls back. Services subclass it to expose their repositories."""

    def __init__(self, db: Database, outbox: Outbox, on_commit: Callable[[], None] | None = None) -> None:
        self._db = db
        self._outbox = outbox
        self._on_commit = on_commit
        self._session: AsyncSession | None = None
        self._staged = 0

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use 'async with uow:'")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._db.session()
        await self._session.begin()
        self._staged = 0
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    async def emit(self, event: Event) -> str:
        """Stage ``event`` in the outbox of this transaction; return its CloudEvents id."""
        self._staged += 1
        return await self._outbox.add(self.session, event)

    async def commit(self) -> None:
        await self.session.commit()
        if self._staged and self._on_commit is not None:
            self._on_commit()
        self._staged = 0

    async def rollback(self) -> None:
        await self.session.rollback()
