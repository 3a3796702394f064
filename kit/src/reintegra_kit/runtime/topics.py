"""The topics part of the runtime: which physical topics a service uses, and creating the missing ones.

Each topic is created with a deliberate retention by kind (events, dead letters, partner; settings
``REINTEGRA_TOPIC_RETENTION_MS``, ``_DEAD_LETTER_RETENTION_MS``, ``_PARTNER_RETENTION_MS``); topics that
already exist are left as they are (an operator changes them). Topics come from the service's registry entry (what it produces and consumes, plus a dead-letter topic
per consumed topic) and, for families such as the per-agency partner topics, from data declared at
start-up (:meth:`TopicAdmin.declare`) or later (:meth:`TopicAdmin.ensure`, e.g. when the directory
gains an agency).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ..logging import get_logger
from ..settings import ServiceSettings

log = get_logger(__name__)


class TopicAdmin:
    """Knows the physical names of the topics a service uses and creates the missing ones."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._wanted: set[str] = set()

    def physical(self, logical: str) -> str:
        """The physical name of a catalogue topic (``REINTEGRA_TOPIC_PREFIX`` + name)."""
        return self._settings.topic_prefix + logical

    def declare(self, logical: Iterable[str]) -> None:
        """Add catalogue topics this service uses (created at start-up if missing)."""
        self._wanted.update(self.physical(t) for t in logical)

    @property
    def wanted(self) -> set[str]:
        return set(self._wanted)

    async def create_missing(self) -> list[str]:
        """Create every declared topic the broker does not have; return those created."""
        if not self._settings.create_topics:
            return []
        return await self._create(self._wanted)

    async def ensure(self, logical: Iterable[str]) -> list[str]:
        """Declare topics while running and create those that are missing now."""
        names = {self.physical(t) for t in logical}
        self._wanted.update(names)
        if not self._settings.create_topics:
            return []
        return await self._create(names)

    def configs(self, physical: str) -> dict[str, str]:
        """The topic configuration a new topic gets: its retention, by kind (events, dead letters,
        partner) — the log keeps pseudonymous data only as long as it must (ADR 0080)."""
        logical = physical.removeprefix(self._settings.topic_prefix)
        return {"retention.ms": str(self._settings.retention_ms(logical))}

    async def _create(self, names: set[str]) -> list[str]:
        s = self._settings
        admin = AIOKafkaAdminClient(**s.kafka_client_options(client_id=f"reintegra-{s.service_name}-admin"))
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = sorted(names - existing)
            if missing:
                new = [
                    NewTopic(t, s.topic_partitions, s.topic_replication_factor, topic_configs=self.configs(t))
                    for t in missing
                ]
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(new)
                log.info("runtime.topics_created", topics=missing)
            return missing
        finally:
            await admin.close()
