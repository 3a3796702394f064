"""an index for matching's weekly capacity count (a service's referrals since a date)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Without it every routed need counted its candidate services' referrals by reading every
    # referral of the counted statuses: a cost that grew with the year's referrals.
    op.create_index("ix_referrals_service_requested", "referrals", ["service_id", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_referrals_service_requested", table_name="referrals")
