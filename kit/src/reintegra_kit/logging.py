"""structlog JSON logs carrying service, trace and message identifiers — never personal data."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
import structlog.tracebacks
from opentelemetry import trace

# Structured tracebacks WITHOUT local variables: a frame's locals may hold personal data (a request
# body, a returnee's name) that must never reach the logs.
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


_BOUND: ContextVar[dict[str, Any] | None] = ContextVar("reintegra_log_bound", default=None)
"""What :func:`bound` added: one context variable holding a dict (structlog's bound_contextvars sets
one variable per key and reads them all back, a cost paid twice per consumed event)."""


def _merge_bound(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in (_BOUND.get() or {}).items():
        event_dict.setdefault(key, value)
    return event_dict


def _add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr: one object per log call, with ``service``, ``trace_id`` and ``span_id``."""
    numeric = logging.getLevelNamesMapping()[level]
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _merge_bound,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    structlog.configure(
        processors=[
            *shared,
            _TRACEBACKS,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard library; render them as JSON too.
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _TRACEBACKS,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.INFO))
    for noisy in ("aiokafka", "uvicorn.access", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stderr_logger(*_: Any) -> structlog.WriteLogger:
    # Looked up at each use, so a replaced sys.stderr (tests, daemons) is honoured.
    return structlog.WriteLogger(sys.stderr)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that always writes to the current ``sys.stderr``."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``values`` (event id, case id, …) to every log line written inside the block."""
    token = _BOUND.set({**(_BOUND.get() or {}), **values})
    try:
        yield
    finally:
        _BOUND.reset(token)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger."""
    return structlog.get_logger(name)
