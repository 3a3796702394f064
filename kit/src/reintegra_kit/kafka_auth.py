"""How a service authenticates to Kafka, for FastStream's broker: the SASL settings
(``REINTEGRA_KAFKA_SECURITY_PROTOCOL``, ``…_SASL_MECHANISM``, ``…_USERNAME``, ``…_PASSWORD``) as one
security object. Plain aiokafka clients take them from ``ServiceSettings.kafka_client_options``."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from .settings import ServiceSettings

_SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
SECURITY_OPTIONS = (
    "security_protocol",
    "sasl_mechanism",
    "sasl_plain_username",
    "sasl_plain_password",
    "ssl_context",
)
"""The aiokafka options that FastStream's broker takes as one ``security`` object instead."""


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


def without_security(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the security ones (given to the broker as :func:`broker_security`)."""
    return {k: v for k, v in options.items() if k not in SECURITY_OPTIONS}
