"""Follow-up's tables: the scheduled contacts double as durable timers."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from sqlalchemy import Column, DateTime, Index, String, Table, Uuid

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

followups = Table(
    "followups",
    metadata,
    Column("followup_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("reason", String(30), nullable=False),
    Column("referral_id", Uuid, nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, comment="scheduled | due"),
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=True),
    Column(
        "traceparent",
        String(64),
        nullable=True,
        comment="Trace of the event that scheduled it; followup_due continues that trace",
    ),
    Index("ix_followups_timer", "status", "due_at"),
)
