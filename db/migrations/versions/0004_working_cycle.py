"""the pair's working cycle: meetings, journal, plans, nudges, pause, broadcasts, outbox
routing, the demo clock

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 23:05:57.708486
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The old meetings table was never written to: it is replaced, not altered.
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_due')
        batch_op.drop_index('ix_meetings_pair_id')
    op.drop_table('meetings')
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('group_key', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('starts_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=True),
    sa.Column('proposed_by', sa.Integer(), nullable=True),
    sa.Column('awaiting_role', sa.String(length=8), nullable=True),
    sa.Column('confirmed_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('reminded_24h_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_1h_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('log_requested_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('logged_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('logged_by', sa.Integer(), nullable=True),
    sa.Column('actual_minutes', sa.Integer(), nullable=True),
    sa.Column('topics', sa.Text(), nullable=True),
    sa.Column('next_steps', sa.Text(), nullable=True),
    sa.Column('goal_progress', sa.JSON(), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('intro', 'trial', 'planning', 'regular', 'final')", name=op.f('ck_meetings_kind')),
    sa.CheckConstraint("status IN ('proposed', 'confirmed', 'held', 'not_held', 'cancelled')", name=op.f('ck_meetings_status')),
    sa.CheckConstraint('duration_minutes BETWEEN 5 AND 600', name=op.f('ck_meetings_duration')),
    sa.ForeignKeyConstraint(['proposed_by'], ['participants.id'], name=op.f('fk_meetings_proposed_by_participants')),
    sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], name=op.f('fk_meetings_pair_id_pairs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index('ix_meetings_due', ['status', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_pair_id'), ['pair_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_group_key'), ['group_key'], unique=False)

    op.create_table('clock_offset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offset_seconds', sa.Double(), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clock_offset'))
    )
    op.create_table('broadcasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('segment', sa.String(length=48), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('progress_message_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'sending', 'done', 'cancelled')", name=op.f('ck_broadcasts_status')),
    sa.ForeignKeyConstraint(['created_by'], ['participants.id'], name=op.f('fk_broadcasts_created_by_participants')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_broadcasts_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], name=op.f('fk_plans_pair_id_pairs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('pair_id', name=op.f('uq_plans_pair_id'))
    )
    op.create_table('meeting_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('took_place', sa.Boolean(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('requested_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('rating IS NULL OR rating BETWEEN 1 AND 5', name=op.f('ck_meeting_feedback_rating')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_feedback_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_meeting_feedback_membership_id_memberships')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_feedback')),
    sa.UniqueConstraint('meeting_id', 'membership_id', name='feedback_once')
    )
    with op.batch_alter_table('meeting_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_feedback_membership_id'), ['membership_id'], unique=False)

    op.create_table('plan_goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('done_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('position BETWEEN 1 AND 5', name=op.f('ck_plan_goals_position')),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_plan_goals_progress')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_goals_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_goals'))
    )
    with op.batch_alter_table('plan_goals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_goals_plan_id'), ['plan_id'], unique=False)

    op.create_table('plan_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('done_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['goal_id'], ['plan_goals.id'], name=op.f('fk_plan_tasks_goal_id_plan_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_tasks'))
    )
    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_tasks_goal_id'), ['goal_id'], unique=False)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quiet_from_min', sa.Integer(), server_default='1320', nullable=False))
        batch_op.add_column(sa.Column('quiet_to_min', sa.Integer(), server_default='480', nullable=False))
        batch_op.add_column(sa.Column('nudge_first_days', sa.Integer(), server_default='10', nullable=False))
        batch_op.add_column(sa.Column('nudge_idle_days', sa.Integer(), server_default='14', nullable=False))
        batch_op.add_column(sa.Column('escalate_days', sa.Integer(), server_default='7', nullable=False))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('kind', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('batch', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('expires_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_batch', ['batch', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_participant_id'), ['participant_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_outbox_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('pending', 'sending', 'sent', 'parked', 'expired')"
        )

    with op.batch_alter_table('pairs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_check_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('nudge_level', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_pairs_next_check_at'), ['next_check_at'], unique=False)

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_until', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_column('pause_reason')
        batch_op.drop_column('paused_until')

    with op.batch_alter_table('pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pairs_next_check_at'))
        batch_op.drop_column('nudge_level')
        batch_op.drop_column('next_check_at')

    op.execute("UPDATE outbox SET status = 'parked' WHERE status = 'expired'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_status'), type_='check')
        batch_op.create_check_constraint(
            'status', "status IN ('pending', 'sending', 'sent', 'parked')"
        )
        batch_op.drop_index(batch_op.f('ix_outbox_participant_id'))
        batch_op.drop_index('ix_outbox_batch')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('batch')
        batch_op.drop_column('kind')
        batch_op.drop_column('organisation_id')
        batch_op.drop_column('participant_id')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('escalate_days')
        batch_op.drop_column('nudge_idle_days')
        batch_op.drop_column('nudge_first_days')
        batch_op.drop_column('quiet_to_min')
        batch_op.drop_column('quiet_from_min')

    with op.batch_alter_table('plan_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_tasks_goal_id'))

    op.drop_table('plan_tasks')
    with op.batch_alter_table('plan_goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_goals_plan_id'))

    op.drop_table('plan_goals')
    with op.batch_alter_table('meeting_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_feedback_membership_id'))

    op.drop_table('meeting_feedback')
    op.drop_table('plans')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcasts_organisation_id'))

    op.drop_table('broadcasts')
    op.drop_table('clock_offset')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('ix_meetings_due')
        batch_op.drop_index(batch_op.f('ix_meetings_pair_id'))
        batch_op.drop_index(batch_op.f('ix_meetings_group_key'))
    op.drop_table('meetings')
    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('scheduled_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('reminder_sent_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('logged_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_mentee_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('intro', 'trial', 'planning', 'regular', 'final')", name=op.f('ck_meetings_kind')),
    sa.CheckConstraint("status IN ('proposed', 'confirmed', 'held', 'not_held', 'cancelled')", name=op.f('ck_meetings_status')),
    sa.ForeignKeyConstraint(['created_by'], ['participants.id'], name=op.f('fk_meetings_created_by_participants')),
    sa.ForeignKeyConstraint(['pair_id'], ['pairs.id'], name=op.f('fk_meetings_pair_id_pairs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index('ix_meetings_due', ['status', 'scheduled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_pair_id'), ['pair_id'], unique=False)

