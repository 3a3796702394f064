"""Assessment's tables."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from reintegra_kit.erasure import define_erased_cases
from sqlalchemy import Column, DateTime, Integer, String, Table, Text, Uuid, text

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, unique=True, index=True),
    Column("status", String(20), nullable=False, comment="scheduled | completed | merged | erased"),
    Column("priority", String(20), nullable=False),
    Column("scheduled_for", DateTime(timezone=True), nullable=False),
    Column("arrived_at", DateTime(timezone=True), nullable=False),
    Column("age", Integer, nullable=True, comment="Exact age at arrival; null once the person is erased"),
    Column("destination_municipality", String(50), nullable=False),
    Column("vulnerabilities", Text, nullable=False, comment="JSON list"),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("instrument", String(100), nullable=True),
    Column("instrument_version", String(50), nullable=True),
    Column("scores", Text, nullable=True, comment="JSON object of dimension scores"),
    Column("needs", Text, nullable=True, comment="JSON list of needs"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
    Column("reception_centre", String(50), nullable=True, index=True, comment="Whose record (access)"),
    Column("country", String(2), nullable=True, index=True, comment="Country of return (access)"),
)

# Reception destroyed the person's data key; assessment keeps that the case was erased, so that a
# re-sent arrival about it schedules no new assessment (which would hold the person's age again).
erased_cases = define_erased_cases(
    metadata,
    comment="Cases whose person reception erased (returnee_erased): no assessment is scheduled for them",
)
