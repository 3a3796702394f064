"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:40:43.252062
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
    op.create_table('directory_services',
    sa.Column('service_id', sa.String(length=50), nullable=False),
    sa.Column('agency_id', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('municipalities', sa.Text(), nullable=False, comment='JSON list; empty = the whole country'),
    sa.Column('response_time_hours', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_directory_services'))
    )
    with op.batch_alter_table('directory_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_services_category'), ['category'], unique=False)

    op.create_table('referrals',
    sa.Column('referral_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('need_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False, comment='requested | unmatched (no service in the directory)'),
    sa.Column('service_id', sa.String(length=50), nullable=True),
    sa.Column('agency_id', sa.String(length=50), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('respond_by', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_referrals')),
    sa.UniqueConstraint('need_id', name='uq_referrals_need_id')
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_case_id'))

    op.drop_table('referrals')
    with op.batch_alter_table('directory_services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_services_category'))

    op.drop_table('directory_services')
    drop_kit_tables_v1()
