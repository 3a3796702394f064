"""kit tables v2 (refusals, timers); manifest lines claimed once; case versions

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
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False, comment="Optimistic lock")
        )
    op.create_table(
        "manifest_lines",
        sa.Column("manifest_ref", sa.String(length=100), nullable=False, comment="A line of a flight or bus manifest"),
        sa.Column("case_id", sa.Uuid(), nullable=False, comment="The case registered for it"),
        sa.PrimaryKeyConstraint("manifest_ref", name=op.f("pk_manifest_lines")),
    )
    op.execute(
        "INSERT INTO manifest_lines (manifest_ref, case_id) SELECT manifest_ref, case_id FROM cases "
        "WHERE manifest_ref IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("manifest_lines")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("version")
    downgrade_kit_tables_v2()
