"""Consent and personal data across processes, on real Kafka and PostgreSQL: reception behind the access
policy (a local OpenID Connect issuer), referral's events on the log.

A person consents to be contacted by one agency; referral issues a contact reference with the referral
it sends there (on ``reintegra.referral.events.v1``); that agency resolves it at reception into the
person's name and phone, another agency cannot, and the reference stops resolving when referral cancels
the referral. Consent events carry no personal data. The person is then erased with the operators'
command: ``returnee_erased`` reaches the log for each of their cases, reception cannot read them any
more, and every other person is intact.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from reintegra_contracts import decode, encode
from reintegra_contracts.codelists import CancellationReason, Dimension, Level, Priority, ServiceCategory
from reintegra_contracts.events.referral import ReferralCancelled, ReferralRequested
from reintegra_contracts.topics import RECEPTION_EVENTS
from reintegra_kit.auth.issuing import JwksServer, SigningKey, access_token_claims
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header, produce
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .support import PERSONAL_VALUES, ServiceProcess, arrival_payload

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]
AUDIENCE = "reintegra"
SPS = {"centre": "HN-CAMR-SPS", "country": "HN"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[JwksServer, SigningKey]]:
    key = SigningKey.generate("ES256")
    server = JwksServer([key]).start()
    yield server, key
    server.stop()


def bearer(issuer: tuple[JwksServer, SigningKey], role: str, **claims: str) -> dict[str, str]:
    server, key = issuer
    token = key.sign(
        access_token_claims(
            issuer=server.issuer, audience=AUDIENCE, subject=f"u-{role}", roles=[role], **claims
        )
    )
    return {"Authorization": f"Bearer {token}"}


def auth_env(issuer: tuple[JwksServer, SigningKey]) -> dict[str, str]:
    server, _ = issuer
    return {
        "REINTEGRA_AUTH_ISSUER": server.issuer,
        "REINTEGRA_AUTH_AUDIENCE": AUDIENCE,
        "REINTEGRA_AUTH_JWKS_URL": server.jwks_url,
    }


def referral_requested(case_id: UUID, reference: str) -> ReferralRequested:
    now = datetime.now(UTC)
    return ReferralRequested(
        case_id=case_id,
        referral_id=uuid4(),
        assessment_id=uuid4(),
        need_id=uuid4(),
        category=ServiceCategory.HEALTH,
        dimension=Dimension.SOCIAL,
        level=Level.INDIVIDUAL,
        priority=Priority.HIGH,
        service_id="hn-sesal-primary-care",
        agency_id="hn-sesal",
        requested_at=now,
        respond_by=now + timedelta(days=2),
        contact_reference=reference,
        contact_reference_expires_at=now + timedelta(days=3),
    )


async def publish(bootstrap: str, topic_of: Callable[[str], str], event: Any) -> None:
    record = encode(event, source="/reintegra/referral")
    await produce(bootstrap, topic_of(record.topic), record.value, key=record.key, headers=record.headers)


async def until(
    check: Callable[[], Awaitable[httpx.Response]], status: int, timeout_s: float = 60
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await check()
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.3)


async def test_a_contact_reference_resolves_for_its_agency_only_until_the_referral_is_cancelled_and_erasure_shreds_the_person(
    launch: Launch,
    issuer: tuple[JwksServer, SigningKey],
    kafka_bootstrap: str,
    topic: Callable[[str], str],
) -> None:
    reception = await launch("reception", **auth_env(issuer))
    worker = bearer(issuer, "case_worker", **SPS)
    sesal = bearer(issuer, "agency_partner", agency="hn-sesal", country="HN")
    async with httpx.AsyncClient(base_url=reception.url, timeout=30) as api:
        marta = await api.post(
            "/v1/arrivals", json=arrival_payload(), headers=bearer(issuer, "reception_officer", **SPS)
        )
        assert marta.status_code == 201, marta.text
        case_id = UUID(marta.json()["case_id"])
        other = arrival_payload(
            person={
                "given_names": "Wilmer",
                "family_names": "Amaya Osorio",
                "date_of_birth": "1987-01-09",
                "phone": "+504 8888-1212",
            }
        )
        wilmer = UUID(
            (
                await api.post("/v1/arrivals", json=other, headers=bearer(issuer, "reception_officer", **SPS))
            ).json()["case_id"]
        )
        consent = {
            "given_by": "self",
            "method": "written",
            "scopes": [
                {"purpose": "referral", "service_categories": ["health"]},
                {"purpose": "contact_by_provider", "agencies": ["hn-sesal"]},
            ],
        }
        assert (await api.post(f"/v1/cases/{case_id}/consent", json=consent)).status_code == 401  # no token
        recorded = await api.post(f"/v1/cases/{case_id}/consent", json=consent, headers=worker)
        assert recorded.status_code == 201, recorded.text

        sent = referral_requested(case_id, "cr-3v9XkQpL2w")
        await publish(kafka_bootstrap, topic, sent)
        lookup = {"contact_reference": "cr-3v9XkQpL2w"}
        found = await until(lambda: api.post("/v1/contact-lookups", json=lookup, headers=sesal), 200)
        assert found.status_code == 200, found.text
        assert (found.json()["family_names"], found.json()["phone"]) == ("Zelaya Pineda", "+504 9999-0000")
        infop = await api.post(
            "/v1/contact-lookups", json=lookup, headers=bearer(issuer, "agency_partner", agency="hn-infop")
        )
        assert infop.status_code == 403
        assert "Zelaya" not in infop.text

        await publish(
            kafka_bootstrap,
            topic,
            ReferralCancelled(
                case_id=case_id,
                referral_id=sent.referral_id,
                agency_id="hn-sesal",
                cancelled_at=datetime.now(UTC),
                reason=CancellationReason.CONSENT_WITHDRAWN,
            ),
        )
        gone = await until(lambda: api.post("/v1/contact-lookups", json=lookup, headers=sesal), 410)
        assert gone.status_code == 410, gone.text
        assert "no longer active" in gone.json()["detail"]

        erased = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "reintegra_reception",
                "erase",
                str(case_id),
                "--requested-by",
                "dpo-test",
            ],
            env={**reception.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert erased.returncode == 0, erased.stderr
        read = await api.get(
            f"/v1/cases/{case_id}/personal-data", params={"purpose": "case_management"}, headers=worker
        )
        assert read.status_code == 410
        kept = await api.get(
            f"/v1/cases/{wilmer}/personal-data", params={"purpose": "case_management"}, headers=worker
        )
        assert kept.status_code == 200
        assert kept.json()["family_names"] == "Amaya Osorio"
        report = (await api.get(f"/v1/cases/{case_id}/access-report", headers=worker)).json()
        assert [a["action"] for a in report["accesses"]][:2] == ["personal_data_read", "erasure"]

    async with TopicReader(kafka_bootstrap, topic(RECEPTION_EVENTS)) as log:
        records = await log.wait_for(
            lambda rs: any(header(r, "ce_type") == "org.reintegra.reception.returnee_erased.v1" for r in rs),
            what="returnee_erased",
        )
    mine = [r for r in records if r.key == str(case_id).encode()]
    kinds = [header(r, "ce_type") for r in mine]
    assert "org.reintegra.reception.consent_recorded.v1" in kinds
    [erased_record] = [
        r for r in mine if header(r, "ce_type") == "org.reintegra.reception.returnee_erased.v1"
    ]
    erasure = decode(erased_record.headers, erased_record.value).event
    assert (erasure.case_id, str(erasure.returnee_id)) == (case_id, marta.json()["returnee_id"])
    everything = b" ".join(r.value for r in records)
    assert not [v for v in PERSONAL_VALUES if v.encode() in everything]


WILMER = {
    "given_names": "Wilmer",
    "family_names": "Amaya Osorio",
    "date_of_birth": "1987-01-09",
    "phone": "+504 8888-1212",
}


async def poll(
    get: Callable[[], Awaitable[Any]], ready: Callable[[Any], bool], what: str, timeout_s: float = 90
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await get()
        if ready(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout_s:.0f} s (last: {value!r})")
        await asyncio.sleep(0.3)


async def rows(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def test_erasure_reaches_assessment_referral_and_followup_and_everybody_else_is_intact(
    launch: Launch, auth: TestIssuer
) -> None:
    """Two people registered, consenting through reception's API, assessed, referred to an agency and
    scheduled for follow-up by the real services; one is erased. Assessment, referral and follow-up
    drop what they held of that person (their HTTP answers and databases) and the other is untouched."""
    # every service trusts the session's issuer (``auth``): every route needs a token
    reception, assessment, referral, followup = await asyncio.gather(
        launch("reception"), launch("assessment"), launch("referral"), launch("followup")
    )
    officer = auth.headers("reception_officer", **SPS)
    worker = auth.headers("case_worker", **SPS)
    consent = {
        "given_by": "self",
        "method": "written",
        "scopes": [
            {"purpose": "referral", "service_categories": ["health"]},
            {"purpose": "contact_by_provider", "agencies": ["hn-sesal"]},
            {"purpose": "followup_contact"},
        ],
    }
    cases: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=30, headers=auth.staff()) as http:
        for name, body in (("marta", arrival_payload()), ("wilmer", arrival_payload(person=WILMER))):
            registered = await http.post(f"{reception.url}/v1/arrivals", json=body, headers=officer)
            assert registered.status_code == 201, registered.text
            case_id = cases[name] = registered.json()["case_id"]
            given = await http.post(
                f"{reception.url}/v1/cases/{case_id}/consent", json=consent, headers=worker
            )
            assert given.status_code == 201, given.text
            [scheduled] = await poll(
                lambda c=case_id: _json(http.get(f"{assessment.url}/v1/assessments", params={"case_id": c})),
                bool,
                f"{name}'s assessment",
            )
            done = await http.post(
                f"{assessment.url}/v1/assessments/{scheduled['assessment_id']}/completion",
                json={"needs": [{"category": "health", "priority": "high"}]},
            )
            assert done.status_code == 200, done.text

        def referrals_of(case_id: str) -> Awaitable[Any]:
            return _json(http.get(f"{referral.url}/v1/referrals", params={"case_id": case_id}))

        def followups_of(case_id: str) -> Awaitable[Any]:
            return _json(http.get(f"{followup.url}/v1/followups", params={"case_id": case_id}))

        for name, case_id in cases.items():  # shared under the consent recorded at reception
            await poll(
                lambda c=case_id: referrals_of(c),
                lambda rs: [(r["status"], r["agency_id"]) for r in rs] == [("requested", "hn-sesal")],
                f"{name}'s referral shared",
            )
            await poll(
                lambda c=case_id: followups_of(c),
                lambda fs: sorted(f["status"] for f in fs) == ["scheduled", "scheduled"],
                f"{name}'s follow-ups",
            )
        erased = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "reintegra_reception",
                "erase",
                cases["marta"],
                "--requested-by",
                "dpo-test",
            ],
            env={**reception.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert erased.returncode == 0, erased.stderr

        [gone] = await poll(
            lambda: referrals_of(cases["marta"]), lambda rs: rs[0]["status"] == "cancelled", "referral erased"
        )
        stopped = await poll(
            lambda: followups_of(cases["marta"]),
            lambda fs: {f["status"] for f in fs} == {"cancelled"},
            "follow-ups erased",
        )
        assert {f["cancellation_reason"] for f in stopped} == {"returnee_erased"}
        detail = (await http.get(f"{referral.url}/v1/referrals/{gone['referral_id']}")).json()
        assert {h["detail"] for h in detail["history"]} <= {"", "returnee_erased"}
        assert detail["history"][-1]["detail"] == "returnee_erased"

        [kept] = await referrals_of(cases["wilmer"])
        assert kept["status"] == "requested"
        kept_detail = (await http.get(f"{referral.url}/v1/referrals/{kept['referral_id']}")).json()
        assert all(h["detail"] for h in kept_detail["history"])  # the consent basis is still there
        assert {f["status"] for f in await followups_of(cases["wilmer"])} == {"scheduled"}
        answers = " ".join(
            [
                json.dumps(await referrals_of(cases["marta"])),
                json.dumps(detail),
                json.dumps(stopped),
                json.dumps(
                    await _json(
                        http.get(f"{assessment.url}/v1/assessments", params={"case_id": cases["marta"]})
                    )
                ),
            ]
        )
        assert not [v for v in PERSONAL_VALUES if v in answers]
        assert cases["marta"] in answers  # the answers were about her

    marta, wilmer = UUID(cases["marta"]), UUID(cases["wilmer"])
    for proc in (assessment, referral, followup):
        url = proc.db_url  # type: ignore[attr-defined]
        assert [r.case_id for r in await rows(url, "SELECT case_id FROM erased_cases")] == [marta]
    ages = dict(await rows(assessment.db_url, "SELECT case_id, age FROM assessments"))  # type: ignore[attr-defined]
    assert ages[marta] is None
    assert ages[wilmer] == 39  # born 1987-01-09, arrived in 2026
    profiles = [r.case_id for r in await rows(referral.db_url, "SELECT case_id FROM case_profiles")]  # type: ignore[attr-defined]
    assert sorted(profiles) == [wilmer]
    references = dict(
        await rows(referral.db_url, "SELECT case_id, contact_reference FROM referrals")  # type: ignore[attr-defined]
    )
    assert references[marta] is None
    assert references[wilmer] is not None


async def _json(response: Awaitable[httpx.Response]) -> Any:
    answer = await response
    assert answer.status_code == 200, answer.text
    return answer.json()
