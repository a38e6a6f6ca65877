"""curator access confirmation: memberships.confirmed_at, memberships.confirmed_by

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.models

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('confirmed_at', db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('confirmed_by', sa.Integer(), nullable=True))
    # Curators who had already consented keep their access.
    op.execute(
        "UPDATE memberships SET confirmed_at = created_at "
        "WHERE role = 'curator' AND status NOT IN ('consent_pending', 'declined', 'withdrawn')"
    )


def downgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('confirmed_at')
