"""Reception's record-scope function for the access policy (``reintegra_kit.auth``): whose record a
request touches — the centre and country of the case (or review, or announcement) its path names.

The kit's :class:`~reintegra_kit.auth.Authorizer` calls it for callers whose grant is limited to their
own centre, agency or country; ``None`` means "a list, or a record that does not exist" (the route
answers 404 itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import Request
from reintegra_kit.auth import RecordScope, RecordScopeFunction

from .repository import ReceptionUnitOfWork


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


CREATES = {
    ("POST", "/v1/arrivals"),
    ("POST", "/v1/announcements"),
}
"""Routes whose record is the one the body creates (its centre and country of return)."""


async def _created(request: Request) -> RecordScope | None:
    """The centre and country of the record a create's JSON body would make (``None`` when the body is
    not an object: the route refuses it with 400/422 itself)."""
    try:
        body: Any = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    centre, country = body.get("reception_centre"), body.get("country_of_return")
    return RecordScope(
        centre=centre if isinstance(centre, str) else None,
        country=country if isinstance(country, str) else None,
    )


def _manifest(request: Request) -> RecordScope | None:
    """A manifest's centre and country as its query states them. A manifest whose lines name their own
    centre is not scoped line by line here (a known gap, issue 12: a reception officer's manifest
    should only hold lines of that officer's centre)."""
    query = request.query_params
    if not (query.get("reception_centre") or query.get("country_of_return")):
        return None
    return RecordScope(centre=query.get("reception_centre"), country=query.get("country_of_return"))


def record_scope_of(uow: Callable[[], ReceptionUnitOfWork]) -> RecordScopeFunction:
    """The record-scope function over reception's database."""

    async def record_scope(request: Request) -> RecordScope | None:
        params = request.path_params
        route = getattr(request.scope.get("route"), "path", None)
        if (request.method, route) in CREATES:
            return await _created(request)
        if (request.method, route) == ("POST", "/v1/manifests"):
            return _manifest(request)
        async with uow().reading() as u:  # no transaction: one round trip per read
            if "case_id" in params:
                case_id = _uuid(params["case_id"])
                return await u.cases.scope(case_id) if case_id else None
            if "review_id" in params:
                review_id = _uuid(params["review_id"])
                review = await u.reviews.get(review_id) if review_id else None
                return await u.cases.scope(review.case_id) if review else None
            if "announcement_id" in params:
                announcement_id = _uuid(params["announcement_id"])
                found = await u.announcements.get(announcement_id) if announcement_id else None
                if found is None:
                    return None
                return RecordScope(centre=found.reception_centre, country=found.country_of_return)
        return None

    return record_scope
