"""Figures of issue 10's features (reception in full), measured beside the hot path.

:func:`manifest_import` posts a flight manifest (``POST /v1/manifests``, JSON, 135 people by default:
families, twelve unaccompanied children, adults — ``reintegra_stack.scenario``), records each person's
consent as staff do right after registration (for a child, the guardian's or the child-protection
authority's, with the child's view), lets the driver complete each assessment as soon as it is
scheduled, and measures the manifest's arrivals/s and the seconds from sending the manifest until
every person's first ``referral_requested`` was seen on Kafka (target: within 3 s).

Identity matching (one arrival against 10k vs 1M known returnees) needs a million made-up returnees
loaded into PostgreSQL first, which takes longer than the whole benchmark: it is its own command,
``bench/identity_matching.py`` (docs/performance.md has its figures); :func:`identity_matching` says so
in the table when reception has the feature.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .keepalive import Pool

if TYPE_CHECKING:
    from .driver import Driver

MANIFEST_TARGET_S = 3.0


@dataclass(frozen=True)
class Pending:
    """A figure not measured (here), and why."""

    reason: str


async def _paths(reception: Pool) -> set[str]:
    status, body = await reception.request("GET", "/openapi.json")
    return set(json.loads(body).get("paths", {})) if status == 200 else set()


async def manifest_import(
    reception: Pool, driver: Driver, size: int = 135, timeout_s: float = 120.0
) -> Pending | dict[str, float]:
    """Arrivals/s of a ``size``-person manifest and seconds until all its first referrals."""
    if "/v1/manifests" not in await _paths(reception):
        return Pending("POST /v1/manifests is not in reception's API")
    from reintegra_stack.scenario import consent_body, generate_flight, manifest_defaults, manifest_row

    from .driver import CONSENT_SCOPES

    flight = generate_flight(size, seed=size, now=datetime.now(UTC), unaccompanied=min(12, size // 10))
    defaults = manifest_defaults(flight)
    body = {
        "manifest_id": f"{driver.run}-{defaults.pop('manifest_id')}",
        "defaults": defaults,
        "people": [manifest_row(r, announced=False) for r in flight.returnees],
    }
    started = time.time()
    status, data = await reception.request("POST", "/v1/manifests", body)
    answered = time.time()
    if status != 201:
        return Pending(f"POST /v1/manifests answered {status}: {data[:200]!r}")
    cases = [(int(c["line"]), str(c["case_id"])) for c in json.loads(data)["cases"] if c["created"]]
    observer = driver.observer
    for _, case_id in cases:
        observer.case(case_id).posted_at = started

    async def consent(line: int, case_id: str) -> bool:
        # Who consents follows the person (a child: guardian or authority); for any need, as the flow's.
        given = consent_body(flight.returnees[line - 1])
        return await driver.consent(case_id, {**given, "scopes": CONSENT_SCOPES})

    consented = await asyncio.gather(*(consent(line, c) for line, c in cases))
    deadline = time.monotonic() + timeout_s
    ids = [c for _, c in cases]
    while time.monotonic() < deadline:
        if all(observer.case(c).first_referral_at for c in ids):
            break
        observer.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(observer.changed.wait(), timeout=1.0)
    firsts = [observer.case(c).first_referral_at for c in ids]
    reached = [t for t in firsts if t]
    result: dict[str, Any] = {
        "people": float(len(cases)),
        "registered in s": answered - started,
        "arrivals/s": len(cases) / (answered - started) if answered > started else 0.0,
        "consents refused": float(len(cases) - sum(consented)),
        "with first referral": float(len(reached)),
        "all first referrals in s": (max(reached) - started) if len(reached) == len(ids) and ids else None,
    }
    return {k: v for k, v in result.items() if v is not None}


async def identity_matching(reception: Pool) -> Pending | dict[str, float]:
    """Identity matching at 10k vs 1M known returnees: its own command (see the module's docstring)."""
    if not any("review" in p for p in await _paths(reception)):
        return Pending("identity resolution is not in reception's API")
    own = "own command: bench/identity_matching.py (PostgreSQL, 1M returnees to load)"
    last = _last_identity_run()
    return Pending(f"{own}; its last run: {last}" if last else own)


def _last_identity_run() -> str | None:
    """What ``bench/identity_matching.py`` measured last on this machine, and on which commit."""
    from .identity_matching import LAST_RUN

    try:
        run = json.loads(LAST_RUN.read_text())
        sizes, match = run["sizes"], run["match_p50_ms"]
        return (
            f"{run['date']}, commit {run['commit']}: match p50 {match[0]:.2f} ms at {sizes[0]:,}, "
            f"{match[-1]:.2f} ms at {sizes[-1]:,} ({run['match_ratio']:.2f} x; whole registration "
            f"{run['register_ratio']:.2f} x)"
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
