"""polls: survey_responses tracks the engine's response, the reminder, the close and when the
poll job looks next; organisations.satisfied_from (the "satisfied" threshold, default 8)

Revision ID: 0007_polls
Revises: 0006_closing
Create Date: 2026-11-24 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0007_polls'
down_revision: str | None = '0006_closing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('satisfied_from', sa.Integer(), server_default='8', nullable=False)
        )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('reminded_at', db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('closed_at', db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('due_at', db.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_survey_responses_response_id_questionnaire_responses'),
            'questionnaire_responses', ['response_id'], ['id'], ondelete='SET NULL',
        )
        batch_op.create_index(batch_op.f('ix_survey_responses_due_at'), ['due_at'], unique=False)
        batch_op.create_index(
            'ix_survey_responses_pair', ['pair_id', 'membership_id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_responses_pair')
        batch_op.drop_index(batch_op.f('ix_survey_responses_due_at'))
        batch_op.drop_constraint(
            batch_op.f('fk_survey_responses_response_id_questionnaire_responses'),
            type_='foreignkey',
        )
        batch_op.drop_column('due_at')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('response_id')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('satisfied_from')
