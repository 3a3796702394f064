"""Follow-up's tables (its durable timers are in the kit's ``timers`` table)."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from reintegra_kit.erasure import define_erased_cases
from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Uuid, text

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
    Column("status", String(20), nullable=False, comment="scheduled | due | cancelled"),
    Column("scheduled_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=True),
    Column(
        "cancellation_reason",
        String(30),
        nullable=True,
        comment="consent_withdrawn | case_merged | returnee_erased",
    ),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

contact_consents = Table(
    "contact_consents",
    metadata,
    Column("consent_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("covers_contact", Boolean, nullable=False, comment="A scope followup_contact"),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("contact_withdrawn_at", DateTime(timezone=True), nullable=True),
    comment="Read model of reception's consents, reduced to follow-up contact",
)

# Reception destroyed the person's data key; follow-up keeps that the case was erased, so that an
# event about the case arriving later (a re-sent arrival, a referral decided before the erasure)
# schedules no contact with the person: it is recorded cancelled, reason ``returnee_erased``.
erased_cases = define_erased_cases(
    metadata,
    comment="Cases whose person reception erased (returnee_erased): nothing more is scheduled for them",
)

case_scopes = Table(
    "case_scopes",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("reception_centre", String(50), nullable=False, index=True),
    Column("country", String(2), nullable=False, index=True),
    comment="Whose record each case is (from arrival_registered), for the access policy",
)
