"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:41:14.313506
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from reintegra_kit.migrations import create_kit_tables_v1, drop_kit_tables_v1


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables_v1()
    op.create_table('followups',
    sa.Column('followup_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('referral_id', sa.Uuid(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False, comment='scheduled | due'),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('followup_id', name=op.f('pk_followups'))
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followups_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_followups_timer', ['status', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index('ix_followups_timer')
        batch_op.drop_index(batch_op.f('ix_followups_case_id'))

    op.drop_table('followups')
    drop_kit_tables_v1()
