"""Follow-up's tables (its durable timers are in the kit's ``timers`` table)."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from sqlalchemy import Column, DateTime, Integer, String, Table, Uuid, text

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

followups = Table(
    "followups",
    metadata,
    Column("followup_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("reason", String(30), nullable=False),
    Column("referral_id", Uuid, nullable=True),
    Column(
        "business_key",
        String(80),
        nullable=False,
        unique=True,
        comment="post_arrival:<case> | referral_check:<referral>: one follow-up per cause",
    ),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, comment="scheduled | due"),
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)
