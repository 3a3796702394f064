"""Consuming events: decode, deduplicate, handle, and retry-then-park.

Policy (see docs/adr/0004-ack-retry-park.md):

* a message that is not a valid event of the published language (missing CloudEvents headers,
  unknown type, bad data) is parked at once on ``<topic>.dlq`` — retrying cannot fix it;
* a handler that raises is retried ``handler_attempts`` times with exponential back-off, then the
  message is parked with the last error;
* an outage of the database or the broker is not the message's fault: the message is redelivered
  (the offset is not committed) after a pause, however long the outage lasts;
* a record whose Kafka key is not its case id is parked at once: per-case order depends on the key;
* a record larger than ``max_event_bytes`` (256 KiB by default; an event is a few KB) is parked at
  once without being decoded, and its dead letter points at it instead of copying it;
* a handler that raises a :class:`~reintegra_kit.domain.DomainError` *refuses* the message: its effects
  roll back, the refusal is recorded once in the inbox with the reason (and answered by the service's
  refusal handler, if it has one), and the message is neither retried nor parked;
* events of the published language that this service does not handle are skipped;
* the offset is committed only after the handler's transaction (effects + inbox row) committed, or
  after the message was parked (the broker acknowledged its dead letter) or its refusal recorded.

Parking is cheap: the dead letters of a batch are all sent without waiting for each acknowledgement
(in offset order, while the batch's good records are handled) and awaited together before the batch
returns; if one is not acknowledged, the whole batch is redelivered (a record parked twice is a
duplicate dead letter, which a replay deduplicates by event id).
"""

from __future__ import annotations

import asyncio
import enum
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeAlias, TypeVar
from uuid import UUID

from opentelemetry import trace
from reintegra_contracts import (
    ContractError,
    DecodedEvent,
    Event,
    decode_data,
    event_class,
    headers_to_attributes,
)
from reintegra_contracts.topics import dead_letter_topic

from .domain import DomainError
from .errors import is_infrastructure_error
from .inbox import Inbox
from .logging import bound, get_logger
from .telemetry import TRACER_NAME, context_from_headers
from .uow import UnitOfWork

log = get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[[Any, U], Awaitable[Any]]
"""A bound handler ``await handler(event, uow)`` (see :mod:`reintegra_kit.handlers`); the consumer commits."""

RefusalHandler = Callable[[Any, DomainError, U], Awaitable[Any]]
"""``await on_refused(message, error, uow)``: answer a refused message (e.g. tell the sending agency),
in the transaction that records the refusal."""


class Record(Protocol):
    """What the consumer needs of a Kafka record (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Outcome(enum.Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    PARKED = "parked"
    REFUSED = "refused"


OutcomeObserver = Callable[["Record", str | None, Outcome, float], None]
"""Called after each record with (record, event type or None, outcome, seconds spent): metrics."""


_CURRENT_RECORD: ContextVar[Record | None] = ContextVar("reintegra_current_record", default=None)


@contextmanager
def _current(record: Record) -> Iterator[None]:
    token = _CURRENT_RECORD.set(record)
    try:
        yield
    finally:
        _CURRENT_RECORD.reset(token)


def current_record() -> Record | None:
    """The Kafka record whose handlers (or refusal handler) are running, else ``None``.

    Handlers take the message, not the record; a handler that must know where a message came from —
    e.g. which agency's own topic carried a command, the only thing an agency cannot forge — reads it
    here.
    """
    return _CURRENT_RECORD.get()


class RedeliverError(Exception):
    """Raised to leave the offset uncommitted so the broker redelivers the message."""


PublishRaw = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable[Any]]
"""``publish(topic, key, value, headers)``, awaited until the broker acknowledged it."""

SendRaw = Callable[[str, bytes | None, bytes, dict[str, str]], Awaitable["asyncio.Future[Any]"]]
"""``ack = await send(topic, key, value, headers)``: returns once the record is queued (records are sent
in call order), with the future of the broker's acknowledgement."""


class _Parking:
    """The dead letters of one batch: sent as they are decided, acknowledged together."""

    def __init__(self) -> None:
        self.acks: list[asyncio.Future[Any]] = []

    def add(self, ack: asyncio.Future[Any]) -> None:
        ack.add_done_callback(_retrieve)  # an abandoned batch must not log "exception never retrieved"
        self.acks.append(ack)

    async def settle(self) -> None:
        """Wait until the broker acknowledged every dead letter; raise the first failure."""
        if self.acks:
            await asyncio.gather(*self.acks)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


_Ready: TypeAlias = tuple[int, Record, DecodedEvent, Sequence[Handler[U]]]
"""A record to handle: its place in the batch, the record, its event and the handlers of its type."""

VALUE_OMITTED_HEADER = "reintegra_dlq_value_omitted"
"""On a dead letter without the record's value: the value's size in bytes (the record itself is on its
original topic, at the partition and offset the dead letter names)."""


@dataclass(frozen=True)
class ConsumerPolicy:
    attempts: int = 3
    backoff_s: float = 0.2
    infrastructure_pause_s: float = 2.0
    # Larger records are parked unread: decoding a ~1 MB value only to refuse it cost ~25 ms of CPU
    # per consumer group, and a flood of them starved the good events behind them.
    max_event_bytes: int = 262_144
    # A batch's partitions handled at once, each in its own transaction (per-case order holds: a case's
    # events share a partition). Waiting on the database is then shared, not summed. 1 on SQLite,
    # which has one connection per process.
    parallel_partitions: int = 1


class EventConsumer(Generic[U]):
    """Dispatches the events of one consumer group to their handlers, effectively once."""

    def __init__(
        self,
        *,
        group: str,
        uow_factory: Callable[[], U],
        inbox: Inbox,
        handlers: Mapping[type[Event], Sequence[Handler[U]]],
        publish_raw: PublishRaw,
        send_raw: SendRaw | None = None,
        policy: ConsumerPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        refusal_handlers: Mapping[type[Event], RefusalHandler[U]] | None = None,
        observe: OutcomeObserver | None = None,
    ) -> None:
        self.group = group
        self._uow_factory = uow_factory
        self._inbox = inbox
        self._handlers = {cls.event_type: list(hs) for cls, hs in handlers.items()}
        self._on_refused = {cls.event_type: h for cls, h in (refusal_handlers or {}).items()}
        self._publish_raw = publish_raw
        self._send_raw = send_raw
        self._policy = policy or ConsumerPolicy()
        self._sleep = sleep
        self._observe = observe
        self._tracer = trace.get_tracer(TRACER_NAME)

    @property
    def handled_types(self) -> list[str]:
        return sorted(self._handlers)

    async def process(self, record: Record) -> Outcome:
        """Process one record; raise :class:`RedeliverError` if it must be delivered again."""
        [outcome] = await self.process_batch([record])
        return outcome

    async def process_batch(self, records: Sequence[Record]) -> list[Outcome]:
        """Process records as fetched (in offset order per partition) in ONE transaction — inbox claims,
        effects and emitted events — then return their outcomes; the caller commits the offsets.

        Records that cannot be events are parked first, at once and never retried: their dead
        letters are sent without waiting, and acknowledged together before this returns (so the
        caller commits no offset of an unacknowledged dead letter). When anything in the batch fails,
        the transaction rolls back and the records are processed one by one (each retried, refused or
        parked alone, in order), so one bad message costs its batch's speed, never its correctness.
        Raises :class:`RedeliverError` on an outage, or when a dead letter was not acknowledged: the
        whole batch comes again.
        """
        started = time.perf_counter()
        parking = _Parking()
        final = await self._process_batch(records, parking)
        try:
            await parking.settle()
        except Exception as exc:
            log.warning("consumer.parking_failed", records=len(parking.acks), error=repr(exc))
            await self._sleep(self._policy.infrastructure_pause_s)
            raise RedeliverError(f"dead letters not acknowledged: {exc!r}") from exc
        if self._observe is not None:
            share = (time.perf_counter() - started) / max(len(records), 1)
            for record, (event_type, outcome) in zip(records, final, strict=True):
                self._observe(record, event_type, outcome, share)
        return [outcome for _, outcome in final]

    async def _process_batch(
        self, records: Sequence[Record], parking: _Parking
    ) -> list[tuple[str | None, Outcome]]:
        outcomes: list[Outcome | None] = [None] * len(records)
        types: list[str | None] = [None] * len(records)
        ready: list[_Ready[U]] = []
        for i, record in enumerate(records):
            event_type, classified = await self._classify(record, parking)
            types[i] = event_type
            if isinstance(classified, Outcome):
                outcomes[i] = classified
            else:
                ready.append((i, record, classified[0], classified[1]))
        parts = self._partitions(ready)
        if len(parts) > 1:
            gate = asyncio.Semaphore(self._policy.parallel_partitions)

            async def handle(part: list[_Ready[U]]) -> list[Outcome]:
                async with gate:
                    return await self._handle_part(part, parking)

            results = await asyncio.gather(*(handle(p) for p in parts), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:  # a redelivery (outage): the whole batch comes again, the parts done are duplicates
                raise next((e for e in failed if isinstance(e, RedeliverError)), failed[0])
            handled_parts = [r for r in results if not isinstance(r, BaseException)]
        else:
            handled_parts = [await self._handle_part(p, parking) for p in parts]
        for part, handled in zip(parts, handled_parts, strict=True):
            for (i, *_), outcome in zip(part, handled, strict=True):
                outcomes[i] = outcome
        return [(t, o if o is not None else Outcome.PARKED) for t, o in zip(types, outcomes, strict=True)]

    def _partitions(self, ready: list[_Ready[U]]) -> list[list[_Ready[U]]]:
        """``ready`` as the parts handled in one transaction each: all of it, or per partition —
        partitions that share a case in this batch (its events on two topics) make one part, so that
        two parts never wait for each other's lock on a case (a deadlock); batch order within a part."""
        if not ready:
            return []
        if self._policy.parallel_partitions <= 1:
            return [ready]
        parent: dict[tuple[str, int], tuple[str, int]] = {}

        def root(key: tuple[str, int]) -> tuple[str, int]:
            while parent[key] != key:
                parent[key] = parent[parent[key]]
                key = parent[key]
            return key

        first_of_case: dict[str, tuple[str, int]] = {}
        for _, record, decoded, _ in ready:
            key = (record.topic, record.partition)
            parent.setdefault(key, key)
            case = decoded.attributes.subject
            if case:
                other = first_of_case.setdefault(case, key)
                parent[root(key)] = root(other)
        parts: dict[tuple[str, int], list[_Ready[U]]] = {}
        for item in ready:
            parts.setdefault(root((item[1].topic, item[1].partition)), []).append(item)
        return list(parts.values())

    async def _handle_part(self, ready: Sequence[_Ready[U]], parking: _Parking) -> list[Outcome]:
        """Records of a batch in one transaction; one by one when something in it fails."""
        if len(ready) == 1:
            return await self._one_by_one(ready, parking)
        try:
            return await self._handle_batch(ready)
        except DomainError:
            return await self._one_by_one(ready, parking)
        except Exception as exc:
            if is_infrastructure_error(exc):
                log.warning("consumer.infrastructure_error", error=repr(exc))
                await self._sleep(self._policy.infrastructure_pause_s)
                raise RedeliverError(repr(exc)) from exc
            log.info("consumer.batch_fallback", records=len(ready), error=repr(exc)[:300])
            return await self._one_by_one(ready, parking)

    async def _classify(
        self, record: Record, parking: _Parking
    ) -> tuple[str | None, Outcome | tuple[DecodedEvent, Sequence[Handler[U]]]]:
        """Decide what a record is: parked or skipped at once, or an event to handle."""
        try:
            attributes = headers_to_attributes(record.headers)
        except ContractError as exc:
            return None, await self._park(record, exc, parking, attempts=0)
        with bound(event_id=attributes.id, event_type=attributes.type, case_id=attributes.subject):
            handlers = self._handlers.get(attributes.type)
            if handlers is None:
                if event_class(attributes.type) is not None:
                    return attributes.type, Outcome.SKIPPED  # a known event this service ignores
                reason = f"unknown event type {attributes.type!r}"
                return attributes.type, await self._park(record, None, parking, attempts=0, reason=reason)
            key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
            if key != attributes.subject:
                reason = (
                    f"the record key {key!r} is not the event's case id (ce_subject "
                    f"{attributes.subject!r}); per-case order depends on the key"
                )
                return attributes.type, await self._park(record, None, parking, attempts=0, reason=reason)
            size = len(record.value or b"")
            if size > self._policy.max_event_bytes:
                reason = (
                    f"event of {size} bytes is larger than the {self._policy.max_event_bytes} bytes a "
                    "consumer reads (max_event_bytes); not decoded nor copied here: the record is on "
                    f"{record.topic} partition {record.partition} offset {record.offset}"
                )
                outcome = await self._park(record, None, parking, attempts=0, reason=reason, value=False)
                return attributes.type, outcome
            try:
                decoded = decode_data(attributes, record.value or b"")
            except ContractError as exc:
                return attributes.type, await self._park(record, exc, parking, attempts=0)
            return attributes.type, (decoded, handlers)

    async def _handle_batch(
        self, ready: Sequence[tuple[int, Record, DecodedEvent, Sequence[Handler[U]]]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        uow = self._uow_factory()
        async with uow:
            # every inbox claim of the batch in one statement; a record whose event was processed
            # before (or earlier in this batch) is a duplicate
            claimed = await self._inbox.claim_many(
                uow.session,
                [(d.attributes.id, d.attributes.type, record.topic) for _, record, d, _ in ready],
            )
            fresh = [d for _, _, d, _ in ready if d.attributes.id in claimed]
            await uow.prepare_cases(_case_ids(d.attributes.subject for d in fresh))
            await uow.prepare_events([d.event for d in fresh])
            for _, record, decoded, handlers in ready:
                first = decoded.attributes.id in claimed
                claimed.discard(decoded.attributes.id)
                outcomes.append(await self._run_handlers(uow, record, decoded, handlers, claimed=first))
            await uow.commit()
        return outcomes

    async def _one_by_one(
        self,
        ready: Sequence[tuple[int, Record, DecodedEvent, Sequence[Handler[U]]]],
        parking: _Parking,
    ) -> list[Outcome]:
        return [
            await self._handle_with_retries(record, decoded, handlers, parking)
            for _, record, decoded, handlers in ready
        ]

    async def _handle_with_retries(
        self, record: Record, decoded: DecodedEvent, handlers: Sequence[Handler[U]], parking: _Parking
    ) -> Outcome:
        last: BaseException | None = None
        for attempt in range(1, self._policy.attempts + 1):
            try:
                return await self._handle_once(record, decoded, handlers)
            except DomainError as refusal:
                return await self._refuse(record, decoded, refusal)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    log.warning("consumer.infrastructure_error", error=repr(exc))
                    await self._sleep(self._policy.infrastructure_pause_s)
                    raise RedeliverError(repr(exc)) from exc
                last = exc
                log.warning("consumer.handler_failed", attempt=attempt, error=repr(exc))
                if attempt < self._policy.attempts:
                    await self._sleep(self._policy.backoff_s * 2 ** (attempt - 1))
        return await self._park(record, last, parking, attempts=self._policy.attempts)

    async def _handle_once(
        self, record: Record, decoded: DecodedEvent, handlers: Sequence[Handler[U]]
    ) -> Outcome:
        uow = self._uow_factory()
        async with uow:
            outcome = await self._run_handlers(uow, record, decoded, handlers)
            await uow.commit()
        return outcome

    async def _run_handlers(
        self,
        uow: U,
        record: Record,
        decoded: DecodedEvent,
        handlers: Sequence[Handler[U]],
        *,
        claimed: bool | None = None,
    ) -> Outcome:
        """Claim the event in the inbox (unless the batch did: ``claimed``) and run its handlers, inside
        ``uow``'s transaction and the event's own trace (a ``process <topic>`` consumer span whose
        parent is the producer's)."""
        attributes = decoded.attributes
        with (
            _current(record),
            bound(event_id=attributes.id, event_type=attributes.type, case_id=attributes.subject),
            self._tracer.start_as_current_span(
                f"process {record.topic}",
                context=context_from_headers(record.headers),
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.operation.name": "process",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.consumer.group.name": self.group,
                    "messaging.message.id": attributes.id,
                    "messaging.kafka.message.key": _header_text(record.key),
                    "messaging.kafka.offset": record.offset,
                    "cloudevents.event_type": attributes.type,
                    "reintegra.case_id": attributes.subject or "",
                },
            ),
        ):
            if claimed is None:
                claimed = await self._inbox.claim(uow.session, attributes.id, attributes.type, record.topic)
            if not claimed:
                log.debug("consumer.duplicate_skipped")
                return Outcome.DUPLICATE
            follow = decoded.event.kind == "command"  # an agency's answer starts in a trace of its own
            with uow.handler_scope(), uow.trace_scope(attributes.type, follow=follow):
                for handler in handlers:
                    await handler(decoded.event, uow)
        log.debug("consumer.processed")
        return Outcome.PROCESSED

    async def _refuse(self, record: Record, decoded: DecodedEvent, refusal: DomainError) -> Outcome:
        """Record the refusal once (a redelivery is then a duplicate) and answer it, in one transaction."""
        attributes = decoded.attributes
        uow = self._uow_factory()
        async with uow:
            claimed = await self._inbox.claim(
                uow.session, attributes.id, attributes.type, record.topic, refused=str(refusal)
            )
            if not claimed:
                return Outcome.DUPLICATE
            answer = self._on_refused.get(attributes.type)
            if answer is not None:
                with _current(record), uow.handler_scope():
                    await answer(decoded.event, refusal, uow)
            await uow.commit()
        log.warning("consumer.refused", reason=str(refusal)[:500], code=refusal.code)
        return Outcome.REFUSED

    async def _park(
        self,
        record: Record,
        error: BaseException | None,
        parking: _Parking,
        *,
        attempts: int,
        reason: str | None = None,
        value: bool = True,
    ) -> Outcome:
        """Send the record's dead letter (acknowledged with the rest of the batch's: ``parking``).

        Without its ``value`` (an oversized record): the dead letter says where the record is — its
        topic, partition and offset, where it stays for the topic's retention — instead of copying it
        once per consumer group (a claim check), so that a flood of large records is not multiplied.
        """
        reason = reason or (str(error) if error is not None else "unprocessable message")
        headers = {name: _header_text(value) for name, value in record.headers}
        headers.update(
            {
                "reintegra_dlq_reason": reason[:4000],
                "reintegra_dlq_error_type": type(error).__name__ if error is not None else "UnknownEventType",
                "reintegra_dlq_original_topic": record.topic,
                "reintegra_dlq_original_partition": str(record.partition),
                "reintegra_dlq_original_offset": str(record.offset),
                "reintegra_dlq_consumer_group": self.group,
                "reintegra_dlq_attempts": str(attempts),
            }
        )
        if error is not None and attempts:
            stack = "".join(traceback.format_exception(error, limit=-5))
            headers["reintegra_dlq_stacktrace"] = stack[-4000:]
        body = record.value or b""
        if not value:
            headers[VALUE_OMITTED_HEADER] = str(len(body))
            body = b""
        topic = dead_letter_topic(record.topic)
        if self._send_raw is not None:
            parking.add(await self._send_raw(topic, record.key, body, headers))
        else:  # a publisher that waits for each acknowledgement (tests, tools)
            await self._publish_raw(topic, record.key, body, headers)
        log.error(
            "consumer.parked",
            reason=reason[:500],
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return Outcome.PARKED


def _header_text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.decode("utf-8", errors="replace")


def _case_ids(subjects: Iterable[str | None]) -> list[UUID]:
    """The case ids among events' subjects (``ce_subject``), in order; a subject that is not one is
    left out (its handler locks and reads what it needs itself)."""
    ids = []
    for subject in subjects:
        if not subject:
            continue
        try:
            ids.append(UUID(subject))
        except ValueError:
            continue
    return ids
