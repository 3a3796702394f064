"""case_scopes: each case's reception centre and country (whose record it is, for the access policy)

Cases that arrived before this revision have no row: their follow-ups are seen only by callers granted
all records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_scopes",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reception_centre", sa.String(length=50), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_scopes")),
        comment="Whose record each case is (from arrival_registered), for the access policy",
    )
    with op.batch_alter_table("case_scopes") as batch:
        batch.create_index(batch.f("ix_case_scopes_country"), ["country"], unique=False)
        batch.create_index(batch.f("ix_case_scopes_reception_centre"), ["reception_centre"], unique=False)


def downgrade() -> None:
    op.drop_table("case_scopes")
