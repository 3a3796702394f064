"""Consent enforced where sharing happens, across the services as real processes (real Kafka and
PostgreSQL): without consent a referral waits, visible and counted; a consent recorded at reception
(its HTTP API, with a staff token) shares it with an expiring contact reference; a withdrawal recorded
there cancels everywhere within seconds — the agency is told on its
partner topic, its HTTP feed and its webhook, the referral's contact reference goes with it, and
follow-up stops contacting the person."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from reintegra_contracts import decode
from reintegra_contracts.events.followup import FollowupCancelled
from reintegra_contracts.events.partner import PartnerReferralCancelled, PartnerReferralRequested
from reintegra_contracts.events.referral import ReferralCancelled, ReferralRequested
from reintegra_contracts.topics import FOLLOWUP_EVENTS, REFERRAL_EVENTS, partner_topic
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader

from .support import ServiceProcess, arrival_payload, consent_at_reception, withdrawal_at_reception
from .test_referral_loop import SECRET, example

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]
AGENCIES = ("hn-senaeh", "hn-sesal")  # employment and health for a person going to HN-0501
WITHIN_S = 15.0


def events(records: list[Any], case_id: str, cls: type) -> list[Any]:
    found = []
    for r in records:
        if r.key == case_id.encode():
            event = decode(r.headers, r.value).event
            if isinstance(event, cls):
                found.append(event)
    return found


def gauge(text: str, name: str, agency: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and s.labels.get("agency") == agency
    )


async def test_shared_only_under_consent_and_a_withdrawal_cancels_everywhere_within_seconds(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception, assessment, referral, followup = await asyncio.gather(
        launch("reception"),
        launch("assessment"),
        launch("referral", REINTEGRA_WEBHOOK_INTERVAL_S="0.2", REINTEGRA_CONTACT_REFERENCE_TTL="P7D"),
        launch("followup"),
    )
    receiver = example("agency_http").WebhookReceiver(SECRET).start()
    watched = [topic(t) for t in (REFERRAL_EVENTS, FOLLOWUP_EVENTS, *map(partner_topic, AGENCIES))]
    try:
        async with (
            TopicReader(kafka_bootstrap, *watched) as reader,
            httpx.AsyncClient(headers=auth.staff(), timeout=10) as http,
        ):
            hook = await http.put(
                f"{referral.url}/v1/directory/agencies/hn-senaeh/webhook",
                json={"url": receiver.url, "secret": SECRET},
            )
            assert hook.status_code == 204, hook.text
            registered = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
            assert registered.status_code == 201, registered.text
            case_id = registered.json()["case_id"]
            found: list[Any] = []
            for _ in range(300):
                found = (
                    await http.get(f"{assessment.url}/v1/assessments", params={"case_id": case_id})
                ).json()
                if found:
                    break
                await asyncio.sleep(0.2)
            [scheduled] = found
            completion = await http.post(
                f"{assessment.url}/v1/assessments/{scheduled['assessment_id']}/completion",
                json={
                    "needs": [
                        {"category": "employment", "priority": "high"},
                        {"category": "health", "priority": "medium"},
                    ]
                },
            )
            assert completion.status_code == 200, completion.text

            # no consent yet: both referrals wait, visible and counted, and no agency heard of them
            waiting: dict[str, Any] = {}
            for _ in range(300):
                waiting = (await http.get(f"{referral.url}/v1/awaiting-consent")).json()
                if waiting["count"] == 2:
                    break
                await asyncio.sleep(0.2)
            assert sorted(r["agency_id"] for r in waiting["items"]) == list(AGENCIES)
            assert {r["case_id"] for r in waiting["items"]} == {case_id}
            for _ in range(60):  # the gauges are refreshed every few seconds
                metrics = (await http.get(f"{referral.url}/metrics")).text
                if gauge(metrics, "reintegra_referrals_awaiting_consent", "hn-sesal") == 1:
                    break
                await asyncio.sleep(0.5)
            assert gauge(metrics, "reintegra_referrals_awaiting_consent", "hn-senaeh") == 1
            assert not [r for r in reader.records if r.topic in watched[2:]]

            # the person consents at reception (its API, a case worker's token): both go, each with its
            # own expiring contact reference
            given = await consent_at_reception(http, reception.url, case_id, auth.staff())
            await reader.wait_for(
                lambda rs: (
                    len(events(rs, case_id, PartnerReferralRequested)) == 2
                    and len(events(rs, case_id, ReferralRequested)) == 2
                ),
                what="both referrals shared",
                timeout_s=60,
            )
            views = {v.agency_id: v for v in events(reader.records, case_id, PartnerReferralRequested)}
            internal = {e.agency_id: e for e in events(reader.records, case_id, ReferralRequested)}
            for agency in AGENCIES:
                view, requested = views[agency], internal[agency]
                assert view.contact_reference == requested.contact_reference
                assert view.contact_reference_available is True
                assert requested.consent_id == UUID(given["consent_id"])
                assert view.contact_reference_expires_at is not None
                assert view.contact_reference_expires_at - view.requested_at == timedelta(days=7)
            assert views["hn-senaeh"].contact_reference != views["hn-sesal"].contact_reference
            _, pushed = await asyncio.to_thread(receiver.received.get, True, 30)
            assert isinstance(pushed, PartnerReferralRequested)
            for _ in range(300):  # follow-up scheduled the post-arrival contact and two referral checks
                scheduled_contacts = (
                    await http.get(f"{followup.url}/v1/followups", params={"case_id": case_id})
                ).json()
                if len(scheduled_contacts) == 3:
                    break
                await asyncio.sleep(0.2)
            assert {f["status"] for f in scheduled_contacts} == {"scheduled"}

            # the person withdraws consent at reception: cancelled everywhere, within seconds
            started = time.monotonic()
            now = await withdrawal_at_reception(
                http, reception.url, case_id, auth.staff(), given["consent_id"]
            )
            assert [(r["consent_id"], r["status"]) for r in now["records"]] == [
                (given["consent_id"], "withdrawn")
            ]
            assert now["allows"] == []
            await reader.wait_for(
                lambda rs: (
                    len(events(rs, case_id, PartnerReferralCancelled)) == 2
                    and len(events(rs, case_id, ReferralCancelled)) == 2
                    and len(events(rs, case_id, FollowupCancelled)) == 3
                ),
                what="cancellations on the partner topics, the referral topic and follow-up's",
                timeout_s=WITHIN_S,
            )
            _, cancelled_by_webhook = await asyncio.to_thread(receiver.received.get, True, WITHIN_S)
            feed = (
                await http.get(f"{referral.url}/v1/partner/messages", headers=auth.agency("hn-sesal"))
            ).json()
            elapsed = time.monotonic() - started

            assert isinstance(cancelled_by_webhook, PartnerReferralCancelled)
            assert cancelled_by_webhook.referral_id == views["hn-senaeh"].referral_id
            assert [m["type"] for m in feed["items"]] == [
                "org.reintegra.partner.referral_requested.v1",
                "org.reintegra.partner.referral_cancelled.v1",
            ]
            assert feed["items"][1]["data"]["reason"] == "consent_withdrawn"
            told = {
                e.agency_id: e.reason.value for e in events(reader.records, case_id, PartnerReferralCancelled)
            }
            assert told == dict.fromkeys(AGENCIES, "consent_withdrawn")
            # the contact references die with their referrals (reception refuses a lookup of a
            # referral that is not active: referral_cancelled carries the referral id it was bound to)
            revoked = {e.referral_id for e in events(reader.records, case_id, ReferralCancelled)}
            assert revoked == {v.referral_id for v in views.values()}
            stopped = (await http.get(f"{followup.url}/v1/followups", params={"case_id": case_id})).json()
            assert {(f["status"], f["cancellation_reason"]) for f in stopped} == {
                ("cancelled", "consent_withdrawn")
            }
            assert all(
                e.cancellation_reason.value == "consent_withdrawn"
                for e in events(reader.records, case_id, FollowupCancelled)
            )
            detail = (await http.get(f"{referral.url}/v1/referrals/{views['hn-sesal'].referral_id}")).json()
            assert (detail["status"], detail["cancel_reason"]) == ("cancelled", "consent_withdrawn")
            assert elapsed < WITHIN_S, f"the withdrawal took {elapsed:.1f} s to reach everywhere"
    finally:
        receiver.stop()
