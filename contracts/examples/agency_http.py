"""An agency system that answers Reintegra referrals over HTTP (no Kafka), using ``reintegra-contracts`` + httpx.

It receives its partner messages by **webhook** — a small HTTP server that accepts a CloudEvent
(structured mode) only when its ``X-Reintegra-Signature`` is a valid HMAC-SHA256 under the secret the
agency shares with Reintegra — or, without a webhook, by polling its inbox with a since-cursor. It
answers each referral with the partner API's commands, each ``POST`` carrying an ``Idempotency-Key``
so a retry never counts twice: a receipt, then an acceptance (or a rejection when it does not offer
the category).

Try it against a local referral service (see docs/agency-integration.md)::

    pip install ./contracts httpx
    export REINTEGRA_AGENCY_TOKEN="$(bash scripts/uv.sh run reintegra-stack token --role agency_partner \
        --agency hn-umar-sps --country HN)"   # in production: your OpenID Connect provider's access token
    python contracts/examples/agency_http.py --referral http://127.0.0.1:8103 --agency hn-umar-sps \
        --categories psychosocial_support --listen 127.0.0.1:9400 --secret 'a-long-shared-secret'

Every call carries the agency's bearer token (``Authorization: Bearer …``): its ``reintegra_agency``
claim is what the partner API knows the agency by; an agency sees and answers only its own referrals.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from reintegra_contracts import Event, event_class
from reintegra_contracts.codelists import RejectionReason, ServiceCategory
from reintegra_contracts.events.partner import (
    PartnerCommandRefused,
    PartnerReferralCancelled,
    PartnerReferralRequested,
)

log = logging.getLogger("agency_http")

SIGNATURE_HEADER = "X-Reintegra-Signature"
TOLERANCE_S = 300


def signature_is_valid(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, made within five minutes."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_S:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def event_of(cloudevent: dict[str, Any]) -> Event | None:
    """The typed message of a CloudEvent in structured mode (None for a type this version does not know)."""
    model = event_class(str(cloudevent.get("type")))
    return model.model_validate(cloudevent["data"]) if model is not None else None


@dataclass
class WebhookReceiver:
    """Receives signed webhooks on ``host:port``; valid ones are put on :attr:`received` (id, event)."""

    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    received: queue.Queue[tuple[str, Event]] = field(default_factory=queue.Queue)
    rejected: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not signature_is_valid(receiver.secret, self.headers.get(SIGNATURE_HEADER, ""), body):
                    receiver.rejected += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                cloudevent = json.loads(body)
                message = event_of(cloudevent)
                if message is not None:
                    receiver.received.put((str(cloudevent["id"]), message))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/reintegra"


@dataclass
class HttpAgency:
    """An agency answering over the partner API."""

    referral_url: str
    agency_id: str
    categories: frozenset[ServiceCategory]
    token: str
    """The agency's access token (its identity provider issues it; the ``reintegra_agency`` claim names it)."""
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _post(self, referral_id: Any, what: str, body: dict[str, Any], key: str) -> httpx.Response:
        response = self.client.post(
            f"{self.referral_url}/v1/partner/referrals/{referral_id}/{what}",
            json=body,
            headers={**self._auth, "Idempotency-Key": key},
        )
        if response.status_code >= 400:  # a refusal names the reason (problem details)
            log.warning("%s of %s refused: %s", what, referral_id, response.json().get("detail"))
        return response

    def handle(self, message_id: str, message: Event) -> list[httpx.Response]:
        """Answer one partner message; the message id makes every answer's Idempotency-Key."""
        if isinstance(message, PartnerReferralRequested):
            answers = [self._post(message.referral_id, "receipt", {}, f"{message_id}-receipt")]
            if message.category in self.categories:
                answers.append(self._post(message.referral_id, "acceptance", {}, f"{message_id}-accept"))
            else:
                reason = RejectionReason.SERVICE_NOT_OFFERED.value
                answers.append(
                    self._post(message.referral_id, "rejection", {"reason": reason}, f"{message_id}-reject")
                )
            return answers
        if isinstance(message, PartnerReferralCancelled):
            log.info(
                "referral %s cancelled (%s): stop working on it", message.referral_id, message.reason.value
            )
        elif isinstance(message, PartnerCommandRefused):
            log.warning("our %s was refused: %s", message.command_type, message.detail)
        return []

    def poll(self, since: int = 0) -> Iterator[tuple[int, str, Event]]:
        """Without a webhook: every message after ``since`` from the agency's feed (cursor, id, message)."""
        response = self.client.get(
            f"{self.referral_url}/v1/partner/messages",
            params={"since": since},
            headers=self._auth,
        )
        response.raise_for_status()
        for item in response.json()["items"]:
            message = event_of(item)
            if message is not None:
                yield int(item["cursor"]), str(item["id"]), message


def main() -> None:  # pragma: no cover - entry point
    parser = argparse.ArgumentParser(description="Example Reintegra agency answering over HTTP.")
    parser.add_argument("--referral", default="http://127.0.0.1:8103", help="the referral service's URL")
    parser.add_argument("--agency", required=True, help="agency code, e.g. hn-umar-sps")
    parser.add_argument(
        "--categories", default="psychosocial_support", help="comma-separated service categories"
    )
    parser.add_argument("--listen", default="", help="host:port for webhooks (empty: poll the inbox instead)")
    parser.add_argument("--secret", default="", help="the webhook secret shared with Reintegra")
    parser.add_argument(
        "--token",
        default=os.environ.get("REINTEGRA_AGENCY_TOKEN", ""),
        help="the agency's bearer token (default: $REINTEGRA_AGENCY_TOKEN)",
    )
    args = parser.parse_args()
    if not args.token:
        parser.error("an access token is required: --token or REINTEGRA_AGENCY_TOKEN")
    logging.basicConfig(level=logging.INFO)
    agency = HttpAgency(
        args.referral,
        args.agency,
        frozenset(ServiceCategory(c) for c in args.categories.split(",") if c),
        args.token,
    )
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        receiver = WebhookReceiver(args.secret, host, int(port)).start()
        log.info(
            "webhooks at %s (register: PUT /v1/directory/agencies/%s/webhook)", receiver.url, args.agency
        )
        while True:
            agency.handle(*receiver.received.get())
    cursor = 0
    while True:
        for seen, message_id, message in agency.poll(cursor):
            agency.handle(message_id, message)
            cursor = seen
        time.sleep(2)


if __name__ == "__main__":  # pragma: no cover
    main()
