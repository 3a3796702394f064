"""Repositories map aggregates to rows, and nothing else (docs/adr/0013-aggregates.md).

A service's repository subclasses :class:`Repository`; its ``save`` writes the aggregate's row(s)
and then calls :meth:`Repository.publish_events`, which stages the events the aggregate recorded in
the outbox of the same transaction, in the order they were recorded.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from .db import plain_insert, update_by
from .deferred import write_later
from .domain import AggregateRoot

if TYPE_CHECKING:
    from .uow import UnitOfWork


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
