"""kit tables v2 (refusals, timers); follow-ups keyed by cause; their timers move to the kit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from reintegra_kit.migrations import downgrade_kit_tables_v2, upgrade_kit_tables_v2

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_kit_tables_v2()
    with op.batch_alter_table("followups") as batch:
        batch.add_column(sa.Column("business_key", sa.String(length=80), nullable=True))
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False, comment="Optimistic lock")
        )
    # One follow-up per cause: post_arrival:<case>, referral_check:<referral>. Duplicates made before this
    # revision keep their own id as key (they stay visible; nothing new is scheduled twice from now on).
    op.execute(
        "UPDATE followups SET business_key = CASE WHEN reason = 'referral_check' AND referral_id IS NOT NULL "
        "THEN 'referral_check:' || CAST(referral_id AS VARCHAR(36)) ELSE reason || ':' || CAST(case_id AS VARCHAR(36)) END"
    )
    op.execute(
        "UPDATE followups SET business_key = 'duplicate:' || CAST(followup_id AS VARCHAR(36)) "
        "WHERE followup_id IN (SELECT f.followup_id FROM followups f WHERE EXISTS ("
        "SELECT 1 FROM followups g WHERE g.business_key = f.business_key AND g.scheduled_at < f.scheduled_at))"
    )
    # The scheduled contacts' timers move to the kit's timers table, keeping each one's trace context.
    op.execute(
        "INSERT INTO timers (kind, timer_key, case_id, due_at, payload, traceparent, status, attempts, created_at) "
        "SELECT 'followup.due', CAST(followup_id AS VARCHAR(36)), CAST(case_id AS VARCHAR(36)), due_at, '{}', "
        "traceparent, 'scheduled', 0, scheduled_at FROM followups WHERE status = 'scheduled'"
    )
    with op.batch_alter_table("followups") as batch:
        batch.alter_column(
            "business_key",
            existing_type=sa.String(length=80),
            nullable=False,
            comment="post_arrival:<case> | referral_check:<referral>: one follow-up per cause",
        )
        batch.create_unique_constraint("uq_followups_business_key", ["business_key"])
        batch.drop_index("ix_followups_timer")
        batch.drop_column("traceparent")


def downgrade() -> None:
    with op.batch_alter_table("followups") as batch:
        batch.add_column(
            sa.Column(
                "traceparent",
                sa.String(length=64),
                nullable=True,
                comment="Trace of the event that scheduled it; followup_due continues that trace",
            )
        )
        batch.create_index("ix_followups_timer", ["status", "due_at"], unique=False)
        batch.drop_constraint("uq_followups_business_key", type_="unique")
        batch.drop_column("version")
        batch.drop_column("business_key")
    downgrade_kit_tables_v2()
