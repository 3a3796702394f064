"""Reception's tables. Personal data lives only here, in ``returnees`` (encrypted field by field) and in
the free-text notes of consents (encrypted under the same person's key)."""

from __future__ import annotations

from reintegra_kit.db import define_kit_tables, new_metadata
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

metadata = new_metadata()
kit_tables = define_kit_tables(metadata)

_SEALED = "AES-GCM ciphertext under the person's data key (crypto.py)"

returnees = Table(
    "returnees",
    metadata,
    Column("returnee_id", Uuid, primary_key=True),
    Column("given_names_enc", LargeBinary, nullable=True, comment=_SEALED),
    Column("family_names_enc", LargeBinary, nullable=True, comment=_SEALED),
    Column("date_of_birth_enc", LargeBinary, nullable=True, comment=_SEALED + "; ISO date"),
    Column("document_number_enc", LargeBinary, nullable=True, comment=_SEALED),
    Column("phone_enc", LargeBinary, nullable=True, comment=_SEALED),
    Column("sex", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("merged_into", Uuid, nullable=True, comment="The returnee this record was merged into"),
    Column("erased_at", DateTime(timezone=True), nullable=True, comment="When the data key was destroyed"),
)

person_keys = Table(
    "person_keys",
    metadata,
    Column("returnee_id", Uuid, ForeignKey("returnees.returnee_id"), primary_key=True),
    Column(
        "kek_id", String(16), nullable=True, index=True, comment="The key-encryption key it is wrapped by"
    ),
    Column(
        "wrapped_key",
        LargeBinary,
        nullable=True,
        comment="The person's data key under the KEK; NULL once destroyed (erasure)",
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True), nullable=True),
)

identity_keys = Table(
    "identity_keys",
    metadata,
    Column(
        "key",
        String(300),
        nullable=False,
        comment="Blind index (HMAC) of a blocking key of a normalised identity (domain/identity.py)",
    ),
    Column("returnee_id", Uuid, ForeignKey("returnees.returnee_id"), nullable=False),
    PrimaryKeyConstraint("key", "returnee_id", name="pk_identity_keys"),
    Index("ix_identity_keys_returnee_id", "returnee_id"),
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
    Column("country_of_return", String(2), nullable=True),
    Column("sex", String(20), nullable=True),
    Column(
        "status",
        String(20),
        nullable=False,
        server_default=text("'registered'"),
        comment="registered | merged",
    ),
    Column(
        "merged_into", Uuid, nullable=True, comment="The case this duplicate registration was merged into"
    ),
    Column(
        "previous_returns", Integer, nullable=False, server_default=text("0"), comment="Earlier returns found"
    ),
    Column("declared_previous_returns", Integer, nullable=False, server_default=text("0")),
    Column("travel_group_size", Integer, nullable=True),
    Column("announcement_id", Uuid, nullable=True, index=True),
    Column("announced_person_id", Uuid, nullable=True),
    Index("ix_cases_returnee_id", "returnee_id"),
)

assistance = Table(
    "assistance",
    metadata,
    Column("assistance_id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("provided_at", DateTime(timezone=True), nullable=False),
    Column("items", Text, nullable=False, comment="JSON list of immediate-assistance codes"),
    Column("provided_by", String(50), nullable=True),
)

protection_concerns = Table(
    "protection_concerns",
    metadata,
    Column("concern_id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("concern_type", String(40), nullable=False),
    Column("urgency", String(30), nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("raised_by_role", String(40), nullable=False),
    Column("lead_agency", String(50), nullable=True),
    Column("service_category", String(50), nullable=True),
    UniqueConstraint("case_id", "concern_type", name="uq_protection_concerns_case_type"),
)

announcements = Table(
    "announcements",
    metadata,
    Column("announcement_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, unique=True, comment="The pre-arrival case (Kafka key)"),
    Column("announced_by", String(50), nullable=False),
    Column("announced_at", DateTime(timezone=True), nullable=False),
    Column("expected_arrival_at", DateTime(timezone=True), nullable=False, index=True),
    Column("port_of_entry", String(50), nullable=False),
    Column("reception_centre", String(50), nullable=True),
    Column("country_of_return", String(2), nullable=False),
    Column("returned_from", String(2), nullable=False),
    Column("return_type", String(30), nullable=False),
    Column("transport_mode", String(20), nullable=False),
    Column("transport_reference", String(40), nullable=True, index=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

announced_persons = Table(
    "announced_persons",
    metadata,
    Column("announced_person_id", Uuid, primary_key=True),
    Column("announcement_id", Uuid, ForeignKey("announcements.announcement_id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("reference", String(100), nullable=True, comment="The announcer's own reference for the person"),
    Column("age_group", String(20), nullable=True),
    Column("sex", String(20), nullable=True),
    Column("travel_group_id", Uuid, nullable=True),
    Column("vulnerabilities", Text, nullable=False, comment="JSON list of vulnerability codes"),
    Column("needs_medical_attention", Boolean, nullable=False),
    Column("case_id", Uuid, nullable=True, comment="The arrival matched to this person"),
    UniqueConstraint("announcement_id", "reference", name="uq_announced_persons_reference"),
)

announced_person_keys = Table(
    "announced_person_keys",
    metadata,
    Column("key", String(300), nullable=False, comment="Blind index (HMAC) of a sure identity key"),
    Column("announced_person_id", Uuid, ForeignKey("announced_persons.announced_person_id"), nullable=False),
    PrimaryKeyConstraint("key", "announced_person_id", name="pk_announced_person_keys"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("review_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, comment="The newer registration's case"),
    Column("returnee_id", Uuid, nullable=False, comment="The newer returnee record"),
    Column("candidate_returnee_id", Uuid, nullable=False),
    Column("candidate_case_id", Uuid, nullable=False),
    Column("score", Float, nullable=False),
    Column(
        "comparison", Text, nullable=False, comment="JSON: basis, per-field similarity, caveats (no data)"
    ),
    Column("status", String(20), nullable=False, index=True, comment="pending | merged | distinct"),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by_role", String(40), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
    UniqueConstraint("returnee_id", "candidate_returnee_id", name="uq_reviews_pair"),
)

manifest_lines = Table(
    "manifest_lines",
    metadata,
    Column("manifest_ref", String(100), primary_key=True, comment="A line of a flight or bus manifest"),
    Column("case_id", Uuid, nullable=False, comment="The case registered for it"),
)

case_consents = Table(
    "case_consents",
    metadata,
    Column("case_id", Uuid, ForeignKey("cases.case_id"), primary_key=True),
    Column("returnee_id", Uuid, nullable=False, index=True),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("consent_id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("case_consents.case_id"), nullable=False, index=True),
    Column("basis", String(20), nullable=False, comment="consent | vital_interest"),
    Column("given_by", String(40), nullable=False),
    Column("method", String(40), nullable=False),
    Column("scopes", Text, nullable=False, comment="JSON: [{purpose, service_categories, agencies}]"),
    Column("information_language", String(35), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by_role", String(40), nullable=False),
    Column("recorded_by_subject", String(200), nullable=False),
    Column("recorded_by_agency", String(40), nullable=True),
    Column("recorded_by_centre", String(50), nullable=True),
    Column("child_view", String(30), nullable=True, comment="The child's own view (code)"),
    Column("child_view_note_enc", LargeBinary, nullable=True, comment=_SEALED),
    Column("justification", String(50), nullable=True, comment="Vital-interest override: code"),
    Column("justification_note_enc", LargeBinary, nullable=True, comment=_SEALED),
)

consent_withdrawals = Table(
    "consent_withdrawals",
    metadata,
    Column("withdrawal_id", Uuid, primary_key=True),
    Column("case_id", Uuid, ForeignKey("case_consents.case_id"), nullable=False, index=True),
    Column("consent_id", Uuid, ForeignKey("consent_records.consent_id"), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_by", String(40), nullable=False),
    Column("purposes", Text, nullable=False, comment="JSON list of purposes; empty: the whole consent"),
    Column("recorded_by_role", String(40), nullable=False),
    Column("recorded_by_subject", String(200), nullable=False),
    Column("recorded_by_agency", String(40), nullable=True),
)

contact_references = Table(
    "contact_references",
    metadata,
    Column("referral_id", Uuid, primary_key=True),
    Column(
        "reference_hash",
        String(64),
        nullable=False,
        unique=True,
        comment="SHA-256 of the opaque reference (the reference itself is never stored)",
    ),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("agency_id", String(40), nullable=False),
    Column("category", String(50), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, comment="active | closed | revoked"),
    Column("status_reason", String(40), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1"), comment="Optimistic lock"),
)

case_closures = Table(
    "case_closures",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("closed_at", DateTime(timezone=True), nullable=True, comment="NULL: reopened"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False, comment="1, 2, 3, … without gaps"),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(40), nullable=False),
    Column("outcome", String(20), nullable=False, comment="allowed | refused"),
    Column("reason", String(300), nullable=True, comment="Why it was refused (no personal data)"),
    Column("actor_subject", String(200), nullable=False),
    Column("actor_roles", String(300), nullable=False),
    Column("actor_agency", String(40), nullable=True),
    Column("actor_centre", String(50), nullable=True),
    Column("case_id", Uuid, nullable=True, index=True),
    Column("returnee_id", Uuid, nullable=True, index=True),
    Column("referral_id", Uuid, nullable=True),
    Column("fields", Text, nullable=False, comment="JSON list of the personal fields read"),
    Column("purpose", String(60), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, comment="SHA-256 of prev_hash and this row (audit.py)"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False, comment="Always 1"),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
