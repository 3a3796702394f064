"""Reception settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator
from reintegra_kit.settings import ServiceSettings, SettingsError

from .crypto import ReceptionKeys, parse_key
from .domain import MatchPolicy

_GENERATE = (
    "generate one with: python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
)


class ReceptionSettings(ServiceSettings):
    service_name: str = Field(default="reception")
    http_port: int = Field(default=8101, ge=1, le=65535)
    match_auto_link: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Score at or above which a repeat return is linked automatically.",
    )
    match_review: float = Field(
        default=0.85, gt=0, le=1, description="Score at or above which a possible duplicate goes to review."
    )
    match_max_candidates: int = Field(
        default=50, ge=1, le=10_000, description="Known people one blocking key may find (bounds a lookup)."
    )
    manifest_max_rows: int = Field(
        default=5_000, ge=1, le=100_000, description="Lines accepted in one manifest request."
    )

    key_encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key-encryption key (KEK) that wraps each person's data key: base64 of 32 random "
        "bytes. Required to serve; a secret (Kubernetes Secret or KMS), never in a plain value.",
    )
    previous_key_encryption_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Earlier KEKs still accepted to unwrap data keys during a rotation (comma-separated "
        "base64); empty once `keys rotate` has re-wrapped every data key.",
    )
    blind_index_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Secret of the blind indexes (HMAC) identity matching looks people up by: base64 of "
        "32 random bytes. Required to serve; a secret; changing it means re-indexing everybody.",
    )
    override_max_validity: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        le=timedelta(days=90),
        description="Longest validity of a vital-interest override (ISO 8601 duration, e.g. P7D or PT72H).",
    )
    retention_years: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Years after a case's closure (or its last activity) after which the retention job "
        "erases the person (when every case of theirs is that old).",
    )

    @field_validator("key_encryption_key", "blind_index_secret")
    @classmethod
    def _a_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value().strip():
            parse_key(value.get_secret_value(), "the value")
        return value

    @field_validator("previous_key_encryption_keys")
    @classmethod
    def _previous_keys(cls, value: SecretStr) -> SecretStr:
        for i, part in enumerate(p for p in value.get_secret_value().split(",") if p.strip()):
            parse_key(part, f"key {i + 1} of the list")
        return value

    def missing_keys(self) -> list[str]:
        """The required secrets that are not set (the service does not serve without them)."""
        return [
            f"REINTEGRA_{name.upper()}: required to serve (personal data is sealed with it): base64 of 32 "
            f"random bytes, kept as a secret; {_GENERATE}"
            for name in ("key_encryption_key", "blind_index_secret")
            if not getattr(self, name).get_secret_value().strip()
        ]

    @property
    def keys(self) -> ReceptionKeys:
        """The KEKs and the blind-index secret, parsed; :class:`SettingsError` naming what is missing."""
        missing = self.missing_keys()
        if missing:
            raise SettingsError(missing)
        return ReceptionKeys.from_text(
            self.key_encryption_key.get_secret_value(),
            self.blind_index_secret.get_secret_value(),
            self.previous_key_encryption_keys.get_secret_value(),
        )

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> ReceptionSettings:
        if self.match_review > self.match_auto_link:
            raise ValueError("match_review must not be above match_auto_link")
        return self

    @property
    def match_policy(self) -> MatchPolicy:
        return MatchPolicy(self.match_auto_link, self.match_review, self.match_max_candidates)
