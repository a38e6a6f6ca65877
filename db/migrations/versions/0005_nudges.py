"""nudges: an index on participants.paused_until, so ending pauses asks only what is due

Revision ID: 0005_nudges
Revises: 0004
Create Date: 2026-11-23 23:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005_nudges'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_participants_paused_until'), ['paused_until'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_paused_until'))
