"""Telling an outage (retry later, the message is fine) from a failure (the message or the code is wrong)."""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    PoolTimeoutError,  # every pooled connection busy past the pool's time-out: overloaded, retry later
)


OUTAGE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")
"""PostgreSQL error codes that mean the server is away, not that the statement is wrong: connection
exceptions (08…), insufficient resources (53…), and a server shutting down, crashed or starting up
("the database system is starting up" arrives as a plain DBAPIError while a restart is under way)."""


def is_infrastructure_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database or the network failed, not the message or the request."""
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        return True
    if isinstance(exc, DBAPIError) and bool(exc.connection_invalidated):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(OUTAGE_SQLSTATES):
        return True
    if isinstance(exc, OSError) and exc.errno in NETWORK_ERRNOS:  # e.g. refused while reconnecting
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_infrastructure_error(cause)
