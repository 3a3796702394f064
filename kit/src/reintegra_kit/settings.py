"""Service settings, read from ``REINTEGRA_*`` environment variables and validated at start-up."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from reintegra_contracts.topics import DEAD_LETTER_SUFFIX

from .auth.tokens import ASYMMETRIC_ALGORITHMS, split_names

ENV_PREFIX = "REINTEGRA_"
PARTNER_TOPIC_PREFIX = "reintegra.partner."
"""Partner topics and their responses topics (one pair per agency) start with it."""
SECRET_WORDS = ("password", "secret", "encryption_key", "token")
"""A setting whose name holds one of these is a secret: its value is never shown in a message."""


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
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Connections each process keeps to PostgreSQL: a fixed pool, none opened beyond it, "
        "none closed after a peak (ADR 0029).",
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
    topic_retention_ms: int = Field(
        default=2_592_000_000,
        ge=60_000,
        le=31_536_000_000,
        description="retention.ms of the events topics created here (30 days; the log is not an archive: "
        "ADR 0080).",
    )
    dead_letter_retention_ms: int = Field(
        default=2_592_000_000,
        ge=60_000,
        le=31_536_000_000,
        description="retention.ms of the dead-letter topics (<topic>.dlq) created here (30 days: time to fix "
        "and replay).",
    )
    partner_retention_ms: int = Field(
        default=1_209_600_000,
        ge=60_000,
        le=31_536_000_000,
        description="retention.ms of the partner topics and their responses topics created here (14 days).",
    )
    relay_enabled: bool = Field(default=True, description="Whether this process publishes its outbox.")
    relay_interval_s: float = Field(default=0.2, gt=0, le=60, description="Outbox poll interval when idle.")
    relay_batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Outbox rows published per batch."
    )
    relay_linger_ms: int = Field(
        # 0: a relay pass appends all its records before the producer's sender task runs, so they share
        # requests anyway; waiting only delayed every hop (docs/performance.md: ~20 ms at the median
        # over two hops at 10 arrivals/s, and no more CPU under load)
        default=0,
        ge=0,
        le=1000,
        description="How long the relay's producer waits to fill a request (Kafka linger.ms).",
    )
    consumer_batch_size: int = Field(
        default=250,
        ge=1,
        le=10_000,
        description="Records fetched and handled in one transaction (offsets committed after it).",
    )
    consumer_parallel_partitions: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Partitions of a fetched batch handled at once, each in its own transaction (per-case "
        "order holds); PostgreSQL only: on SQLite one at a time.",
    )
    consumer_batch_timeout_ms: int = Field(
        default=100, ge=1, le=60_000, description="Longest wait for records when none are buffered."
    )
    max_event_bytes: int = Field(
        default=262_144,
        ge=1024,
        le=10_485_760,
        description="Largest event (its data, in bytes) a consumer decodes; a larger record is parked at "
        "once, unread (an event of the published language is a few KB).",
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
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How to talk to Kafka: PLAINTEXT, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_username: str = Field(default="", description="Kafka user (SASL); e.g. reintegra-<service>.")
    kafka_password: SecretStr = Field(default=SecretStr(""), description="Password of the Kafka user.")

    auth_issuer: str = Field(
        default="",
        description="OpenID Connect issuer whose tokens are accepted (the tokens' iss), e.g. "
        "https://id.example.org/realms/reintegra.",
    )
    auth_audience: str = Field(default="", description="The audience (aud) tokens must be meant for.")
    auth_jwks_url: str = Field(
        default="", description="The issuer's JWK set; empty: from its /.well-known/openid-configuration."
    )
    auth_leeway_s: float = Field(
        default=30.0, ge=0, le=300, description="Clock skew allowed on exp, nbf and iat (seconds)."
    )
    auth_algorithms: str = Field(
        default="RS256,PS256,ES256",
        description="Signature algorithms accepted (comma-separated; asymmetric only, never none or HS*).",
    )
    auth_policy_file: Path | None = Field(
        default=None, description="Access policy (TOML); unset: the policy shipped with the kit."
    )
    auth_agency_claim: str = Field(default="reintegra_agency", description="Claim with the agency code.")
    auth_country_claim: str = Field(default="reintegra_country", description="Claim with the country.")
    auth_centre_claim: str = Field(default="reintegra_centre", description="Claim with the centre code.")
    auth_roles_claims: str = Field(
        default="roles,realm_access.roles",
        description="Claims holding role lists (comma-separated, dotted paths); roles from all are used.",
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

    @field_validator("auth_issuer", "auth_jwks_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        if not value:
            return value
        url = urlsplit(value)
        if url.scheme not in {"https", "http"} or not url.hostname:
            raise ValueError("must be an https:// URL")
        if url.scheme == "http" and not is_loopback(url.hostname):
            raise ValueError("must be https:// (plain http only on a loopback address)")
        return value

    @field_validator("auth_algorithms")
    @classmethod
    def _asymmetric_algorithms(cls, value: str) -> str:
        names = split_names(value)
        refused = [a for a in names if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not names:
            raise ValueError(
                f"{', '.join(refused) or 'no algorithm'} not allowed; choose among "
                + ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
                + " (none and HS* are never accepted)"
            )
        return value

    @field_validator("auth_policy_file")
    @classmethod
    def _policy_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _coherent_security(self) -> ServiceSettings:
        if self.kafka_security_protocol != "PLAINTEXT" and not (
            self.kafka_username and self.kafka_password.get_secret_value()
        ):
            raise ValueError(
                f"REINTEGRA_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "REINTEGRA_KAFKA_USERNAME and REINTEGRA_KAFKA_PASSWORD"
            )
        if bool(self.auth_issuer) != bool(self.auth_audience):
            raise ValueError("REINTEGRA_AUTH_ISSUER and REINTEGRA_AUTH_AUDIENCE go together: set both")
        return self

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
        options: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap_servers,
            "client_id": client_id,
        }
        if self.kafka_security_protocol != "PLAINTEXT":
            options.update(
                security_protocol=self.kafka_security_protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_username,
                sasl_plain_password=self.kafka_password.get_secret_value(),
            )
            if self.kafka_security_protocol == "SASL_SSL":
                options["ssl_context"] = ssl.create_default_context()
        return options

    def retention_ms(self, logical_topic: str) -> int:
        """The retention.ms a topic of this kind gets when this service creates it (ADR 0080)."""
        if logical_topic.endswith(DEAD_LETTER_SUFFIX):
            return self.dead_letter_retention_ms
        if logical_topic.startswith(PARTNER_TOPIC_PREFIX):
            return self.partner_retention_ms
        return self.topic_retention_ms

    @property
    def event_source(self) -> str:
        """The CloudEvents ``source`` of the events this service publishes."""
        return f"/reintegra/{self.service_name}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Read settings of type ``cls`` from the environment, raising :class:`SettingsError` on bad values."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a rule across variables: its message names them
                problems.append(err["msg"].removeprefix("Value error, "))
                continue
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            value = err.get("input")
            secret = any(word in name.lower() for word in SECRET_WORDS)
            shown = "" if isinstance(value, dict) or secret else f" (got {value!r})"
            problems.append(f"{name}: {err['msg']}{shown}")
        raise SettingsError(problems) from None
