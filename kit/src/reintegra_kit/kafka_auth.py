"""How a service authenticates to Kafka: ``REINTEGRA_KAFKA_SECURITY_PROTOCOL`` and the SASL settings,
for FastStream's broker and for plain aiokafka clients (admin, dead-letter tools)."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from .settings import ServiceSettings

_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol; ``None`` for PLAINTEXT."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    tls = settings.kafka_security_protocol == "SASL_SSL"
    return _SASL[settings.kafka_sasl_mechanism](
        settings.kafka_username,
        settings.kafka_password.get_secret_value(),
        ssl_context=ssl.create_default_context() if tls else None,
        use_ssl=tls,
    )


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka clients (``AIOKafkaAdminClient``, producers, consumers)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": settings.kafka_password.get_secret_value(),
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        options["ssl_context"] = ssl.create_default_context()
    return options
