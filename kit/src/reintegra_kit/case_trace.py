"""One returnee, one trace: each case keeps the trace context it started in (docs/adr/0016-one-trace-per-case.md).

The first time a service stages events about a case, it remembers the current trace context for
that case (``case_traces``: case id → ``traceparent``). Events of the case carry that context from
service to service, so the consumers of an event are in the case's trace already. A *command* —
a case worker's HTTP request, an agency's answer over Kafka — starts in a trace of its own; when it
changes a case whose trace is known, :class:`CaseTraceScope` opens a span **in the case's trace**,
linked to the command's own span, and everything the command emits from then on continues the case's
trace.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from .clock import Clock
from .db import insert_or_ignore, select_by
from .telemetry import TRACER_NAME, context_from_traceparent, current_traceparent

_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


def tracer() -> trace.Tracer:
    """The tracer of the spans that carry commands into a case's trace (the process's provider),
    made once per provider: the SDK's ``get_tracer`` builds a new tracer and its instrumentation
    scope at every call (~1.5 % of assessment's samples under load, once per command)."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(TRACER_NAME))
    return _tracer[1]


def _trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


async def _remember(
    session: AsyncSession, table: Table, clock: Clock, case_id: str, current: str, note: dict[str, str | None]
) -> None:
    """Write the case's trace unless it has one; note what is now known of it (ours, or one exists)."""
    inserted = await insert_or_ignore(
        session, table, {"case_id": case_id, "traceparent": current, "recorded_at": clock.now()}, ["case_id"]
    )
    note[case_id] = current if inserted else note.get(case_id)


class KnownCaseTraces:
    """The cases whose trace row this process has seen committed, and its ``traceparent`` when known
    (``None``: the row exists, written by another transaction) — at most ``size``, the least recently
    used forgotten first.

    A case's row is written once (``INSERT … ON CONFLICT DO NOTHING``) and never changed or deleted,
    so what was seen committed stays true: a case already known costs no statement — the remembering
    insert of every event about it, and the read of a command — about one statement in ten of the
    event path. Entries are added only when the transaction that saw them commits (see
    :meth:`UnitOfWork.commit <reintegra_kit.uow.UnitOfWork.commit>`), never from inside a savepoint.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: OrderedDict[str, str | None] = OrderedDict()

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._known

    def traceparent(self, case_id: str) -> str | None:
        """The case's stored trace context, if this process knows it."""
        value = self._known.get(case_id)
        if value is not None:
            self._known.move_to_end(case_id)
        return value

    def learn(self, seen: dict[str, str | None]) -> None:
        """Add what a committed transaction saw (a known value is never replaced by ``None``)."""
        for case_id, traceparent in seen.items():
            if traceparent is None and self._known.get(case_id) is not None:
                continue
            self._known[case_id] = traceparent
            self._known.move_to_end(case_id)
        while len(self._known) > self._size:
            self._known.popitem(last=False)


class CaseTraceScope:
    """The trace bookkeeping of one message's handling inside a unit of work."""

    def __init__(self, name: str, *, follow: bool) -> None:
        self.name = name
        self.follow = follow
        self._seen: set[str] = set()
        self._spans: list[tuple[Any, Any]] = []

    async def case(
        self,
        session: AsyncSession,
        table: Table,
        clock: Clock,
        case_id: str,
        known: KnownCaseTraces | None = None,
        seen: dict[str, str | None] | None = None,
        later: list[dict[str, Any]] | None = None,
        new: set[str] | None = None,
    ) -> None:
        """Remember the case's trace if it has none; when following, continue the case's trace.

        ``known``: what the process saw committed (no statement for a case in it); ``seen``: where
        this transaction notes what it learns, for ``known`` once it commits; ``later``: where it
        keeps the rows of the cases it remembers, written together when it commits
        (:meth:`UnitOfWork.commit <reintegra_kit.uow.UnitOfWork.commit>`, which then notes in ``seen``
        those another transaction had written first) — without it, each is written at once;
        ``new``: the cases this transaction creates, whose trace is the current one without a read."""
        if case_id in self._seen:
            return
        self._seen.add(case_id)
        current = current_traceparent()
        nested = session.in_nested_transaction()
        note = seen if seen is not None and not nested else {}
        if not self.follow or (new is not None and case_id in new):  # a new case has no trace yet
            if current is not None and case_id not in note and (known is None or case_id not in known):
                if later is not None and not nested:
                    later.append({"case_id": case_id, "traceparent": current, "recorded_at": clock.now()})
                    note[case_id] = current
                else:
                    await _remember(session, table, clock, case_id, current, note)
            return
        stored = known.traceparent(case_id) if known is not None else None
        if stored is None:
            stored = note.get(case_id)  # this transaction's, remembered or read
        if stored is None:
            stored = (
                await session.execute(
                    select_by(table, "case_id", columns=("traceparent",)), {"case_id": case_id}
                )
            ).scalar_one_or_none()
            if stored is not None:
                note[case_id] = stored
        if stored is None:
            if current is not None:
                await _remember(session, table, clock, case_id, current, note)
            return
        if _trace_id(stored) == _trace_id(current):
            return
        request = trace.get_current_span().get_span_context()
        span = tracer().start_span(
            f"{self.name} (case)",
            context=context_from_traceparent(stored),
            kind=trace.SpanKind.INTERNAL,
            links=[trace.Link(request)] if request.is_valid else [],
            attributes={"reintegra.case_id": case_id, "reintegra.command": self.name},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        self._spans.append((span, token))

    def close(self) -> None:
        for span, token in reversed(self._spans):
            otel_context.detach(token)
            span.end()
        self._spans.clear()
