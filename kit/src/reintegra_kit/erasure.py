"""That a case was erased at reception (``returnee_erased``): the record a service keeps of it.

Reception destroys the person's data key and announces ``returnee_erased``. A service that held
something of the person drops it and keeps only that the case was erased — ids, the reason code and
when — so that an event about the case arriving later does not bring the person back. *Why* each
service keeps it (what it must not do again) is said where the service uses it: its ``erase_case``
handler and the comment of its ``erased_cases`` table.

One definition for every service: the record (:class:`ErasedCase`, pure), its table
(:func:`define_erased_cases`, on the service's own metadata, with the service's comment and any
extra columns, so that each service's DDL stays its own) and its repository
(:class:`ErasedCaseRepository`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from reintegra_contracts.codelists import ErasureReason
from reintegra_contracts.events.reception import ReturneeErased
from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid

from .clock import as_utc
from .db import insert_or_ignore, rows_among, select_by
from .repository import Repository

if TYPE_CHECKING:
    from .uow import UnitOfWork


@dataclass(frozen=True)
class ErasedCase:
    """A case whose person was erased: ids, the reason code and when — nothing else."""

    case_id: UUID
    returnee_id: UUID
    reason: ErasureReason
    erased_at: datetime
    recorded_at: datetime

    @classmethod
    def of(cls, event: ReturneeErased, now: datetime) -> ErasedCase:
        return cls(event.case_id, event.returnee_id, event.reason, event.erased_at, now)


def define_erased_cases(
    metadata: MetaData, *, comment: str, extra_columns: tuple[Column[Any], ...] = ()
) -> Table:
    """The ``erased_cases`` table on a service's ``metadata``: the columns of :class:`ErasedCase`,
    then the service's ``extra_columns``; ``comment`` says why the service keeps it."""
    return Table(
        "erased_cases",
        metadata,
        Column("case_id", Uuid, primary_key=True),
        Column("returnee_id", Uuid, nullable=False),
        Column("reason", String(30), nullable=False, comment="codelists.ErasureReason"),
        Column("erased_at", DateTime(timezone=True), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        *extra_columns,
        comment=comment,
    )


class ErasedCaseRepository(Repository):
    """The erased cases of one service, in its ``erased_cases`` table (:func:`define_erased_cases`)."""

    def __init__(self, uow: UnitOfWork, table: Table) -> None:
        super().__init__(uow)
        self._table = table

    async def add(self, erased: ErasedCase, **extra: Any) -> bool:
        """Record an erased case once, with the values of the table's extra columns (``extra``);
        False if it was already (a re-sent ``returnee_erased``)."""
        unknown = extra.keys() - self._table.c.keys()
        if unknown:
            raise ValueError(f"{self._table.name} has no column {', '.join(sorted(unknown))}")
        memo = self._uow.remembered.get(self._memo_key)
        if memo is not None:
            memo.pop(erased.case_id, None)  # read again if asked: what this changed
        return await insert_or_ignore(
            self.session,
            self._table,
            {
                "case_id": erased.case_id,
                "returnee_id": erased.returnee_id,
                "reason": erased.reason.value,
                "erased_at": erased.erased_at,
                "recorded_at": erased.recorded_at,
                **extra,
            },
            ["case_id"],
        )

    async def get(self, case_id: UUID) -> ErasedCase | None:
        """The case's erasure, or None; from what :meth:`remember` read for this transaction if it
        read the case."""
        memo = self._uow.remembered.get(self._memo_key)
        if memo is not None and case_id in memo:
            return memo[case_id]  # type: ignore[no-any-return]
        row = (await self.session.execute(select_by(self._table, "case_id"), {"case_id": case_id})).first()
        return _erased(row) if row is not None else None

    async def remember(self, case_ids: Iterable[UUID]) -> None:
        """Read whether each of ``case_ids`` was erased, in one statement, for :meth:`get` to answer
        from for the rest of the transaction (a consumer batch's: ADR 0031). Call it after locking the
        cases, so that an erasure committed by the lock's previous holder is seen; :meth:`add` forgets
        what it changes, and a savepoint rolled back forgets everything."""
        wanted = set(case_ids)
        rows = await rows_among(self.session, self._table, "case_id", wanted)
        found = {UUID(str(row.case_id)): _erased(row) for row in rows}
        memo = self._uow.remembered.setdefault(self._memo_key, {})
        for case_id in wanted:
            memo[case_id] = found.get(case_id)

    @property
    def _memo_key(self) -> tuple[str, str]:
        return ("erased_cases", self._table.name)


def _erased(row: Any) -> ErasedCase:
    return ErasedCase(
        case_id=UUID(str(row.case_id)),
        returnee_id=UUID(str(row.returnee_id)),
        reason=ErasureReason(row.reason),
        erased_at=as_utc(row.erased_at),
        recorded_at=as_utc(row.recorded_at),
    )
