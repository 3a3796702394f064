"""Topics a service creates get a deliberate retention by kind, on a real broker (ADR 0080)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from reintegra_kit.runtime.topics import TopicAdmin
from reintegra_kit.settings import ServiceSettings

pytestmark = pytest.mark.connected


async def retention_of(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        )
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for _code, _msg, _type, name, entries in response.resources:
        for entry in entries:
            if entry[0] == "retention.ms":
                found[name] = entry[1]
    return found


async def test_events_dead_letter_and_partner_topics_are_created_with_their_retention(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}ret{uuid4().hex[:6]}."
    settings = ServiceSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        topic_retention_ms=7_200_000,
        dead_letter_retention_ms=10_800_000,
        partner_retention_ms=3_600_000,
    )
    admin = TopicAdmin(settings)
    logical = [
        "reintegra.referral.events.v1",
        "reintegra.referral.events.v1.dlq",
        "reintegra.partner.hn-senaf.v1",
        "reintegra.partner.hn-senaf.responses.v1",
    ]
    created = await admin.ensure(logical)
    assert sorted(created) == sorted(prefix + t for t in logical)
    retention = await retention_of(kafka_bootstrap, [prefix + t for t in logical])
    assert retention == {
        prefix + "reintegra.referral.events.v1": "7200000",
        prefix + "reintegra.referral.events.v1.dlq": "10800000",
        prefix + "reintegra.partner.hn-senaf.v1": "3600000",
        prefix + "reintegra.partner.hn-senaf.responses.v1": "3600000",
    }
