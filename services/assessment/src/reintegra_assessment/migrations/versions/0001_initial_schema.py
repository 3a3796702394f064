"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:39:52.528628
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
    op.create_table('assessments',
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=20), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('age', sa.Integer(), nullable=False),
    sa.Column('destination_municipality', sa.String(length=50), nullable=False),
    sa.Column('vulnerabilities', sa.Text(), nullable=False, comment='JSON list'),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('instrument', sa.String(length=100), nullable=True),
    sa.Column('instrument_version', sa.String(length=50), nullable=True),
    sa.Column('scores', sa.Text(), nullable=True, comment='JSON object of dimension scores'),
    sa.Column('needs', sa.Text(), nullable=True, comment='JSON list of needs'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('assessment_id', name=op.f('pk_assessments'))
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_case_id'), ['case_id'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_case_id'))

    op.drop_table('assessments')
    drop_kit_tables_v1()
