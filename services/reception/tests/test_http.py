"""Reception's HTTP API in process over its real handlers and database (no Kafka): manifests in CSV
and JSON, announcements, the case view, screening and the review queue, with the kit's error mapping."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from reintegra_kit.clock import ManualClock
from reintegra_kit.runtime.http import create_app
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_reception import http
from reintegra_reception.access import record_scope_of
from reintegra_reception.bootstrap import SPEC
from reintegra_reception.crypto import new_key_text
from reintegra_reception.domain import (
    AnnounceReturn,
    DecideReview,
    MatchPolicy,
    ProvideAssistance,
    RegisterArrival,
    RegisterManifest,
    ScreenProtection,
)
from reintegra_reception.handlers import (
    announce_return,
    decide_review,
    provide_assistance,
    register_arrival,
    register_manifest,
    screen_protection,
)
from reintegra_reception.orm import kit_tables
from reintegra_reception.repository import ReceptionUnitOfWork
from reintegra_reception.settings import ReceptionSettings

from .test_handlers import ARRIVED, FLIGHT, KEYS, MANIFEST, NOW

SETTINGS = ReceptionSettings(key_encryption_key=new_key_text(), blind_index_secret=new_key_text())

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "manifest-example.csv"


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield


@pytest.fixture
async def api(database_url: str, auth: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with HandlerHarness(
        database_url,
        spec=SPEC,
        tables=kit_tables,
        uow_class=ReceptionUnitOfWork.factory(KEYS),
        clock=ManualClock(NOW),
        match_policy=MatchPolicy(),
        blind_index=KEYS.blind_index,
    ) as harness:
        bus = harness.bus
        bus.register(
            {
                RegisterArrival: register_arrival,
                RegisterManifest: register_manifest,
                AnnounceReturn: announce_return,
                ProvideAssistance: provide_assistance,
                ScreenProtection: screen_protection,
                DecideReview: decide_review,
            }
        )
        app = create_app(
            title="reception",
            description="",
            version="1",
            routers=[http.router(bus, harness.uow, SETTINGS)],
            lifespan=nothing,
            authorizer=auth.authorizer("reception", record_scope=record_scope_of(harness.uow)),
        )
        transport = httpx.ASGITransport(app=app)
        # a reception officer and case worker of the flight's centre (the routes' roles)
        staff = auth.staff(centre=FLIGHT["reception_centre"], country=FLIGHT["country_of_return"])
        async with httpx.AsyncClient(
            transport=transport, base_url="http://reception", headers=staff
        ) as client:
            yield client


async def test_the_example_manifest_in_spanish_registers_everybody(api: httpx.AsyncClient) -> None:
    params = {**FLIGHT, "manifest_id": "EXAMPLE-1"}
    response = await api.post(
        "/v1/manifests", content=EXAMPLE.read_bytes(), params=params, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["lines"], report["registered"], report["errors"]) == (8, 8, [])
    cases = {c["line"]: c["case_id"] for c in report["cases"]}
    alone = (await api.get(f"/v1/cases/{cases[5]}")).json()  # Josué, 17, travelling alone
    assert "unaccompanied_child" in alone["vulnerabilities"]
    granddaughter = (await api.get(f"/v1/cases/{cases[7]}")).json()  # with her grandmother
    assert "separated_child" in granddaughter["vulnerabilities"]
    assert granddaughter["travel_group_size"] == 2
    assert [c["lead_agency"] for c in granddaughter["concerns"]] == ["hn-senaf"]
    assert "Cáceres" not in str(granddaughter)


async def test_a_json_manifest_with_bad_lines_answers_each_and_a_dry_run_registers_nobody(
    api: httpx.AsyncClient,
) -> None:
    body = {
        "manifest_id": "BUS-7",
        "defaults": {**FLIGHT, "transport_mode": "land", "port_of_entry": "HN-CORINTO"},
        "people": [
            {"nombres": "Iris", "apellidos": "Paz", "fecha_nacimiento": "1990-01-01", "sexo": "mujer", "municipio_destino": "HN-0501"},
            {"given_names": "X", "family_names": "Y", "date_of_birth": "1990-13-01", "sex": "male", "destination_municipality": "HN-0501"},
            {"given_names": "Z", "colour": "blue"},
        ],
    }  # fmt: skip
    dry = await api.post("/v1/manifests", json=body, params={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["lines"], dry.json()["registered"]) == (3, 0)
    assert [(e["line"], e["field"]) for e in dry.json()["errors"]] == [(2, "date_of_birth"), (3, "colour")]
    refused = await api.post("/v1/manifests", json=body, params={"all_or_nothing": "true"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["line"] for e in refused.json()["errors"]] == [2, 3]
    done = await api.post("/v1/manifests", json=body)
    assert done.status_code == 201
    assert done.json()["registered"] == 1


async def test_an_unreadable_manifest_is_one_clear_problem(api: httpx.AsyncClient) -> None:
    bad_header = b"nombres,apellidos,colour\nA,B,C\n"
    response = await api.post(
        "/v1/manifests", content=bad_header, params={"manifest_id": "M"}, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422
    assert "'colour'" in response.json()["detail"]
    no_id = await api.post("/v1/manifests", content=MANIFEST, headers={"content-type": "text/csv"})
    assert no_id.status_code == 422
    assert "manifest_id" in no_id.json()["detail"]


async def test_an_announcement_shows_who_arrived_and_a_case_shows_its_story(api: httpx.AsyncClient) -> None:
    announced = await api.post(
        "/v1/announcements",
        json={
            "announced_by": "hn-consulado-houston",
            "expected_arrival_at": ARRIVED.isoformat(),
            "port_of_entry": "HN-SAP",
            "country_of_return": "HN",
            "returned_from": "US",
            "return_type": "forced",
            "transport_mode": "air",
            "persons": [{"reference": "A1", "person": {"given_names": "Marta", "family_names": "Zelaya Pineda", "date_of_birth": "1985-03-02"}}, {"reference": "A2"}],
        },
    )  # fmt: skip
    assert announced.status_code == 201, announced.text
    announcement_id = announced.json()["announcement_id"]
    report = (
        await api.post(
            "/v1/manifests",
            content=MANIFEST,
            params={**FLIGHT, "manifest_id": "AV1", "announcement_id": announcement_id},
            headers={"content-type": "text/csv"},
        )
    ).json()
    status = (await api.get(f"/v1/announcements/{announcement_id}")).json()
    assert (status["arrived"], status["not_arrived"], len(status["unannounced_case_ids"])) == (1, 1, 4)
    marta = report["cases"][0]["case_id"]
    assert status["persons"][0]["case_id"] == marta
    screened = await api.post(
        f"/v1/cases/{marta}/screening",
        json={"findings": [{"concern": "threat_to_life"}], "screened_by_role": "reception_officer"},
    )
    assert screened.status_code == 200, screened.text
    helped = await api.post(f"/v1/cases/{marta}/assistance", json={"assistance": ["food", "family_contact"]})
    assert helped.status_code == 201, helped.text
    case = helped.json()
    assert [c["concern_type"] for c in case["concerns"]] == ["threat_to_life"]
    assert case["assistance"][0]["items"] == ["food", "family_contact"]
    assert case["announcement_id"] == announcement_id
    assert "Zelaya" not in str(case)
    assert (await api.get("/v1/cases/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_the_review_queue_over_http(api: httpx.AsyncClient) -> None:
    arrival = {**FLIGHT, "person": {"given_names": "Ana", "family_names": "Reyes", "date_of_birth": "1990-05-01"}, "sex": "female", "destination_municipality": "HN-0501"}  # fmt: skip
    await api.post("/v1/arrivals", json={**arrival, "manifest_ref": "desk"})
    await api.post("/v1/arrivals", json={**arrival, "manifest_ref": "manifest"})
    [review] = (await api.get("/v1/reviews")).json()
    assert review["comparison"]["document"] == "missing"
    assert "Reyes" not in str(review)
    decided = await api.post(
        f"/v1/reviews/{review['review_id']}/decision",
        json={"decision": "merge", "decided_by_role": "case_worker"},
    )
    assert decided.status_code == 200
    assert decided.json()["status"] == "merged"
    assert (await api.get("/v1/reviews")).json() == []
    again = await api.post(
        f"/v1/reviews/{review['review_id']}/decision",
        json={"decision": "merge", "decided_by_role": "case_worker"},
    )
    assert again.status_code == 409
    merged = (await api.get(f"/v1/cases/{review['case_id']}")).json()
    assert (merged["status"], merged["merged_into"]) == ("merged", review["candidate_case_id"])


ANNOUNCEMENT = {
    "announced_by": "hn-consulado-houston",
    "expected_arrival_at": ARRIVED.isoformat(),
    "port_of_entry": "HN-SAP",
    "country_of_return": "HN",
    "returned_from": "US",
    "return_type": "forced",
    "transport_mode": "air",
    "persons": [{"reference": "A1", "person": {"given_names": "Marta", "family_names": "Zelaya", "date_of_birth": "1985-03-02"}}],
}  # fmt: skip
ARRIVAL = {**FLIGHT, "person": {"given_names": "Ana", "family_names": "Reyes", "date_of_birth": "1990-05-01"}, "sex": "female", "destination_municipality": "HN-0501"}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # pydantic alone reads a number as seconds since 1970: 0 was registered as born on 1970-01-01
        ("/v1/announcements", {**ANNOUNCEMENT, "persons": [{"person": {**ANNOUNCEMENT["persons"][0]["person"], "date_of_birth": 0}}]}, "persons.0.person.date_of_birth"),  # type: ignore[index]
        ("/v1/announcements", {**ANNOUNCEMENT, "expected_arrival_at": 1_790_000_000}, "expected_arrival_at"),
        ("/v1/arrivals", {**ARRIVAL, "person": {**ARRIVAL["person"], "date_of_birth": 0}}, "person.date_of_birth"),  # type: ignore[dict-item]
        ("/v1/arrivals", {**ARRIVAL, "arrived_at": 1.5e9}, "arrived_at"),
    ],
)  # fmt: skip
async def test_a_date_or_time_as_a_number_is_refused(
    api: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    response = await api.post(path, json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    as_text = await api.post(
        path, json={**body, field.split(".")[0]: (ANNOUNCEMENT | ARRIVAL)[field.split(".")[0]]}
    )
    assert as_text.status_code == 201, as_text.text


async def test_a_screening_cannot_find_the_log_only_kind_undisclosed(api: httpx.AsyncClient) -> None:
    # "undisclosed" is what the log says of a special-category concern; as a finding it answered 500
    registered = await api.post("/v1/arrivals", json=ARRIVAL)
    case_id = registered.json()["case_id"]
    body = {"findings": [{"concern": "undisclosed"}], "screened_by_role": "reception_officer"}
    response = await api.post(f"/v1/cases/{case_id}/screening", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["findings.0.concern"]
