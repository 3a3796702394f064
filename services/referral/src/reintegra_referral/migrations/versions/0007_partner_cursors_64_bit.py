"""partner cursors are 64-bit, as the partner message sequence they copy

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # partner_messages.seq is BIGINT on PostgreSQL; the copies of it were INTEGER, so a cursor past
    # 2**31 (or an agency's since= beyond it) overflowed. SQLite's INTEGER is already 64-bit.
    with op.batch_alter_table("referrals") as batch:
        batch.alter_column(
            "partner_cursor",
            type_=sa.BigInteger(),
            existing_type=sa.Integer(),
            comment="Last partner message about it (a seq)",
        )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("message_seq", type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table("referral_history") as batch:  # erasure blanks it (0006)
        batch.alter_column(
            "detail", existing_type=sa.String(500), comment="Words of the change; erased with the person"
        )


def downgrade() -> None:
    with op.batch_alter_table("referral_history") as batch:
        batch.alter_column("detail", existing_type=sa.String(500), comment=None)
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("message_seq", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("referrals") as batch:
        batch.alter_column(
            "partner_cursor",
            type_=sa.Integer(),
            existing_type=sa.BigInteger(),
            comment="Last partner message about it",
        )
