"""assessments: the case's reception centre and country (whose record it is, for the access policy)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:00:00

Rows written before this revision have neither: only callers granted all records see them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(
            sa.Column("reception_centre", sa.String(length=50), nullable=True, comment="Whose record (access)")
        )
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True, comment="Country of return (access)"))
        batch.create_index("ix_assessments_reception_centre", ["reception_centre"])
        batch.create_index("ix_assessments_country", ["country"])


def downgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_index("ix_assessments_country")
        batch.drop_index("ix_assessments_reception_centre")
        batch.drop_column("country")
        batch.drop_column("reception_centre")
