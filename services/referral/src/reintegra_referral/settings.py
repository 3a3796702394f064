"""Referral settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from reintegra_kit.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    service_name: str = Field(default="referral")
    http_port: int = Field(default=8103, ge=1, le=65535)
    directory_file: Path | None = Field(
        default=None,
        description="JSON service directory to seed; unset: the sample shipped with the service.",
    )
