"""A list route's half of the record scope: the caller's :class:`RecordFilter` as a SQL condition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from .authorizer import RecordFilter


def visible(
    reach: RecordFilter | None,
    *,
    centre: Any = None,
    country: Any = None,
    agency: Any = None,
) -> ColumnElement[bool]:
    """``WHERE`` the record belongs to one of the caller's centres, countries or agencies (the columns
    that say so; a column not given matches nothing), or everything for an unrestricted caller.

    ``None`` (no access decision: a caller inside the service, never an HTTP request) sees everything.
    """
    if reach is None or reach.unrestricted:
        return true()
    clauses: list[ColumnElement[bool]] = []
    for column, values in ((centre, reach.centres), (country, reach.countries), (agency, reach.agencies)):
        if column is not None and values:
            clauses.append(column.in_(sorted(values)))
    return or_(false(), *clauses)
