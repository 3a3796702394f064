"""Repositories map aggregates to rows, and nothing else (docs/adr/0013-aggregates.md).

A service's repository subclasses :class:`Repository`; its ``save`` writes the aggregate's row(s)
and then calls :meth:`Repository.publish_events`, which stages the events the aggregate recorded in
the outbox of the same transaction, in the order they were recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from .db import plain_insert, rows_among, update_by
from .deferred import write_later
from .domain import AggregateRoot

if TYPE_CHECKING:
    from .uow import UnitOfWork


T = TypeVar("T")


class RememberedByCase(Generic[T]):
    """Rows of one table read for many cases in one statement — a consumer batch's cases, after
    their locks (``UnitOfWork.prepare_cases``, ADR 0031) — and answered from for the rest of the
    transaction (``uow.remembered[name]``). A repository that writes those rows forgets what its write
    changes, so that the transaction reads its own writes; a savepoint rolled back forgets all."""

    def __init__(self, uow: UnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name

    async def read(
        self,
        table: Table,
        case_ids: Iterable[UUID],
        convert: Callable[[Any], T],
        *,
        key: str = "case_id",
        order: Callable[[T], Any] | None = None,
    ) -> None:
        """Read the rows of ``table`` whose ``key`` is among ``case_ids``, converted; each case's in
        ``order`` if given. A case without rows is remembered too (as none)."""
        wanted = set(case_ids)
        found: dict[UUID, list[T]] = {case_id: [] for case_id in wanted}
        for row in await rows_among(self._uow.session, table, key, wanted):
            found[UUID(str(getattr(row, key)))].append(convert(row))
        if order is not None:
            for rows in found.values():
                rows.sort(key=order)
        self._uow.remembered.setdefault(self._name, {}).update(found)
        self._uow.remembered.setdefault((self._name, "cases"), set()).update(wanted)

    def of(self, case_id: UUID) -> list[T] | None:
        """The case's rows as read (a copy), or ``None`` if they were not read: read them then."""
        memo = self._uow.remembered.get(self._name)
        if memo is None or case_id not in memo:
            return None
        return list(memo[case_id])

    def keep(self, case_id: UUID, rows: list[T]) -> None:
        """Remember ``rows`` read again for one of the cases :meth:`read` read (after a write forgot
        them): read after the case's lock, they stay true until the next write."""
        memo = self._uow.remembered.get(self._name)
        if memo is not None and case_id in self._uow.remembered.get((self._name, "cases"), ()):
            memo[case_id] = list(rows)

    def forget(self, *case_ids: UUID) -> None:
        memo = self._uow.remembered.get(self._name)
        if memo is not None:
            for case_id in case_ids:
                memo.pop(case_id, None)

    def forget_all(self) -> None:
        self._uow.remembered.pop(self._name, None)
        self._uow.remembered.pop((self._name, "cases"), None)


class StaleAggregateError(Exception):
    """The row changed since the aggregate was loaded (another writer won); retry the whole command.

    Not a domain error: it says nothing about the request, only that it raced another one.
    """


class Repository:
    """Base of a service's repositories: the session of the unit of work, and event publication."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def session(self) -> AsyncSession:
        return self._uow.session

    async def publish_events(self, *aggregates: AggregateRoot) -> None:
        """Stage the events the ``aggregates`` recorded (in order, aggregate by aggregate) in this
        transaction's outbox, with one statement, in each case's trace (remembered the first time,
        continued by commands: :mod:`reintegra_kit.case_trace`)."""
        events = [event for aggregate in aggregates for event in aggregate.pull_events()]
        for case_id in dict.fromkeys(e.case_id for e in events):
            await self._uow.track_case(case_id)
        if events:
            await self._uow.emit_many(events)

    async def insert_versioned(
        self, table: Table, aggregate: AggregateRoot, values: dict[str, Any], *, later: bool = False
    ) -> None:
        """Insert the first row of a new aggregate (version 1). ``later``: written with the
        transaction's commit, in one statement with the table's other rows kept so
        (:mod:`reintegra_kit.deferred`; a statement on the table sends it first); a duplicate key then
        fails the commit rather than this call."""
        row = {**values, "version": 1}
        if later:
            await write_later(self.session, plain_insert(table), row)
        else:
            await self.session.execute(plain_insert(table), row)
        aggregate.version = 1

    async def update_versioned(
        self, table: Table, key: dict[str, Any], aggregate: AggregateRoot, values: dict[str, Any]
    ) -> None:
        """Update an aggregate's row only if nobody changed it since it was loaded.

        Raises :class:`StaleAggregateError` when the stored version is not the loaded one.
        """
        statement = _versioned_update(table, tuple(key))
        params = {f"key_{name}": value for name, value in key.items()}
        result = await self.session.execute(
            statement,
            {**params, **values, "loaded_version": aggregate.version, "version": aggregate.version + 1},
        )
        if getattr(result, "rowcount", 0) != 1:
            raise StaleAggregateError(
                f"{table.name} {', '.join(str(v) for v in key.values())} changed since it was loaded"
            )
        aggregate.version += 1


@functools.cache
def _versioned_update(table: Table, key: tuple[str, ...]) -> Any:
    """``UPDATE table SET … WHERE key = :key_… AND version = :loaded_version``, built once per table:
    the columns to set are the other parameters of the execution (docs/adr/0024-statements-built-once.md)."""
    return update_by(table, *key).where(table.c.version == bindparam("loaded_version"))
