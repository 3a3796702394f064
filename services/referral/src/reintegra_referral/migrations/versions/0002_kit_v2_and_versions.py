"""kit tables v2 (refusals, timers); aggregate versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from reintegra_kit.migrations import downgrade_kit_tables_v2, upgrade_kit_tables_v2

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_kit_tables_v2()
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False, comment="Optimistic lock")
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("version")
    downgrade_kit_tables_v2()
