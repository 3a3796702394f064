"""Reception's tables. Personal data lives only here, in ``returnees``."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Table, Text, Uuid, text

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

returnees = Table(
    "returnees",
    metadata,
    Column("returnee_id", Uuid, primary_key=True),
    Column("given_names", String(200), nullable=False),
    Column("family_names", String(200), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("document_number", String(100), nullable=True),
    Column("phone", String(50), nullable=True),
    Column("sex", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

travel_groups = Table(
    "travel_groups",
    metadata,
    Column("family_group_ref", String(100), primary_key=True),
    Column("travel_group_id", Uuid, nullable=False, unique=True),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("returnee_id", Uuid, ForeignKey("returnees.returnee_id"), nullable=False),
    Column("manifest_ref", String(100), nullable=True, unique=True),
    Column("travel_group_id", Uuid, nullable=True),
    Column("arrived_at", DateTime(timezone=True), nullable=False),
    Column("port_of_entry", String(50), nullable=False),
    Column("reception_centre", String(50), nullable=False),
    Column("destination_municipality", String(50), nullable=False),
    Column("age", Integer, nullable=False),
    Column("return_type", String(30), nullable=False),
    Column("transport_mode", String(20), nullable=False),
    Column("vulnerabilities", Text, nullable=False, comment="JSON list of vulnerability codes"),
    Column("immediate_needs", Text, nullable=False, comment="JSON list of service categories"),
    Column("is_repeat_return", Boolean, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

manifest_lines = Table(
    "manifest_lines",
    metadata,
    Column("manifest_ref", String(100), primary_key=True, comment="A line of a flight or bus manifest"),
    Column("case_id", Uuid, nullable=False, comment="The case registered for it"),
)
