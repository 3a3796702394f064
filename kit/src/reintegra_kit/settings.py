"""Service settings, read from ``REINTEGRA_*`` environment variables and validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "REINTEGRA_"


class SettingsError(Exception):
    """One or more settings are invalid; the message names each variable and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


class ServiceSettings(BaseSettings):
    """Settings every service shares. Each field is read from ``REINTEGRA_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    service_name: str = Field(
        default="reintegra", description="Name of the service (logs, traces, ce_source)."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file under REINTEGRA_DATA_DIR.",
    )
    data_dir: Path = Field(default=Path(".local/data"), description="Folder for the embedded SQLite files.")
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    consumer_group: str = Field(default="", description="Consumer group; empty means reintegra-<service>.")
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    http_port: int = Field(default=8080, ge=1, le=65535, description="Port the HTTP API listens on.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP endpoint for traces (e.g. http://collector:4318); unset: no export.",
    )
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix of every physical topic name (isolates environments sharing one cluster).",
    )
    create_topics: bool = Field(
        default=True,
        description="Create the topics this service uses at start-up (off where an operator does).",
    )
    topic_partitions: int = Field(default=3, ge=1, le=1000, description="Partitions of topics created here.")
    topic_replication_factor: int = Field(
        default=1, ge=1, le=10, description="Replication of topics created here."
    )
    relay_enabled: bool = Field(default=True, description="Whether this process publishes its outbox.")
    relay_interval_s: float = Field(default=0.2, gt=0, le=60, description="Outbox poll interval when idle.")
    relay_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Outbox rows published per batch."
    )
    consumer_batch_size: int = Field(
        default=250,
        ge=1,
        le=10_000,
        description="Records fetched and handled in one transaction (offsets committed after it).",
    )
    consumer_batch_timeout_ms: int = Field(
        default=100, ge=1, le=60_000, description="Longest wait for records when none are buffered."
    )
    handler_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts of a failing handler before its message is parked."
    )
    retry_backoff_s: float = Field(
        default=0.2, ge=0, le=60, description="First retry delay; doubles each time."
    )
    infrastructure_retry_s: float = Field(
        default=2.0,
        gt=0,
        le=300,
        description="Pause before redelivering a message after a database/broker outage.",
    )
    timer_enabled: bool = Field(default=True, description="Whether this process fires due durable timers.")
    timer_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="How often due durable timers are looked for."
    )
    timer_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="Durable timers fired per transaction."
    )
    shutdown_grace_s: float = Field(
        default=10.0, gt=0, le=300, description="Time allowed for a graceful stop."
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server.strip()!r} is not host:port")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file of this service."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').as_posix()}"

    @property
    def effective_consumer_group(self) -> str:
        """The consumer group, defaulting to ``reintegra-<service>``."""
        return self.consumer_group or f"reintegra-{self.service_name}"

    def kafka_client_options(self, *, client_id: str) -> dict[str, object]:
        """Options every aiokafka client of this service takes (bootstrap servers, identity, security)."""
        return {"bootstrap_servers": self.kafka_bootstrap_servers, "client_id": client_id}

    @property
    def event_source(self) -> str:
        """The CloudEvents ``source`` of the events this service publishes."""
        return f"/reintegra/{self.service_name}"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Read settings of type ``cls`` from the environment, raising :class:`SettingsError` on bad values."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError(problems) from None
