"""Referral's tables."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, UniqueConstraint, Uuid, text

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

directory_services = Table(
    "directory_services",
    metadata,
    Column("service_id", String(50), primary_key=True),
    Column("agency_id", String(50), nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", String(50), nullable=False, index=True),
    Column("level", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("municipalities", Text, nullable=False, comment="JSON list; empty = the whole country"),
    Column("response_time_hours", Integer, nullable=False),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("assessment_id", Uuid, nullable=False),
    Column("need_id", Uuid, nullable=False),
    Column("category", String(50), nullable=False),
    Column("dimension", String(20), nullable=False),
    Column("level", String(20), nullable=False),
    Column("priority", String(20), nullable=False),
    Column(
        "status", String(20), nullable=False, comment="requested | unmatched (no service in the directory)"
    ),
    Column("service_id", String(50), nullable=True),
    Column("agency_id", String(50), nullable=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
    UniqueConstraint("need_id", name="uq_referrals_need_id"),
)
