"""case_profiles: the case's reception centre and country (whose record it is, for the access policy)

Cases that arrived before this revision have neither: their referrals are seen only by callers
granted all records, or by the agency they were sent to.

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
    with op.batch_alter_table("case_profiles") as batch:
        batch.add_column(
            sa.Column("reception_centre", sa.String(length=50), nullable=True, comment="Whose record (access)")
        )
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True, comment="Country of return (access)"))
        batch.create_index(batch.f("ix_case_profiles_reception_centre"), ["reception_centre"], unique=False)
        batch.create_index(batch.f("ix_case_profiles_country"), ["country"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_profiles") as batch:
        batch.drop_index(batch.f("ix_case_profiles_country"))
        batch.drop_index(batch.f("ix_case_profiles_reception_centre"))
        batch.drop_column("country")
        batch.drop_column("reception_centre")
