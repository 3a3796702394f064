"""Reception settings (``REINTEGRA_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field, model_validator
from reintegra_kit.settings import ServiceSettings

from .domain import MatchPolicy


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

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> ReceptionSettings:
        if self.match_review > self.match_auto_link:
            raise ValueError("match_review must not be above match_auto_link")
        return self

    @property
    def match_policy(self) -> MatchPolicy:
        return MatchPolicy(self.match_auto_link, self.match_review, self.match_max_candidates)
