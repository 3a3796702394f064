"""Reception settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from reintegra_kit.settings import ServiceSettings


class ReceptionSettings(ServiceSettings):
    service_name: str = Field(default="reception")
    http_port: int = Field(default=8101, ge=1, le=65535)
