"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 10:38:46.796068
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
    op.create_table('returnees',
    sa.Column('returnee_id', sa.Uuid(), nullable=False),
    sa.Column('given_names', sa.String(length=200), nullable=False),
    sa.Column('family_names', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=False),
    sa.Column('document_number', sa.String(length=100), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('returnee_id', name=op.f('pk_returnees'))
    )
    op.create_table('travel_groups',
    sa.Column('family_group_ref', sa.String(length=100), nullable=False),
    sa.Column('travel_group_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('family_group_ref', name=op.f('pk_travel_groups')),
    sa.UniqueConstraint('travel_group_id', name=op.f('uq_travel_groups_travel_group_id'))
    )
    op.create_table('cases',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('returnee_id', sa.Uuid(), nullable=False),
    sa.Column('manifest_ref', sa.String(length=100), nullable=True),
    sa.Column('travel_group_id', sa.Uuid(), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('port_of_entry', sa.String(length=50), nullable=False),
    sa.Column('reception_centre', sa.String(length=50), nullable=False),
    sa.Column('destination_municipality', sa.String(length=50), nullable=False),
    sa.Column('age', sa.Integer(), nullable=False),
    sa.Column('return_type', sa.String(length=30), nullable=False),
    sa.Column('transport_mode', sa.String(length=20), nullable=False),
    sa.Column('vulnerabilities', sa.Text(), nullable=False, comment='JSON list of vulnerability codes'),
    sa.Column('immediate_needs', sa.Text(), nullable=False, comment='JSON list of service categories'),
    sa.Column('is_repeat_return', sa.Boolean(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnees.returnee_id'], name=op.f('fk_cases_returnee_id_returnees')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_cases')),
    sa.UniqueConstraint('manifest_ref', name=op.f('uq_cases_manifest_ref'))
    )


def downgrade() -> None:
    op.drop_table('cases')
    op.drop_table('travel_groups')
    op.drop_table('returnees')
    drop_kit_tables_v1()
