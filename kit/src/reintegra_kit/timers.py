"""Durable timers: scheduled in the service's database, fired once across replicas.

A handler schedules a timer in its unit of work (``await uow.timers.schedule("followup.due", key, at)``)
so that the timer exists exactly when the change that implies it commits. The :class:`TimerRunner` of
each replica fires due timers: it claims a batch with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite
serialises writers), moves each from *scheduled* to *fired* with a conditional update, and runs the
kind's handler — ``async def h(timer, uow, **deps)``, the same contract as every handler — inside a
savepoint of the same transaction, under the trace context that was current when the timer was
scheduled (so a follow-up months later continues the case's trace).

A timer is keyed by ``(kind, key)``: scheduling the same key twice keeps the first (idempotent by
business key). A handler that fails is retried with back-off, ``max_attempts`` times, then the timer
is marked *failed* with the error (it never blocks the timers behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import Table, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock, SystemClock, as_utc
from .db import dialect_of, insert_ignoring, insert_or_ignore
from .deferred import write_later
from .logging import bound, get_logger
from .telemetry import TRACER_NAME, context_from_traceparent, current_traceparent
from .uow import UnitOfWork

log = get_logger(__name__)

SCHEDULED = "scheduled"
FIRED = "fired"
CANCELLED = "cancelled"
FAILED = "failed"


@dataclass(frozen=True)
class Timer:
    """A durable timer as its handler sees it."""

    kind: str
    key: str
    due_at: datetime
    case_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    traceparent: str | None = None


class Timers:
    """Schedules and cancels timers inside a unit of work (``uow.timers``)."""

    def __init__(self, session: AsyncSession, table: Table, clock: Clock) -> None:
        self._session = session
        self._table = table
        self._clock = clock

    async def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        *,
        case_id: object | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> bool:
        """Schedule ``(kind, key)`` at ``due_at`` unless it exists; True if it was new.

        The current trace context is kept, so the firing continues the trace of what scheduled it.
        """
        row = self._row(kind, key, due_at, case_id, payload)
        return await insert_or_ignore(self._session, self._table, row, ["kind", "timer_key"])

    async def schedule_later(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        *,
        case_id: object | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`schedule`, for a caller that does not ask whether the timer was new: the row is
        written with the transaction's commit, with the other timers of the transaction in one
        statement (:mod:`reintegra_kit.deferred`). Reading, moving or cancelling a timer in the same
        transaction writes it first."""
        row = self._row(kind, key, due_at, case_id, payload)
        statement = insert_ignoring(dialect_of(self._session), self._table, ("kind", "timer_key"))
        await write_later(self._session, statement, row)

    def _row(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        case_id: object | None,
        payload: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "timer_key": key,
            "case_id": str(case_id) if case_id is not None else None,
            "due_at": due_at,
            "payload": json.dumps(dict(payload or {}), default=str),
            "traceparent": current_traceparent(),
            "status": SCHEDULED,
            "created_at": self._clock.now(),
        }

    async def reschedule(self, kind: str, key: str, due_at: datetime) -> bool:
        """Move a scheduled timer to ``due_at``; False if it is not scheduled (fired, cancelled, absent)."""
        t = self._table
        result = await self._session.execute(
            update(t)
            .where(t.c.kind == kind, t.c.timer_key == key, t.c.status == SCHEDULED)
            .values(due_at=due_at)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def cancel(self, kind: str, key: str) -> bool:
        """Cancel a scheduled timer; False if it was not scheduled."""
        t = self._table
        result = await self._session.execute(
            update(t)
            .where(t.c.kind == kind, t.c.timer_key == key, t.c.status == SCHEDULED)
            .values(status=CANCELLED)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def get(self, kind: str, key: str) -> tuple[str, Timer] | None:
        """The status and timer of ``(kind, key)``, if it exists."""
        t = self._table
        row = (await self._session.execute(select(t).where(t.c.kind == kind, t.c.timer_key == key))).first()
        return (row.status, _timer(row)) if row else None

    async def counts(self, now: datetime) -> dict[str, tuple[int, int]]:
        """Per kind: (scheduled, scheduled and already due) — for metrics."""
        t = self._table
        rows = await self._session.execute(
            select(
                t.c.kind,
                func.count(),
                func.sum(case((t.c.due_at <= now, 1), else_=0)),
            )
            .where(t.c.status == SCHEDULED)
            .group_by(t.c.kind)
        )
        return {kind: (int(total), int(due or 0)) for kind, total, due in rows}


def _timer(row: Any) -> Timer:
    return Timer(
        kind=row.kind,
        key=row.timer_key,
        due_at=as_utc(row.due_at),
        case_id=row.case_id,
        payload=json.loads(row.payload),
        attempts=row.attempts,
        traceparent=row.traceparent,
    )


U = TypeVar("U", bound=UnitOfWork)
TimerHandler = Callable[[Timer, U], Awaitable[Any]]
"""A bound timer handler: ``await handler(timer, uow)`` (dependencies already filled in)."""


class TimerRunner(Generic[U]):
    """Fires due timers of the kinds it has handlers for, once across replicas."""

    def __init__(
        self,
        uow_factory: Callable[[], U],
        table: Table,
        handlers: Mapping[str, TimerHandler[U]],
        *,
        clock: Clock | None = None,
        batch_size: int = 200,
        interval_s: float = 1.0,
        max_attempts: int = 5,
        backoff: timedelta = timedelta(seconds=30),
    ) -> None:
        self._uow_factory = uow_factory
        self._table = table
        self._handlers = dict(handlers)
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._tracer = trace.get_tracer(TRACER_NAME)
        self._wake = asyncio.Event()

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    def wake(self) -> None:
        """Look for due timers now (tests moving a manual clock call it)."""
        self._wake.set()

    async def fire_due(self) -> int:
        """Fire one batch of due timers; return how many fired (successfully or not)."""
        t = self._table
        now = self._clock.now()
        fired = 0
        async with self._uow_factory() as uow:
            session = uow.session
            rows = (
                await session.execute(
                    select(t)
                    .where(and_(t.c.status == SCHEDULED, t.c.due_at <= now, t.c.kind.in_(self._handlers)))
                    .order_by(t.c.due_at, t.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                claimed = await session.execute(
                    update(t)
                    .where(t.c.id == row.id, t.c.status == SCHEDULED)
                    .values(status=FIRED, fired_at=now)
                )
                if getattr(claimed, "rowcount", 0) != 1:
                    continue  # another replica fired it between our read and our update
                fired += 1
                await self._fire_one(uow, row, now)
            await uow.commit()
        return fired

    async def _fire_one(self, uow: U, row: Any, now: datetime) -> None:
        timer = _timer(row)
        handler = self._handlers[timer.kind]
        token = otel_context.attach(context_from_traceparent(timer.traceparent))
        try:
            with (
                bound(timer_kind=timer.kind, timer_key=timer.key, case_id=timer.case_id),
                self._tracer.start_as_current_span(
                    f"fire timer {timer.kind}",
                    kind=trace.SpanKind.INTERNAL,
                    attributes={
                        "reintegra.timer.kind": timer.kind,
                        "reintegra.timer.key": timer.key,
                        "reintegra.timer.due_at": timer.due_at.isoformat(),
                        "reintegra.timer.lateness_s": round((now - timer.due_at).total_seconds(), 3),
                        "reintegra.timer.attempt": timer.attempts + 1,
                        "reintegra.case_id": timer.case_id or "",
                    },
                ),
            ):
                try:
                    async with uow.savepoint():
                        with uow.handler_scope(), uow.trace_scope(timer.kind, follow=True):
                            await handler(timer, uow)
                except Exception as exc:
                    await self._failed(uow, row, now, exc)
        finally:
            otel_context.detach(token)

    async def _failed(self, uow: U, row: Any, now: datetime, exc: Exception) -> None:
        t = self._table
        attempts = row.attempts + 1
        final = attempts >= self._max_attempts
        log.warning("timer.handler_failed", attempt=attempts, final=final, error=repr(exc))
        await uow.session.execute(
            update(t)
            .where(t.c.id == row.id)
            .values(
                status=FAILED if final else SCHEDULED,
                attempts=attempts,
                last_error=repr(exc)[:2000],
                due_at=row.due_at if final else now + self._backoff * 2 ** (attempts - 1),
                fired_at=now if final else None,
            )
        )

    async def run(self) -> None:
        """Fire due timers until cancelled (the schedule lives in the database: it survives restarts)."""
        while True:
            try:
                while await self.fire_due() == self._batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database outage: keep trying
                log.warning("timer.runner_error", error=repr(exc))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)
