"""reports: organisation totals and KPI targets per year; poll answers by membership

Revision ID: 0009_reports
Revises: 0008_quarterly
Create Date: 2026-11-24 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0009_reports'
down_revision: str | None = '0008_quarterly'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('org_totals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('students', sa.Integer(), nullable=True),
    sa.Column('students_disabled', sa.Integer(), nullable=True),
    sa.Column('teachers', sa.Integer(), nullable=True),
    sa.Column('young_teachers', sa.Integer(), nullable=True),
    sa.Column('aged_15_19', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('COALESCE(students, 0) >= 0 AND COALESCE(students_disabled, 0) >= 0 AND COALESCE(teachers, 0) >= 0 AND COALESCE(young_teachers, 0) >= 0 AND COALESCE(aged_15_19, 0) >= 0', name=op.f('ck_org_totals_non_negative')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_org_totals_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_totals')),
    sa.UniqueConstraint('organisation_id', 'year', name='org_year')
    )
    op.create_table('kpi_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('target_pct', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('target_pct >= 0 AND target_pct <= 100', name=op.f('ck_kpi_targets_pct')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_kpi_targets_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_targets')),
    sa.UniqueConstraint('organisation_id', 'year', 'code', name='org_year_code')
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index('ix_survey_responses_membership', ['membership_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_responses_membership')
    op.drop_table('kpi_targets')
    op.drop_table('org_totals')
