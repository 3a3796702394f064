"""Referral's tables."""

from __future__ import annotations

from reintegra_kit.db import AutoId, define_kit_tables, new_metadata
from reintegra_kit.erasure import define_erased_cases
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

agencies = Table(
    "agencies",
    metadata,
    Column("agency_id", String(40), primary_key=True),
    Column("label_es", String(200), nullable=False),
    Column("label_en", String(200), nullable=False),
    Column("agency_kind", String(20), nullable=False),
    Column("country", String(2), nullable=False, index=True),
    Column("timezone", String(64), nullable=False),
    Column("contact_role", String(200), nullable=False, comment="A role or desk, never a person"),
    Column("office_hours", Text, nullable=False, comment="JSON list of {days, opens, closes}"),
    Column("response_time_hours", Float, nullable=False, comment="In working hours"),
    Column("channel", String(10), nullable=False),
    Column("coordinator", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("removed", Boolean, nullable=False, server_default=text("false")),
    Column("webhook_url", String(500), nullable=True),
    Column("webhook_secret", String(200), nullable=True, comment="Never shown, exported or published"),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

directory_services = Table(
    "directory_services",
    metadata,
    Column("service_id", String(50), primary_key=True),
    Column("agency_id", String(40), nullable=False, index=True),
    Column("label_es", String(200), nullable=False),
    Column("label_en", String(200), nullable=False),
    Column("category", String(50), nullable=False, index=True),
    Column("level", String(20), nullable=False),
    Column("dimension", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("national", Boolean, nullable=False),
    Column("departments", Text, nullable=False, comment="JSON list of department codes"),
    Column("municipalities", Text, nullable=False, comment="JSON list of municipality codes"),
    Column("min_age", Integer, nullable=True),
    Column("max_age", Integer, nullable=True),
    Column("sexes", Text, nullable=False, comment="JSON list; empty = all"),
    Column("groups", Text, nullable=False, comment="JSON list of vulnerability codes; empty = everyone"),
    Column("weekly_capacity", Integer, nullable=True),
    Column("cost", String(20), nullable=False),
    Column("response_time_hours", Float, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("removed", Boolean, nullable=False, server_default=text("false")),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
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
    Column("status", String(20), nullable=False, index=True, comment="codelists.ReferralStatus"),
    Column("service_id", String(50), nullable=True),
    Column("agency_id", String(40), nullable=True, index=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=True),
    Column("municipality", String(20), nullable=False),
    Column("age_group", String(10), nullable=False),
    Column("sex", String(20), nullable=False),
    Column("language", String(20), nullable=False),
    Column("vulnerabilities", Text, nullable=False, comment="JSON list"),
    Column("attempt", Integer, nullable=False),
    Column("previous_referral_id", Uuid, nullable=True),
    Column("candidates", Text, nullable=False, comment="JSON: every service considered, with reasons"),
    Column("match_reasons", Text, nullable=False, comment="JSON list of codelists.MatchReason"),
    Column("unmatched_reason", String(40), nullable=True),
    Column("contact_reference", String(100), nullable=True),
    Column("contact_reference_expires_at", DateTime(timezone=True), nullable=True),
    Column("consent_id", Uuid, nullable=True, comment="The consent it was shared under, if any"),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("overdue_at", DateTime(timezone=True), nullable=True),
    Column("reroute_at", DateTime(timezone=True), nullable=True),
    Column("cancel_reason", String(40), nullable=True),
    Column("reject_reason", String(40), nullable=True),
    Column("fail_reason", String(40), nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("deliveries", Text, nullable=False, comment="JSON list of delivery ids"),
    Column("partner_cursor", BigInteger, nullable=True, comment="Last partner message about it (a seq)"),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
    UniqueConstraint("need_id", "attempt", name="uq_referrals_need_attempt"),
    Index("ix_referrals_agency_cursor", "agency_id", "partner_cursor"),
    # matching counts each candidate service's referrals of the last week (weekly capacity)
    Index("ix_referrals_service_requested", "service_id", "requested_at"),
)

referral_history = Table(
    "referral_history",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("referral_id", Uuid, nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("action", String(30), nullable=False),
    Column("actor", String(20), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("detail", String(500), nullable=False, comment="Words of the change; erased with the person"),
)

case_profiles = Table(
    "case_profiles",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("age", Integer, nullable=False),
    Column("sex", String(20), nullable=False),
    Column("language", String(20), nullable=False),
    Column("municipality", String(20), nullable=False),
    Column("vulnerabilities", Text, nullable=False, comment="JSON list"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("reception_centre", String(50), nullable=True, index=True, comment="Whose record (access)"),
    Column("country", String(2), nullable=True, index=True, comment="Country of return (access)"),
)

consents = Table(
    "consents",
    metadata,
    Column("consent_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("basis", String(20), nullable=False, comment="consent | vital_interest"),
    Column("scopes", Text, nullable=False, comment="JSON list of {purpose, categories, agencies}"),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_scopes", Text, nullable=False, comment="JSON list: the parts withdrawn"),
    Column("withdrawn_whole", Boolean, nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    comment="Read model of reception's consent_recorded / consent_withdrawn (no free text, no names)",
)

pending_assessments = Table(
    "pending_assessments",
    metadata,
    Column("assessment_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("payload", Text, nullable=False, comment="assessment_completed, waiting for arrival_registered"),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

partner_messages = Table(
    "partner_messages",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True, comment="The HTTP since-cursor"),
    Column("agency_id", String(40), nullable=False),
    Column("referral_id", Uuid, nullable=False),
    Column("event_id", String(64), nullable=False, unique=True, comment="ce_id, the same as on Kafka"),
    Column("event_type", String(200), nullable=False),
    Column("payload", Text, nullable=False, comment="CloudEvents structured-mode JSON"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_partner_messages_agency_seq", "agency_id", "seq"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("agency_id", String(40), nullable=False),
    Column("message_seq", BigInteger, nullable=False),
    Column("status", String(10), nullable=False, comment="pending | delivered"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhook_deliveries_pending", "status", "agency_id", "message_seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False, index=True),
    Column("agency_id", String(40), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("agency_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("referral_id", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

escalations = Table(
    "escalations",
    metadata,
    Column("referral_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("agency_id", String(40), nullable=False),
    Column("escalated_to", String(40), nullable=True),
    Column("escalated_at", DateTime(timezone=True), nullable=False),
    Column("reroute_at", DateTime(timezone=True), nullable=True),
    Column("status", String(10), nullable=False, comment="open | resolved"),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", String(40), nullable=True),
)

# Reception destroyed the person's data key; referral keeps that the case was erased, so that an
# event about the case arriving later (a re-sent arrival, an assessment, a concern, a consent) neither
# keeps what matching may know of the person again nor refers anything for them. Whose record the case
# was (its centre and country) stays with it, for the access policy.
erased_cases = define_erased_cases(
    metadata,
    comment="Cases whose person reception erased (returnee_erased): nothing is kept or referred again",
    extra_columns=(
        Column(
            "reception_centre", String(50), nullable=True, comment="Whose record (access), kept from the case"
        ),
        Column("country", String(2), nullable=True, comment="Country of return (access), kept from the case"),
    ),
)
