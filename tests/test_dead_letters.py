"""Operators list parked messages and replay them once the cause is fixed; replay is idempotent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from reintegra_contracts import encode
from reintegra_contracts.topics import ASSESSMENT_EVENTS, RECEPTION_EVENTS, dead_letter_topic
from reintegra_kit.deadletters import read_parked
from reintegra_kit.testing.kafka import TopicReader, header, produce

from .support import ServiceProcess
from .test_reliability import arrival, nothing_more, scalar, send

pytestmark = [pytest.mark.connected, pytest.mark.processes]

Launch = Callable[..., Awaitable[ServiceProcess]]


def cli(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reintegra_kit.deadletters", *args, "--bootstrap", bootstrap],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_parked_messages_are_listed_with_their_reason_and_replayed_once(
    launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    assessment = await launch("assessment")
    source, dlq = topic(RECEPTION_EVENTS), dead_letter_topic(topic(RECEPTION_EVENTS))
    # Parked by the service itself: its handler cannot schedule an assessment in year 10000.
    await send(kafka_bootstrap, source, arrival(arrived_at=datetime(9999, 12, 31, 12, tzinfo=UTC)))
    # Parked earlier by a release with a bug since fixed: a good event, as the kit parks it.
    good = arrival()
    record = encode(good, source="/reintegra/reception")
    parked_headers = [*record.headers, ("reintegra_dlq_original_topic", source.encode())]
    parked_headers.append(("reintegra_dlq_reason", b"NameError: name 'priorty' is not defined"))
    await produce(kafka_bootstrap, dlq, record.value, key=record.key, headers=parked_headers)

    async with TopicReader(kafka_bootstrap, dlq) as reader:
        await reader.wait_for(lambda rs: len(rs) == 2, what="two parked records")
    listing = cli(kafka_bootstrap, "list", dlq)
    assert listing.returncode == 0, listing.stderr
    assert "OverflowError" in listing.stdout
    assert "priorty" in listing.stdout

    parked = await read_parked(kafka_bootstrap, dlq)
    [fixed] = [r for r in parked if r.header("ce_id") == dict(record.headers)["ce_id"].decode()]
    async with TopicReader(kafka_bootstrap, topic(ASSESSMENT_EVENTS)) as reader:
        for _ in range(2):
            replayed = cli(kafka_bootstrap, "replay", dlq, "--record", fixed.ref)
            assert replayed.returncode == 0, replayed.stderr
            assert f"replayed 1 record(s): {fixed.ref}" in replayed.stdout
        await reader.wait_for(
            lambda rs: any(r.key == str(good.case_id).encode() for r in rs),
            what="the replayed arrival handled",
        )
        await nothing_more(kafka_bootstrap, reader, assessment, [source])
    scheduled = [r for r in reader.records if r.key == str(good.case_id).encode()]
    assert [header(r, "ce_type") for r in scheduled] == ["org.reintegra.assessment.assessment_scheduled.v1"]
    db = assessment.db_url  # type: ignore[attr-defined]
    assert await scalar(db, "SELECT count(*) FROM assessments WHERE case_id = :c", c=good.case_id) == 1
    # The replayed record is the parked one, without the parking headers: same key, value and
    # CloudEvents id, so the consumers' inbox sees the second replay as a duplicate of the first.
    async with TopicReader(kafka_bootstrap, source) as reader:
        await reader.read_to_end()
    replays = [r for r in reader.records if r.key == str(good.case_id).encode()]
    assert len(replays) == 2
    assert {header(r, "ce_id") for r in replays} == {fixed.header("ce_id")}
    assert all(r.value == fixed.value for r in replays)
    assert all(header(r, "reintegra_dlq_reason") is None for r in replays)
    assert await scalar(db, "SELECT count(*) FROM inbox WHERE event_id = :e", e=fixed.header("ce_id")) == 1
    assert await scalar(db, "SELECT count(*) FROM inbox") == 1  # the poison event was parked, not handled


async def test_an_unknown_record_is_refused_by_name(
    topic: Callable[[str], str], kafka_bootstrap: str
) -> None:
    dlq = dead_letter_topic(topic(f"nothing-{uuid4().hex[:6]}"))
    result = await asyncio.to_thread(cli, kafka_bootstrap, "replay", dlq, "--record", "0:41")
    assert result.returncode != 0
    assert "no parked record 0:41" in result.stderr
