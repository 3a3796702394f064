"""What an operator and an SRE rely on: configuration errors, readiness, traces exported by OTLP."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from reintegra_contracts.topics import FOLLOWUP_EVENTS, RECEPTION_EVENTS
from reintegra_kit.testing.auth import TestIssuer
from reintegra_kit.testing.kafka import TopicReader, header
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from . import runbook
from .leaks import Collector
from .support import ServiceProcess, arrival_payload, free_port, free_port_pair

ROOT = Path(__file__).resolve().parents[1]

Launch = Callable[..., Awaitable[ServiceProcess]]


def test_a_bad_setting_stops_the_service_with_a_message_naming_each_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reintegra_reception"],
        env={
            "PATH": "/usr/bin:/bin",
            "REINTEGRA_HTTP_PORT": "eighty",
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": "kafka-without-port",
            "REINTEGRA_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "REINTEGRA_HTTP_PORT" in result.stderr
    assert (
        "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS: Value error, 'kafka-without-port' is not host:port"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "REINTEGRA_AUTH_ISSUER and REINTEGRA_AUTH_AUDIENCE: required to serve"),
        (
            {"REINTEGRA_AUTH_ISSUER": "http://id.example.org", "REINTEGRA_AUTH_AUDIENCE": "reintegra"},
            "plain http only on a loopback address",
        ),
    ],
)
def test_a_service_without_an_identity_provider_refuses_to_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """No request is served without authentication, and no switch turns it off."""
    result = subprocess.run(
        [sys.executable, "-m", "reintegra_assessment"],
        env={"PATH": "/usr/bin:/bin", "REINTEGRA_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_a_service_without_kafka_is_alive_but_not_ready(tmp_path: Path, auth: TestIssuer) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    proc = ServiceProcess(
        "assessment",
        {"REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": nowhere, "REINTEGRA_DATA_DIR": str(tmp_path), **auth.env()},
        tmp_path,
    )
    proc.proc = subprocess.Popen(
        [sys.executable, "-m", "reintegra_assessment"],
        env=proc.env,
        stdout=proc.log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{proc.url}/livez", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, proc.log_tail()
            time.sleep(0.2)
        ready = httpx.get(f"{proc.url}/readyz", timeout=10)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["kafka"].startswith("failing")
    finally:
        assert proc.stop() == 0


def _kafka_script(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "kafka.sh"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


@pytest.mark.connected
def test_a_service_asked_to_stop_while_its_broker_is_gone_stops_within_its_grace_period(
    tmp_path: Path, auth: TestIssuer
) -> None:
    # A private broker (the shared one must stay up), stopped under the running service.
    port = free_port_pair()
    kafka = {"REINTEGRA_KAFKA_PORT": str(port), "REINTEGRA_KAFKA_DIR": str(tmp_path / "kafka")}
    _kafka_script(kafka, "start")
    grace_s = 5.0
    proc = ServiceProcess(
        "reception",
        {
            "REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": _kafka_script(kafka, "bootstrap").splitlines()[-1],
            "REINTEGRA_DATA_DIR": str(tmp_path),
            "REINTEGRA_SHUTDOWN_GRACE_S": str(grace_s),
            "REINTEGRA_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "REINTEGRA_BLIND_INDEX_SECRET": base64.b64encode(os.urandom(32)).decode(),
            **auth.env(),
        },
        tmp_path,
    )
    try:
        proc.start()
        assert proc.proc is not None
        _kafka_script(kafka, "stop")
        # an arrival accepted now: its event waits in the outbox and in the relay's producer, while
        # the consumers, the relay and the metrics keep trying to reach the broker
        accepted = httpx.post(
            f"{proc.url}/v1/arrivals", json=arrival_payload(), headers=auth.staff(), timeout=30
        )
        assert accepted.status_code == 201, accepted.text
        time.sleep(15)  # past the consumer group's session time-out: the coordinator is given up for dead
        assert proc.proc.poll() is None
        asked = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        try:
            status = proc.proc.wait(timeout=grace_s + 15)
        except subprocess.TimeoutExpired:
            proc.proc.kill()
            proc.proc.wait()
            raise AssertionError(
                f"still running {grace_s + 15} s after SIGTERM:\n{proc.log_tail()}"
            ) from None
        took = time.monotonic() - asked
        # the grace period bounds the stop; a few seconds more for the interpreter to exit under load
        assert status == 0, proc.log_tail()
        assert took < grace_s + 5, f"stopped after {took:.1f} s:\n{proc.log_tail()}"
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.kill()
        _kafka_script(kafka, "stop")


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as c:
        yield c


@pytest.mark.connected
@pytest.mark.processes
async def test_one_arrival_is_one_trace_exported_by_every_service_it_touches(
    auth: TestIssuer, launch: Launch, topic: Callable[[str], str], kafka_bootstrap: str, collector: Collector
) -> None:
    otlp = {"REINTEGRA_OTLP_ENDPOINT": collector.url}
    reception, assessment, followup = await asyncio.gather(
        launch("reception", **otlp), launch("assessment", **otlp), launch("followup", **otlp)
    )
    async with (
        TopicReader(kafka_bootstrap, topic(FOLLOWUP_EVENTS)) as reader,
        httpx.AsyncClient(
            headers=auth.staff(),
        ) as http,
    ):
        response = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
        case_id = response.json()["case_id"]
        await reader.wait_for(lambda rs: any(r.key == case_id.encode() for r in rs), what="a follow-up")
    trace_id = (header(reader.records[0], "traceparent") or "").split("-")[1]
    for proc in (reception, assessment, followup):
        await asyncio.to_thread(proc.stop)  # flushes the batch span processor

    services = {service for service, trace, _ in collector.spans if trace == trace_id}
    assert services == {"reintegra-reception", "reintegra-assessment", "reintegra-followup"}
    names = {name for _, trace, name in collector.spans if trace == trace_id}
    assert "POST /v1/arrivals" in names
    # the outbox relay's producer spans are "send {destination}" (OpenTelemetry messaging naming)
    assert any(name == f"send {topic(RECEPTION_EVENTS)}" for name in names)
    # each consumed event is processed in its own producer's trace (OpenTelemetry messaging naming:
    # "{operation} {destination}"), even when the consumer fetched it in a batch
    assert any(name.startswith("process ") and name.endswith(RECEPTION_EVENTS) for name in names)


# -- the runbook's commands (docs/operations.md), executed -------------------------------------------------

HELM_VALUES = ROOT / "deploy" / "helm" / "reintegra" / "values-production.yaml"


def run_block(block: runbook.Block, env: dict[str, str], after: str = "") -> subprocess.CompletedProcess[str]:
    """Run a runbook block as a person would type it, from the checkout, with ``env`` (``after``: test
    lines appended to the same shell, e.g. to keep a value the block generated)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REINTEGRA_", "VIRTUAL_ENV"))}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text + after],
        cwd=ROOT,
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"docs/operations.md line {block.line}:\n{done.stdout}\n{done.stderr}"
    return done


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.timeout(300)
def test_the_runbooks_helm_commands_lint_and_render_and_its_install_command_renders(tmp_path: Path) -> None:
    env = {"VALUES": str(HELM_VALUES), "TMPDIR": str(tmp_path)}
    lint_and_render, scale = runbook.scenario("helm")
    done = run_block(lint_and_render, env)
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout + done.stderr
    assert lint_and_render.commands[1].endswith('> "${TMPDIR:-/tmp}/rendered.yaml"')
    kinds = [d["kind"] for d in yaml.safe_load_all((tmp_path / "rendered.yaml").read_text()) if d]
    assert {"Deployment", "Job", "CronJob", "ScaledObject", "PrometheusRule"} <= set(kinds)
    run_block(scale, env)
    manifests = [d for d in yaml.safe_load_all((tmp_path / "rendered.yaml").read_text()) if d]
    [scaled] = [
        m for m in manifests if m["kind"] == "ScaledObject" and m["metadata"]["name"].endswith("reception")
    ]
    assert scaled["spec"]["maxReplicaCount"] == 16
    # the install/upgrade command: the same arguments, rendered (applying needs a cluster)
    helm = (
        subprocess.run(
            ["bash", "deploy/helm/helm.sh", "path"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    installs = [c for b in runbook.blocks() if b.kind == "render" for c in b.commands]
    assert installs
    for command in installs:
        args = shlex.split(command.replace('"$VALUES"', str(HELM_VALUES)))[2:]
        assert args[:2] == ["upgrade", "--install"]
        args = [a for a in args[2:] if a not in ("--wait", "--timeout", "10m")]
        rendered = subprocess.run(
            [helm, "template", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        assert rendered.returncode == 0, rendered.stderr
        assert "kind: Deployment" in rendered.stdout


@pytest.mark.connected
async def test_the_runbooks_migrate_and_prune_commands(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    url = await make_database("referral")
    env = {"REINTEGRA_DATABASE_URL": url}
    migrate, prune = runbook.scenario("migrate")
    done = await asyncio.to_thread(run_block, migrate, env)
    assert "referral database at head" in done.stdout
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO inbox (consumer_group, event_id, event_type, topic, processed_at, outcome) "
                    "VALUES ('reintegra-referral', 'old', 't', 'x', now() - interval '60 days', 'processed'), "
                    "('reintegra-referral', 'new', 't', 'x', now(), 'processed')"
                )
            )
        done = await asyncio.to_thread(run_block, prune, env)
        assert "would delete 0 outbox rows, 1 inbox rows" in done.stderr
        assert "deleted 0 outbox rows, 1 inbox rows" in done.stderr
        async with engine.connect() as conn:
            left = (await conn.execute(text("SELECT event_id FROM inbox"))).scalars().all()
        assert left == ["new"]
    finally:
        await engine.dispose()


@pytest.mark.connected
async def test_the_runbooks_dead_letter_commands_list_and_replay(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}{tmp_path.name[-12:]}."
    original, dlq = f"{prefix}{RECEPTION_EVENTS}", f"{prefix}{RECEPTION_EVENTS}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (original, dlq)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(2):
            headers = [
                ("ce_id", f"parked-{n}".encode()),
                ("ce_type", b"arrival_registered"),
                ("reintegra_dlq_original_topic", original.encode()),
                ("reintegra_dlq_reason", b"handler failed 3 times"),
                ("reintegra_dlq_error_type", b"RuntimeError"),
                ("reintegra_dlq_attempts", b"3"),
            ]
            await producer.send_and_wait(dlq, b"{}", key=b"case-1", headers=headers)
    finally:
        await producer.stop()
    env = {"REINTEGRA_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REINTEGRA_TOPIC_PREFIX": prefix}
    listing, replaying = runbook.scenario("deadletters")
    listed = await asyncio.to_thread(run_block, listing, env)
    assert "2 parked" in listed.stdout
    assert "parked-1" in listed.stdout
    assert "RuntimeError" in listed.stdout
    replayed = await asyncio.to_thread(run_block, replaying, env)
    assert "replayed 1 record(s): 0:0" in replayed.stdout
    assert "replayed 2 record(s): 0:0, 0:1" in replayed.stdout
    async with TopicReader(kafka_bootstrap, original) as reader:
        records = await reader.wait_for(lambda rs: len(rs) >= 3, what="the replayed records")
    assert [header(r, "ce_id") for r in records] == ["parked-0", "parked-0", "parked-1"]
    assert all(header(r, "reintegra_dlq_reason") is None for r in records)


@pytest.mark.connected
@pytest.mark.processes
@pytest.mark.timeout(600)
async def test_the_runbooks_key_rotation_backup_and_restore_of_reception(
    auth: TestIssuer, launch: Launch, make_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    reception = await launch("reception")
    async with httpx.AsyncClient(headers=auth.staff()) as http:
        created = await http.post(f"{reception.url}/v1/arrivals", json=arrival_payload())
        assert created.status_code == 201, created.text
    await asyncio.to_thread(reception.stop)
    url: str = reception.db_url  # type: ignore[attr-defined]
    env = {
        "REINTEGRA_DATABASE_URL": url,
        "REINTEGRA_KEY_ENCRYPTION_KEY": reception.env["REINTEGRA_KEY_ENCRYPTION_KEY"],
        "REINTEGRA_BLIND_INDEX_SECRET": reception.env["REINTEGRA_BLIND_INDEX_SECRET"],
        "PGURL": libpq(url),
        "BACKUPS": str(tmp_path),
    }
    # rotate: a new key generated by the block, the old one kept as previous until every data key moved
    [keys] = runbook.scenario("keys")
    kek_file = tmp_path / "new-kek"
    rotated = await asyncio.to_thread(
        run_block, keys, env, f'\nprintf %s "$REINTEGRA_KEY_ENCRYPTION_KEY" > {shlex.quote(str(kek_file))}\n'
    )
    new_kek = kek_file.read_text()
    assert new_kek != env["REINTEGRA_KEY_ENCRYPTION_KEY"]
    assert "re-wrapped 1 data keys under" in rotated.stdout
    assert "remove REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS" in rotated.stdout
    # back up, restore into an empty database, migrate, and check the restored data keys with the new key
    [backup] = runbook.scenario("backup")
    dumped = await asyncio.to_thread(run_block, backup, env)
    assert int(dumped.stdout.strip().splitlines()[-1]) >= 10  # tables with data in the dump
    restored_url = await make_database("restored")
    restore_env = {**env, "REINTEGRA_DATABASE_URL": restored_url, "PGURL": libpq(restored_url)}
    restore, status = runbook.scenario("restore")
    migrated = await asyncio.to_thread(run_block, restore, restore_env)
    assert "reception database at head" in migrated.stdout
    shown = await asyncio.to_thread(
        run_block, status, {**restore_env, "REINTEGRA_KEY_ENCRYPTION_KEY": new_kek}
    )
    assert re.search(r"│ 1 +│ current", shown.stdout), shown.stdout
    without = await asyncio.to_thread(
        run_block, status, restore_env
    )  # the old key: its data key is elsewhere
    assert "to re-wrap" in without.stdout


@pytest.mark.connected
async def test_the_runbooks_consumer_group_commands_describe_and_rewind(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}{tmp_path.name[-12:]}."
    events, group = f"{prefix}{RECEPTION_EVENTS}", f"{prefix}reintegra-referral"
    before = datetime.now(UTC) - timedelta(seconds=5)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(events, f"{n}".encode(), key=b"case-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        events,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen = 0
        while seen < 3:
            seen += sum(len(b) for b in (await consumer.getmany(timeout_ms=1000)).values())
        await consumer.commit()
    finally:
        await consumer.stop()
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert host == "127.0.0.1"
    env = {
        "REINTEGRA_KAFKA_PORT": port,
        "REINTEGRA_TOPIC_PREFIX": prefix,
        "BACKUP_TIME": before.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    describe, rewind = runbook.scenario("groups")
    described = await asyncio.to_thread(run_block, describe, env)
    assert group in described.stdout
    assert events in described.stdout
    rewound = await asyncio.to_thread(run_block, rewind, env)
    assert events in rewound.stdout
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert {tp.topic for tp in offsets} == {events}
    assert sum(meta.offset for meta in offsets.values()) == 0  # back to before the three records
