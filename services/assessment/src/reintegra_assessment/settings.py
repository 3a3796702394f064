"""Assessment settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from reintegra_kit.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = Field(default="assessment")
    http_port: int = Field(default=8102, ge=1, le=65535)
