"""A small agency system on Reintegra's partner channel, using only ``reintegra-contracts`` + aiokafka.

It subscribes to its own partner topic (``reintegra.partner.<agency>.v1``) and to the follow-up case
events, validates every record into a typed model with :func:`reintegra_contracts.decode`, and answers
each referral it receives on its **own** responses topic (``reintegra.partner.<agency>.responses.v1``,
the only one a Kafka ACL lets it write), in CloudEvents binary mode: a delivery receipt
(``ReceiveReferral``), then ``AcceptReferral`` — or ``RejectReferral`` when it does not offer the
category. With ``serve_at_once`` it also starts, delivers and completes the service at once (a demo of
the whole loop). It logs the refusals the referral service sends back (``PartnerCommandRefused``).

The decision is the pure function :func:`handle_record` (record in -> response records out), so it is
tested without Kafka. Run it against a broker with::

    pip install ./contracts aiokafka
    python contracts/examples/agency_consumer.py --bootstrap localhost:9092 --agency hn-senaeh \
        --categories employment,skills_certification --serve-at-once
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from reintegra_contracts import Command, ContractError, KafkaRecord, decode, encode
from reintegra_contracts.codelists import NeedOutcome, RejectionReason, ServiceCategory
from reintegra_contracts.events.followup import CaseClosed
from reintegra_contracts.events.partner import (
    AcceptReferral,
    CompleteReferral,
    PartnerCommandRefused,
    PartnerReferralCancelled,
    PartnerReferralOverdue,
    PartnerReferralRequested,
    ReceiveReferral,
    RecordServiceDelivery,
    RejectReferral,
    StartService,
)
from reintegra_contracts.topics import FOLLOWUP_EVENTS, partner_topic

log = logging.getLogger("agency_consumer")

Headers = Iterable[tuple[str, bytes]]


@dataclass(frozen=True)
class AgencyPolicy:
    """Who the agency is and what it offers."""

    agency_id: str
    categories: frozenset[ServiceCategory]
    delivery_days: int = 10
    serve_at_once: bool = False

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of the agency's commands."""
        return f"urn:reintegra:agency:{self.agency_id}"

    def topics(self) -> list[str]:
        """The topics the agency reads: its partner topic and the follow-up case events."""
        return [partner_topic(self.agency_id), FOLLOWUP_EVENTS]


def handle_record(
    value: bytes, headers: Headers, *, policy: AgencyPolicy, now: datetime
) -> list[KafkaRecord]:
    """Decide what to answer to one Kafka record; returns the records to produce (maybe none).

    A record that is not a valid Reintegra message is logged and skipped (a production system would
    park it on its own dead-letter topic). The trace context headers (W3C ``traceparent`` /
    ``tracestate`` and their CloudEvents twins ``ce_traceparent`` / ``ce_tracestate``) are carried over,
    so the answer continues the referral's trace.
    """
    header_list = list(headers)
    try:
        decoded = decode(header_list, value)
    except ContractError as exc:
        log.warning("skipping invalid record: %s", exc)
        return []
    event = decoded.event
    if isinstance(event, PartnerReferralRequested):
        if event.agency_id != policy.agency_id:
            log.warning("referral %s is addressed to %s, not to us", event.referral_id, event.agency_id)
            return []
        ids = {"case_id": event.case_id, "referral_id": event.referral_id, "agency_id": policy.agency_id}
        answers: list[Command] = [ReceiveReferral(**ids, received_at=now)]
        if event.category in policy.categories:
            answers.append(
                AcceptReferral(**ids, accepted_at=now, deliver_by=now + timedelta(days=policy.delivery_days))
            )
            if policy.serve_at_once:
                answers += [
                    StartService(**ids, started_at=now),
                    RecordServiceDelivery(
                        **ids, delivery_id=uuid4(), service_id=event.service_id, delivered_at=now
                    ),
                    CompleteReferral(**ids, completed_at=now, outcome=NeedOutcome.MET),
                ]
        else:
            answers.append(RejectReferral(**ids, rejected_at=now, reason=RejectionReason.SERVICE_NOT_OFFERED))
        trace_names = ("traceparent", "tracestate", "ce_traceparent", "ce_tracestate")
        trace = [(k, v) for k, v in header_list if k in trace_names]
        records = []
        for answer in answers:
            record = encode(answer, source=policy.source, time=now)
            records.append(replace(record, headers=record.headers + trace))
        return records
    if isinstance(event, PartnerCommandRefused):
        log.warning("our %s about %s was refused: %s", event.command_type, event.referral_id, event.detail)
        return []
    if isinstance(event, PartnerReferralOverdue):
        log.warning("referral %s is overdue since %s: answer it", event.referral_id, event.due_at)
        return []
    if isinstance(event, PartnerReferralCancelled | CaseClosed):
        log.info("%s for case %s: stop any work on it", event.event_type, event.case_id)
    return []


async def run(
    bootstrap: str, policy: AgencyPolicy, *, topic_prefix: str = ""
) -> None:  # pragma: no cover - needs a broker (tests/test_agency_example.py)
    """Consume, answer, and commit each offset only after its answers are acknowledged.

    ``topic_prefix`` is prepended to every topic read and written and to the consumer group, for a
    deployment whose topics carry one (Reintegra's ``REINTEGRA_TOPIC_PREFIX``); empty by default.
    """
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        *(topic_prefix + t for t in policy.topics()),
        bootstrap_servers=bootstrap,
        group_id=f"{topic_prefix}agency-{policy.agency_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        async for msg in consumer:
            headers = [(k, bytes(v)) for k, v in (msg.headers or ())]
            for out in handle_record(msg.value or b"", headers, policy=policy, now=datetime.now(UTC)):
                await producer.send_and_wait(
                    topic_prefix + out.topic, out.value, key=out.key, headers=out.headers
                )
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - entry point
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Example Reintegra agency consumer.")
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--agency", required=True, help="agency code, e.g. hn-sne")
    parser.add_argument("--categories", default="employment", help="comma-separated service categories")
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic name (default: none)")
    parser.add_argument(
        "--serve-at-once", action="store_true", help="also start, deliver and complete at once"
    )
    args = parser.parse_args(argv)
    policy = AgencyPolicy(
        agency_id=args.agency,
        categories=frozenset(ServiceCategory(c) for c in args.categories.split(",") if c),
        serve_at_once=args.serve_at_once,
    )
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run(args.bootstrap, policy, topic_prefix=args.topic_prefix))


if __name__ == "__main__":  # pragma: no cover
    main()
