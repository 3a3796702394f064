"""Follow-up settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from reintegra_kit.settings import ServiceSettings


class FollowupSettings(ServiceSettings):
    service_name: str = Field(default="followup")
    http_port: int = Field(default=8104, ge=1, le=65535)
    first_followup_after: timedelta = Field(
        default=timedelta(days=90),
        description="Delay from arrival to the first follow-up (ISO 8601 duration, e.g. P90D or PT5S); "
        "the national plan asks for monitoring every 3 months.",
    )
    referral_check_after: timedelta = Field(
        default=timedelta(days=14), description="Delay from a referral to the check that it was answered."
    )
