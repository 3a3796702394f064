"""Referral settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from reintegra_kit.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    service_name: str = Field(default="referral")
    http_port: int = Field(default=8103, ge=1, le=65535)
    directory_file: Path | None = Field(
        default=None,
        description="JSON service directory seeded at the first start; unset: the shipped samples (HN, GT, SV, MX).",
    )
    reroute_grace: timedelta = Field(
        default=timedelta(hours=4),
        description="Time between an overdue referral's escalation and its re-routing to the next candidate.",
    )
    max_reroutes: int = Field(
        default=2,
        ge=0,
        le=20,
        description="How often a need may go to the next candidate before it is unmatched.",
    )
    webhook_interval_s: float = Field(
        default=1.0, gt=0, le=600, description="How often due webhooks are looked for."
    )
    webhook_retry_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="First delay before a failed webhook is tried again; doubles each time.",
    )
    webhook_retry_max_s: float = Field(
        default=900.0, gt=0, le=86400, description="Longest delay between two attempts of one webhook."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Time allowed for one webhook call."
    )
    sharing_policy: Literal["consent", "share_all"] = Field(
        default="consent",
        description="consent: a referral reaches its agency only under a recorded consent (or vital-interest "
        "override) covering the agency and purpose; share_all: consent is not checked — never in production, "
        "only to try referral without a reception recording consent.",
    )
    contact_reference_ttl: timedelta = Field(
        default=timedelta(days=30),
        description="How long the contact reference of a shared referral stays valid (ISO 8601 duration).",
    )

    @field_validator("contact_reference_ttl")
    @classmethod
    def _ttl_in_range(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=365):
            raise ValueError("must be between PT1M and P365D")
        return value
