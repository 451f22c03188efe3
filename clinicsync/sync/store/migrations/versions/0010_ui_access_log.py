"""ui_access_log: every status-page view that showed full patient details (front_desk role)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ui_access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('view', sa.String(length=64), nullable=False),
    sa.Column('patients', sa.Integer(), nullable=False),
    sa.Column('appointment_ids', sa.String(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ui_access_log', schema=None) as batch_op:
        batch_op.create_index('ix_ui_access_log_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ui_access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_ui_access_log_at')
    op.drop_table('ui_access_log')
