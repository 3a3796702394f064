"""Consent and personal data over HTTP, in process, behind the real access policy: tokens from a local
issuer (reintegra_kit.auth.issuing), the kit's Authorizer with reception's record-scope function, the
real handlers and database (SQLite and PostgreSQL), problem details for every refusal."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from reintegra_kit.auth import Authorizer, JwksCache, TokenVerifier, load_policy
from reintegra_kit.auth.issuing import JwksServer, SigningKey, access_token_claims
from reintegra_kit.clock import ManualClock
from reintegra_kit.runtime.http import create_app
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_reception import http_privacy
from reintegra_reception.access import record_scope_of
from reintegra_reception.bootstrap import COMMANDS, EVENTS
from reintegra_reception.crypto import ReceptionKeys
from reintegra_reception.repository import ReceptionUnitOfWork

from .test_privacy_handlers import ADULT, CHILD, NOW, arrive, harness, referral

AUDIENCE = "reintegra"
Client = httpx.AsyncClient


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture(scope="module")
def issuer(signing_key: SigningKey) -> Iterator[JwksServer]:
    server = JwksServer([signing_key]).start()
    yield server
    server.stop()


class Tokens:
    def __init__(self, key: SigningKey, issuer: JwksServer) -> None:
        self.key, self.issuer = key, issuer

    def __call__(self, *roles: str, **claims: str) -> dict[str, str]:
        signed = self.key.sign(
            access_token_claims(
                issuer=self.issuer.issuer, audience=AUDIENCE, subject=f"u-{roles[0]}", roles=roles, **claims
            )
        )
        return {"Authorization": f"Bearer {signed}"}


@pytest.fixture(scope="module")
def tokens(signing_key: SigningKey, issuer: JwksServer) -> Tokens:
    return Tokens(signing_key, issuer)


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


SPS = {"centre": "HN-CAMR-SPS", "country": "HN"}
CASE_WORKER = {"roles": ("case_worker",), **SPS}


@pytest.fixture
async def reception(
    database_url: str, issuer: JwksServer
) -> AsyncIterator[tuple[Client, HandlerHarness[ReceptionUnitOfWork]]]:
    clock = ManualClock(NOW)
    async with await harness(database_url, ReceptionKeys.generate(), clock) as service:
        bus = service.bus
        bus.register(COMMANDS)
        verifier = TokenVerifier(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            keys=JwksCache(issuer=issuer.issuer, jwks_url=issuer.jwks_url),
        )
        authorizer = Authorizer(load_policy(), verifier, "reception", record_scope_of(service.uow))
        app = create_app(
            title="reception",
            description="",
            version="1",
            routers=[http_privacy.router(bus, service.uow, clock)],
            lifespan=nothing,
            authorizer=authorizer,
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://reception"
        ) as client:
            yield client, service


CONSENT = {
    "given_by": "self",
    "method": "recorded",
    "information_language": "es",
    "scopes": [
        {"purpose": "referral", "service_categories": ["health"]},
        {"purpose": "contact_by_provider", "service_categories": ["health"], "agencies": ["hn-sesal"]},
        {"purpose": "statistics"},
    ],
}


async def test_consent_is_recorded_shown_and_withdrawn_per_purpose(
    reception: tuple[Client, HandlerHarness[ReceptionUnitOfWork]], tokens: Tokens
) -> None:
    api, service = reception
    case_id = await arrive(service)
    worker = tokens("case_worker", **SPS)
    created = await api.post(f"/v1/cases/{case_id}/consent", json=CONSENT, headers=worker)
    assert created.status_code == 201, created.text
    body = created.json()
    assert [a["purpose"] for a in body["allows"]] == ["referral", "contact_by_provider", "statistics"]
    assert body["records"][0]["method"] == "recorded"
    withdrawn = await api.post(
        f"/v1/cases/{case_id}/consent/withdrawal",
        json={"withdrawn_by": "self", "purposes": ["statistics"]},
        headers=worker,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    shown = (await api.get(f"/v1/cases/{case_id}/consent", headers=worker)).json()
    assert [a["purpose"] for a in shown["allows"]] == ["referral", "contact_by_provider"]
    assert [(h["action"], h["purposes"]) for h in shown["history"]] == [
        ("recorded", ["referral", "contact_by_provider", "statistics"]),
        ("withdrawn", ["statistics"]),
    ]
    assert shown["records"][0]["status"] == "partly_withdrawn"
    other_centre = tokens("case_worker", centre="HN-CAMR-TGU", country="HN")
    refused = await api.get(f"/v1/cases/{case_id}/consent", headers=other_centre)
    assert refused.status_code == 403
    assert "outside your scope" in refused.json()["detail"]


async def test_a_child_consenting_alone_is_refused_with_the_reason_as_a_problem(
    reception: tuple[Client, HandlerHarness[ReceptionUnitOfWork]], tokens: Tokens
) -> None:
    api, service = reception
    case_id = await arrive(service, CHILD)
    refused = await api.post(
        f"/v1/cases/{case_id}/consent", json=CONSENT, headers=tokens("case_worker", **SPS)
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "consent-refused"
    assert "child (15): a child cannot consent alone to referral for health" in problem["detail"]
    auditor = tokens("auditor")
    [row] = (await api.get("/v1/audit-log", headers=auditor)).json()
    assert (row["action"], row["outcome"], row["case_id"]) == ("consent_record", "refused", str(case_id))
    unknown = await api.post(
        f"/v1/cases/{UUID(int=7)}/consent", json=CONSENT, headers=tokens("protection_officer", country="HN")
    )
    assert unknown.status_code == 404
    bad = await api.post(
        f"/v1/cases/{case_id}/consent",
        json={**CONSENT, "method": "telepathy"},
        headers=tokens("case_worker", **SPS),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "method"


OVERRIDE = {
    "justification": "imminent_danger_to_life",
    "note": "Amenazas de muerte de la pandilla del barrio; necesita albergue esta noche.",
    "scopes": [{"purpose": "referral", "service_categories": ["protection", "shelter"]}],
}


async def test_an_override_needs_the_role_and_an_auditor_lists_it(
    reception: tuple[Client, HandlerHarness[ReceptionUnitOfWork]], tokens: Tokens
) -> None:
    api, service = reception
    case_id = await arrive(service)
    body = {**OVERRIDE, "valid_until": (NOW + timedelta(days=2)).isoformat()}
    by_worker = await api.post(
        f"/v1/cases/{case_id}/consent/override", json=body, headers=tokens("case_worker", **SPS)
    )
    assert by_worker.status_code == 403
    assert "consent.override" in by_worker.json()["detail"]
    officer = tokens("protection_officer", country="HN", agency="hn-senaf")
    too_long = await api.post(
        f"/v1/cases/{case_id}/consent/override",
        json={**body, "valid_until": (NOW + timedelta(days=30)).isoformat()},
        headers=officer,
    )
    assert too_long.status_code == 422
    assert "at most 7 days" in too_long.json()["detail"]
    done = await api.post(f"/v1/cases/{case_id}/consent/override", json=body, headers=officer)
    assert done.status_code == 201, done.text
    assert done.json()["records"][0]["justification"] == "imminent_danger_to_life"
    assert "pandilla" not in done.text
    auditor = tokens("auditor")
    [listed] = (await api.get("/v1/consent-overrides", headers=auditor)).json()
    assert (listed["case_id"], listed["recorded_by_role"], listed["note"]) == (
        str(case_id),
        "protection_officer",
        None,
    )
    [with_note] = (
        await api.get("/v1/consent-overrides", params={"include_notes": "true"}, headers=auditor)
    ).json()
    assert "pandilla" in with_note["note"]
    assert (await api.get("/v1/consent-overrides", headers=officer)).status_code == 403


async def test_contact_lookups_answer_the_agency_of_the_referral_and_refuse_others(
    reception: tuple[Client, HandlerHarness[ReceptionUnitOfWork]], tokens: Tokens
) -> None:
    api, service = reception
    case_id = await arrive(service)
    assert (
        await api.post(f"/v1/cases/{case_id}/consent", json=CONSENT, headers=tokens("case_worker", **SPS))
    ).status_code == 201
    await service.deliver(EVENTS, referral(case_id, "ref-8mQ", hours=1))
    sesal = tokens("agency_partner", agency="hn-sesal", country="HN")
    found = await api.post("/v1/contact-lookups", json={"contact_reference": "ref-8mQ"}, headers=sesal)
    assert found.status_code == 200, found.text
    assert (found.json()["given_names"], found.json()["phone"]) == (ADULT.given_names, ADULT.phone)
    other = await api.post(
        "/v1/contact-lookups",
        json={"contact_reference": "ref-8mQ"},
        headers=tokens("agency_partner", agency="hn-infop"),
    )
    assert (other.status_code, other.json()["code"]) == (403, "contact-reference-of-another-agency")
    assert "Zelaya" not in other.text
    unknown = await api.post("/v1/contact-lookups", json={"contact_reference": "nope"}, headers=sesal)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "contact-reference-unknown")
    service.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    expired = await api.post("/v1/contact-lookups", json={"contact_reference": "ref-8mQ"}, headers=sesal)
    assert (expired.status_code, expired.json()["code"]) == (410, "contact-reference-gone")
    staff = await api.post(
        "/v1/contact-lookups", json={"contact_reference": "ref-8mQ"}, headers=tokens("case_worker", **SPS)
    )
    assert staff.status_code == 403  # the policy: lookups are for agencies
    report = (
        await api.get(f"/v1/cases/{case_id}/access-report", headers=tokens("case_worker", **SPS))
    ).json()
    assert [(a["action"], a["outcome"], a["by_agency"]) for a in report["accesses"]] == [
        ("contact_lookup", "refused", "hn-sesal"),
        ("contact_lookup", "refused", "hn-infop"),
        ("contact_lookup", "allowed", "hn-sesal"),
    ]


async def test_personal_data_is_read_for_a_stated_purpose_and_audited(
    reception: tuple[Client, HandlerHarness[ReceptionUnitOfWork]], tokens: Tokens
) -> None:
    api, service = reception
    case_id = await arrive(service)
    worker = tokens("case_worker", **SPS)
    without = await api.get(f"/v1/cases/{case_id}/personal-data", headers=worker)
    assert without.status_code == 422
    read = await api.get(
        f"/v1/cases/{case_id}/personal-data", params={"purpose": "duplicate_review"}, headers=worker
    )
    assert read.status_code == 200
    assert read.json()["document_number"] == ADULT.document_number
    analyst = await api.get(
        f"/v1/cases/{case_id}/personal-data",
        params={"purpose": "duplicate_review"},
        headers=tokens("me_analyst", country="HN"),
    )
    assert analyst.status_code == 403
    [row] = (
        await api.get("/v1/audit-log", params={"case_id": str(case_id)}, headers=tokens("auditor"))
    ).json()
    assert (row["action"], row["purpose"], row["actor_roles"], row["actor_centre"]) == (
        "personal_data_read", "duplicate_review", "case_worker", "HN-CAMR-SPS",
    )  # fmt: skip
    assert "Zelaya" not in str(row)
