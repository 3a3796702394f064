"""Outgoing webhooks: every partner message pushed to the agency's URL, signed, retried with back-off.

Each partner view (referral requested, cancelled, overdue, command refused) is a row of the agency's
HTTP feed (``partner_messages``); for an agency with a webhook, the same transaction queues a delivery
(``webhook_deliveries``). The :class:`WebhookSender` of each replica pushes, per agency, the oldest
pending delivery only — so an agency receives its messages in order even after being down for a
while — and records every attempt (``webhook_attempts``: time, HTTP status or error, duration).

A request is a CloudEvent in HTTP *structured* mode (``application/cloudevents+json``, the same ``id``
as on Kafka) with ``X-Reintegra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
under the agency's secret. A 2xx answer delivers it; anything else (or no answer within the timeout)
is tried again after ``REINTEGRA_WEBHOOK_RETRY_S``, doubling up to ``REINTEGRA_WEBHOOK_RETRY_MAX_S``,
without giving up: the reconciliation status shows the last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from reintegra_kit.clock import Clock
from reintegra_kit.logging import get_logger

from .repository import ReferralUnitOfWork, WebhookDelivery
from .settings import ReferralSettings

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Reintegra-Signature"
DELIVERY_HEADER = "X-Reintegra-Delivery"
CONTENT_TYPE = "application/cloudevents+json"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` under ``secret``, made within the tolerance."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


class WebhookSender:
    """Pushes due webhook deliveries (one per agency at a time) and records each attempt."""

    def __init__(
        self,
        uow: Callable[[], ReferralUnitOfWork],
        clock: Clock,
        settings: ReferralSettings,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._settings = settings
        self._client = client
        self._owns_client = client is None  # made on first use, kept (its connections and TLS context)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def send_due(self) -> int:
        """Attempt every due delivery once; return how many were attempted."""
        now = self._clock.now()
        lease = now + timedelta(seconds=self._settings.webhook_timeout_s * 3)
        async with self._uow() as uow:
            due = await uow.partner.due_webhooks(now, 50)
            claimed = [d for d in due if await uow.partner.claim_webhook(d, lease)]
            await uow.commit()
        if not claimed:
            return 0
        if self._client is None:
            # one client for the sender's life: a client per round built a TLS context each time
            # (most of referral's CPU under load) and dropped the agencies' kept-alive connections
            self._client = httpx.AsyncClient(timeout=self._settings.webhook_timeout_s)
        client = self._client
        await asyncio.gather(*(self._attempt(client, d) for d in claimed))
        return len(claimed)

    async def close(self) -> None:
        """Close the HTTP client the sender made (not one it was given)."""
        client, self._client = self._client, (None if self._owns_client else self._client)
        if self._owns_client and client is not None:
            await client.aclose()

    async def _attempt(self, client: httpx.AsyncClient, d: WebhookDelivery) -> None:
        body = d.payload.encode()
        headers = {
            "Content-Type": CONTENT_TYPE,
            SIGNATURE_HEADER: sign(d.secret, int(time.time()), body),
            DELIVERY_HEADER: str(d.id),
            "ce-id": d.event_id,
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                d.url, content=body, headers=headers, timeout=self._settings.webhook_timeout_s
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.perf_counter() - started) * 1000)
        delivered = error is None
        delay = min(self._settings.webhook_retry_s * 2**d.attempts, self._settings.webhook_retry_max_s)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.partner.webhook_attempted(
                d,
                status_code=status,
                error=error,
                duration_ms=duration_ms,
                delivered=delivered,
                next_attempt_at=now if delivered else now + timedelta(seconds=delay),
            )
            await uow.commit()
        log.info(
            "webhook.attempt",
            agency_id=d.agency_id,
            delivery=d.id,
            attempt=d.attempts + 1,
            status_code=status,
            error=error,
            delivered=delivered,
            duration_ms=duration_ms,
        )

    async def run(self) -> None:
        """Push due webhooks until cancelled."""
        try:
            while True:
                try:
                    while await self.send_due():
                        pass
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database outage: keep trying
                    log.warning("webhook.sender_error", error=repr(exc))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._settings.webhook_interval_s)
        finally:
            await self.close()
