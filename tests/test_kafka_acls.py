"""Kafka users and ACLs from one source, and a broker that enforces them (SASL/SCRAM + ACLs):
a service publishes with its own credentials; an agency reads only its partner topic and answers only
on its own responses topic; a service cannot write a topic it does not own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from reintegra_contracts.topics import (
    ASSESSMENT_EVENTS,
    FOLLOWUP_EVENTS,
    RECEPTION_COMMANDS,
    RECEPTION_EVENTS,
    REFERRAL_EVENTS,
    dead_letter_topic,
    partner_topic,
)
from reintegra_kit import acl
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.infra import repo_root
from reintegra_stack.kafka_acls import apply, load_credentials

from .conftest import RECEPTION_BLIND_INDEX_SECRET, RECEPTION_KEK
from .support import ServiceProcess, arrival_payload, free_port_pair

ROOT = repo_root()
AGENCIES = ("hn-senaf", "hn-sesal")


# ------------------------------------------------------------------------ generated from one source


def test_the_service_table_matches_what_each_service_declares() -> None:
    """The ACL table (from the registry) is what each service's AsyncAPI document (generated from its
    code) says it does."""
    for service, topics in acl.service_topics(ROOT).items():
        document = json.loads((ROOT / "docs" / "asyncapi" / f"{service}.json").read_text())
        addresses = {name: channel["address"] for name, channel in document["channels"].items()}
        sends, receives = set(), set()
        for operation in document["operations"].values():
            address = addresses[unquote(operation["channel"]["$ref"].rsplit("/", 1)[-1])]
            (sends if operation["action"] == "send" else receives).add(address)
        assert {t for t in sends if not t.endswith(".dlq")} == set(topics.produces), service
        assert receives == set(topics.consumes), service
        literal = {t for t in topics.consumes if "{agency}" not in t}  # families park on per-agency .dlq
        assert {t for t in sends if t.endswith(".dlq")} == {dead_letter_topic(t) for t in literal}


def test_services_write_only_their_own_topics() -> None:
    users = {u.name: u for u in acl.kafka_users(AGENCIES)}
    writes = {
        name: {a.name for a in u.acls if a.resource == "topic" and "Write" in a.operations}
        for name, u in users.items()
    }
    # reception also follows referral's and follow-up's events (contact references, case closure)
    assert writes["reintegra-reception"] == {
        RECEPTION_EVENTS,
        dead_letter_topic(RECEPTION_COMMANDS),
        dead_letter_topic(REFERRAL_EVENTS),
        dead_letter_topic(FOLLOWUP_EVENTS),
    }
    assert writes["reintegra-assessment"] == {ASSESSMENT_EVENTS, dead_letter_topic(RECEPTION_EVENTS)}
    assert writes["reintegra-referral"] == {
        REFERRAL_EVENTS,
        "reintegra.directory.events.v1",
        dead_letter_topic(ASSESSMENT_EVENTS),
        dead_letter_topic(RECEPTION_EVENTS),
        partner_topic("hn-senaf"),
        partner_topic("hn-sesal"),
        *(dead_letter_topic(acl.partner_responses_topic(a)) for a in AGENCIES),
    }
    assert writes["agency-hn-senaf"] == {"reintegra.partner.hn-senaf.responses.v1"}
    reads = {a.name for a in users["agency-hn-senaf"].acls if "Read" in a.operations}
    assert reads == {"reintegra.partner.hn-senaf.v1", "agency-hn-senaf"}
    # topics are always literal; a service's consumer groups are one prefix (reintegra-<service>…)
    assert all(a.pattern_type == "literal" for u in users.values() for a in u.acls if a.resource == "topic")
    groups = [(a.name, a.pattern_type) for a in users["reintegra-referral"].acls if a.resource == "group"]
    assert groups == [("reintegra-referral", "prefix")]
    assert [a.pattern_type for a in users["agency-hn-senaf"].acls if a.resource == "group"] == ["literal"]


def test_bad_agency_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="not agency codes: 'HN SENAF'"):
        acl.kafka_users(["HN SENAF"])


def test_the_helm_acl_file_is_up_to_date() -> None:
    assert (
        acl.main(
            [
                "--check",
                "--output",
                str(ROOT / acl.HELM_ACL_FILE),
                "--directory",
                str(ROOT / acl.SAMPLE_DIRECTORIES),
            ]
        )
        == 0
    )
    document = json.loads((ROOT / acl.HELM_ACL_FILE).read_text())
    reception = document["users"][0]
    assert (reception["name"], reception["kind"]) == ("reintegra-reception", "service")
    assert {
        "resource": "topic",
        "name": RECEPTION_EVENTS,
        "patternType": "literal",
        "operations": ["Write", "Describe"],
    } in reception["acls"]


def test_check_mode_reports_drift(tmp_path: Path) -> None:
    stale = tmp_path / "acls.json"
    stale.write_text('{"users": []}\n')
    assert (
        acl.main(["--check", "--output", str(stale), "--directory", str(ROOT / acl.SAMPLE_DIRECTORIES)]) == 1
    )
    assert acl.main(["--output", str(stale), "--directory", str(ROOT / acl.SAMPLE_DIRECTORIES)]) == 0
    assert (
        acl.main(["--check", "--output", str(stale), "--directory", str(ROOT / acl.SAMPLE_DIRECTORIES)]) == 0
    )


# ------------------------------------------------------------------------------- a secured broker


class SaslBroker:
    def __init__(self, state_dir: Path) -> None:
        self.port = free_port_pair()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "REINTEGRA_KAFKA_SECURITY": "sasl",
            "REINTEGRA_KAFKA_DIR": str(state_dir),
            "REINTEGRA_KAFKA_PORT": str(self.port),
        }

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["bash", str(ROOT / "deploy" / "local" / "kafka.sh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout.strip()


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    broker = SaslBroker(tmp_path_factory.mktemp("kafka-sasl"))
    broker.run("start")
    try:
        yield broker
    finally:
        broker.run("stop")


@pytest.fixture(scope="module")
def passwords(sasl_broker: SaslBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    users = acl.kafka_users(AGENCIES)
    credentials = load_credentials(tmp_path_factory.mktemp("creds") / "credentials.json", users)
    apply(sasl_broker.bootstrap, sasl_broker.run("admin-password"), users, credentials)
    again = apply(sasl_broker.bootstrap, sasl_broker.run("admin-password"), users, credentials)
    assert (again.topics_created, again.acls_created, again.acls_deleted) == ([], 0, 0)  # idempotent
    return credentials


def as_user(broker: SaslBroker, user: str, password: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": broker.bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
        "request_timeout_ms": 10_000,
    }


@pytest.fixture
async def producer_as(sasl_broker: SaslBroker, passwords: dict[str, str]) -> AsyncIterator[Any]:
    started: list[AIOKafkaProducer] = []

    async def make(user: str) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**as_user(sasl_broker, user, passwords[user]))
        await producer.start()
        started.append(producer)
        return producer

    yield make
    for producer in started:
        await producer.stop()


async def read(broker: SaslBroker, user: str, password: str, topic: str, group: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", **as_user(broker, user, password)
    )
    try:
        await consumer.start()
        batches = await consumer.getmany(timeout_ms=10_000)
        return [record.value for records in batches.values() for record in records if record.value]
    finally:
        await consumer.stop()


@pytest.mark.connected
@pytest.mark.processes
async def test_a_service_publishes_with_its_own_credentials(
    auth: TestIssuer, sasl_broker: SaslBroker, passwords: dict[str, str], tmp_path: Path
) -> None:
    reception = ServiceProcess(
        "reception",
        {
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": sasl_broker.bootstrap,
            "REINTEGRA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "REINTEGRA_KAFKA_USERNAME": "reintegra-reception",
            "REINTEGRA_KAFKA_PASSWORD": passwords["reintegra-reception"],
            "REINTEGRA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'reception.db'}",
            "REINTEGRA_RELAY_INTERVAL_S": "0.1",
            "REINTEGRA_KEY_ENCRYPTION_KEY": RECEPTION_KEK,
            "REINTEGRA_BLIND_INDEX_SECRET": RECEPTION_BLIND_INDEX_SECRET,
            **auth.env(),
        },
        tmp_path,
    )
    await asyncio.to_thread(reception.start)
    try:
        async with httpx.AsyncClient(headers=auth.staff(), base_url=reception.url) as http:
            response = await http.post("/v1/arrivals", json=arrival_payload(manifest_ref="ACL-1"))
        assert response.status_code == 201, response.text
        case_id = response.json()["case_id"]
        found: list[bytes] = []
        for _ in range(10):  # assessment's user reads reception's topic in assessment's group
            found += await read(
                sasl_broker,
                "reintegra-assessment",
                passwords["reintegra-assessment"],
                RECEPTION_EVENTS,
                "reintegra-assessment",
            )
            if any(case_id.encode() in value for value in found):
                break
        assert any(case_id.encode() in value for value in found)
    finally:
        reception.stop()
    assert "broker_unavailable" not in reception.log_path.read_text()


@pytest.mark.connected
async def test_a_service_cannot_write_a_topic_it_does_not_own(producer_as: Any) -> None:
    reception = await producer_as("reintegra-reception")
    for foreign in (REFERRAL_EVENTS, partner_topic("hn-senaf"), "reintegra.partner.hn-senaf.responses.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await reception.send_and_wait(foreign, b"{}")


@pytest.mark.connected
async def test_an_agency_reads_its_own_partner_topic_only(
    sasl_broker: SaslBroker, passwords: dict[str, str], producer_as: Any
) -> None:
    referral = await producer_as("reintegra-referral")
    await referral.send_and_wait(partner_topic("hn-senaf"), b'{"for": "senaf"}', key=b"case-1")
    await referral.send_and_wait(partner_topic("hn-sesal"), b'{"for": "sesal"}', key=b"case-2")
    senaf = passwords["agency-hn-senaf"]
    mine = await read(sasl_broker, "agency-hn-senaf", senaf, partner_topic("hn-senaf"), "agency-hn-senaf")
    assert b'{"for": "senaf"}' in mine
    with pytest.raises(TopicAuthorizationFailedError):
        await read(sasl_broker, "agency-hn-senaf", senaf, partner_topic("hn-sesal"), "agency-hn-senaf")
    with pytest.raises(KafkaError):  # another agency's consumer group is not its own either
        await read(sasl_broker, "agency-hn-senaf", senaf, partner_topic("hn-senaf"), "agency-hn-sesal")


@pytest.mark.connected
async def test_an_agency_answers_only_on_its_own_responses_topic(producer_as: Any) -> None:
    senaf = await producer_as("agency-hn-senaf")
    await senaf.send_and_wait("reintegra.partner.hn-senaf.responses.v1", b'{"accept": true}', key=b"case-1")
    with pytest.raises(TopicAuthorizationFailedError):
        await senaf.send_and_wait(
            "reintegra.partner.hn-sesal.responses.v1", b'{"forged": true}', key=b"case-2"
        )
    with pytest.raises(TopicAuthorizationFailedError):
        await senaf.send_and_wait(REFERRAL_EVENTS, b"{}", key=b"case-1")


@pytest.mark.connected
async def test_a_wrong_password_is_refused(sasl_broker: SaslBroker, passwords: dict[str, str]) -> None:
    producer = AIOKafkaProducer(**as_user(sasl_broker, "agency-hn-senaf", "not-the-password"))
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
