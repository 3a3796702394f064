"""Figures that wait for features of other issues (issue 10, reception in full).

HOOK(manifest import): when ``POST /v1/manifests`` lands on main, :func:`manifest_import` posts a
135-person manifest and measures arrivals/s and the time until all its first referrals are requested
(target: within 3 s). HOOK(identity matching): when identity resolution lands, :func:`identity_matching`
measures the cost of matching one arrival against 10k and 1M known returnees (target: 1M ≤ 2 x 10k).
Until then each says so in the table, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .http import Pool


@dataclass(frozen=True)
class Pending:
    """A figure not measured yet, and why."""

    reason: str


async def _paths(reception: Pool) -> set[str]:
    status, body = await reception.request("GET", "/openapi.json")
    return set(json.loads(body).get("paths", {})) if status == 200 else set()


async def manifest_import(reception: Pool) -> Pending | dict[str, float]:
    """HOOK(manifest import): arrivals/s of a 135-person manifest and seconds to its first referrals."""
    if "/v1/manifests" not in await _paths(reception):
        return Pending("POST /v1/manifests is not on main yet (issue 10)")
    return Pending("POST /v1/manifests exists: write the hook in bench/hooks.py (manifest_import)")


async def identity_matching(reception: Pool) -> Pending | dict[str, float]:
    """HOOK(identity matching): ms to match one arrival against 10k and 1M known returnees."""
    if not any("review" in p for p in await _paths(reception)):
        return Pending("identity resolution is not on main yet (issue 10)")
    return Pending("identity resolution exists: write the hook in bench/hooks.py (identity_matching)")
