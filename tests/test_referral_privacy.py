"""The partner views carry no personal data: a scanner seeded with one person's real-looking personal
data (given to reception) reads every partner topic and every agency's HTTP feed after the person's
needs were referred through reception, assessment and referral as real processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from reintegra_contracts import decode
from reintegra_contracts.privacy import identifying_fields
from reintegra_contracts.topics import partner_topic
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header

from .support import PERSONAL_VALUES, ServiceProcess, arrival_payload, record_consent

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]
SEEDED = (*PERSONAL_VALUES, "Marta Lidia", "Zelaya Pineda", "+504 9999")
"""The person's names, birth date, document number and phone, whole and in pieces (not the birth year
alone: four digits occur by chance in ids and in the microseconds of a timestamp)."""


async def test_no_partner_view_on_kafka_or_http_carries_personal_data(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    reception, assessment, referral = await asyncio.gather(
        launch("reception"), launch("assessment"), launch("referral")
    )
    async with httpx.AsyncClient(headers=auth.staff(), timeout=10) as http:
        agencies = [a["agency_id"] for a in (await http.get(f"{referral.url}/v1/directory/agencies")).json()]
        async with TopicReader(kafka_bootstrap, *[topic(partner_topic(a)) for a in agencies]) as reader:
            body = arrival_payload(vulnerabilities=["chronic_illness"])
            response = await http.post(f"{reception.url}/v1/arrivals", json=body)
            assert response.status_code == 201, response.text
            case_id = response.json()["case_id"]
            await record_consent(kafka_bootstrap, topic, case_id)
            found: list[Any] = []
            for _ in range(150):
                found = (
                    await http.get(f"{assessment.url}/v1/assessments", params={"case_id": case_id})
                ).json()
                if found:
                    break
                await asyncio.sleep(0.2)
            [a] = found
            completion = await http.post(
                f"{assessment.url}/v1/assessments/{a['assessment_id']}/completion",
                json={
                    "needs": [
                        {"category": "employment", "priority": "high"},
                        {"category": "psychosocial_support", "priority": "medium"},
                        {"category": "health", "priority": "medium"},
                    ],
                    "scores": {"economic": 0.2, "social": 0.5, "psychosocial": 0.7, "composite": 0.45},
                },
            )
            assert completion.status_code == 200, completion.text
            records = await reader.wait_for(
                lambda rs: sum(1 for r in rs if r.key == case_id.encode()) >= 3,
                what="three partner views",
                timeout_s=60,
            )
            feeds: list[str] = []
            for agency in {decode(r.headers, r.value).event.model_dump()["agency_id"] for r in records}:
                headers = auth.agency(agency)
                feeds.append((await http.get(f"{referral.url}/v1/partner/messages", headers=headers)).text)
                feeds.append((await http.get(f"{referral.url}/v1/partner/referrals", headers=headers)).text)

    views = [r for r in records if r.key == case_id.encode()]
    assert len(views) == 3
    for r in views:
        event = decode(r.headers, r.value).event
        assert identifying_fields(type(event)) == []
        data = json.loads(r.value)
        assert "age" not in data  # an age band, never the age
        assert data["age_group"] == "30_59"
        texts = [r.value.decode(), *(f"{k}={v!r}" for k, v in r.headers)]
        for value in SEEDED:
            assert all(value not in t for t in texts), f"{value!r} on {r.topic} ({header(r, 'ce_type')})"
    for text in feeds:
        assert case_id in text
        for value in SEEDED:
            assert value not in text
    for value in SEEDED:
        assert value not in referral.log_path.read_text()
