"""Inspecting and replaying parked messages (``<topic>.dlq``).

    python -m reintegra_kit.deadletters list reintegra.assessment.events.v1.dlq
    python -m reintegra_kit.deadletters replay reintegra.assessment.events.v1.dlq --record 0:17
    python -m reintegra_kit.deadletters replay reintegra.assessment.events.v1.dlq --all

Replaying sends the parked record — same key, value and CloudEvents headers, without the
``reintegra_dlq_*`` headers — back to the topic it came from, once the cause is fixed. It is safe to
replay twice: consumers deduplicate by CloudEvents id, so an event is processed at most once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

DLQ_HEADER_PREFIX = "reintegra_dlq_"


@dataclass(frozen=True)
class ParkedRecord:
    """One record of a dead-letter topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        """``partition:offset``, how the CLI names a record."""
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return ""

    @property
    def original_topic(self) -> str:
        return self.header(DLQ_HEADER_PREFIX + "original_topic")

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The record's own headers, without those that parking added."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]


async def read_parked(bootstrap: str, dlq_topic: str) -> list[ParkedRecord]:
    """Every record currently on ``dlq_topic``, in partition and offset order."""
    partitions = await _partitions(bootstrap, dlq_topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        assigned = [TopicPartition(dlq_topic, p) for p in partitions]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        records: list[ParkedRecord] = []
        while [tp for tp in assigned if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, batch in batches.items():
                records.extend(
                    ParkedRecord(tp.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ()))
                    for r in batch
                    if r.offset < end[tp]
                )
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        [description] = await admin.describe_topics([topic])
        return sorted(int(p["partition"]) for p in description["partitions"])
    finally:
        await admin.close()


async def replay(bootstrap: str, records: list[ParkedRecord]) -> list[str]:
    """Send ``records`` back to their original topics (``acks=all``); return the refs replayed."""
    missing = [r.ref for r in records if not r.original_topic]
    if missing:
        raise ValueError(f"records without {DLQ_HEADER_PREFIX}original_topic cannot be replayed: {missing}")
    omitted = [r.ref for r in records if r.header(DLQ_HEADER_PREFIX + "value_omitted")]
    if omitted:
        raise ValueError(
            f"records parked without their value (larger than max_event_bytes) cannot be replayed: "
            f"{omitted}; the record is on its original topic at the partition and offset the dead letter names"
        )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                record.original_topic, record.value, key=record.key, headers=record.replay_headers()
            )
    finally:
        await producer.stop()
    return [r.ref for r in records]


app = typer.Typer(help="Inspect and replay messages parked on dead-letter topics.", no_args_is_help=True)
Bootstrap = Annotated[
    str, typer.Option(envvar="REINTEGRA_KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
]


@app.command("list")
def list_command(dlq_topic: str, bootstrap: Bootstrap = "127.0.0.1:9092") -> None:
    """List the parked records of DLQ_TOPIC with why they were parked."""
    records = asyncio.run(read_parked(bootstrap, dlq_topic))
    table = Table(title=f"{dlq_topic}: {len(records)} parked")
    for column in ("record", "ce_type", "ce_id", "error", "attempts", "reason"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r.ref,
            r.header("ce_type") or "-",
            r.header("ce_id") or "-",
            r.header(DLQ_HEADER_PREFIX + "error_type"),
            r.header(DLQ_HEADER_PREFIX + "attempts"),
            r.header(DLQ_HEADER_PREFIX + "reason")[:200],
        )
    Console(width=200).print(table)


@app.command("replay")
def replay_command(
    dlq_topic: str,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    record: Annotated[
        list[str] | None, typer.Option(help="partition:offset of a record; repeatable.")
    ] = None,
    all_records: Annotated[bool, typer.Option("--all", help="Replay every parked record.")] = False,
) -> None:
    """Send parked records of DLQ_TOPIC back to the topic they came from."""
    if not record and not all_records:
        raise typer.BadParameter("name records with --record PARTITION:OFFSET, or pass --all")
    parked = asyncio.run(read_parked(bootstrap, dlq_topic))
    chosen = parked if all_records else _select(parked, record or [])
    done = asyncio.run(replay(bootstrap, chosen))
    typer.echo(f"replayed {len(done)} record(s): {', '.join(done) or '-'}")


def _select(parked: list[ParkedRecord], refs: list[str]) -> list[ParkedRecord]:
    by_ref: dict[str, ParkedRecord] = {r.ref: r for r in parked}
    unknown = [ref for ref in refs if ref not in by_ref]
    if unknown:
        raise typer.BadParameter(f"no parked record {', '.join(unknown)} (see the list command)")
    return [by_ref[ref] for ref in refs]


def main(argv: Any = None) -> None:
    app(argv)


if __name__ == "__main__":
    main()
