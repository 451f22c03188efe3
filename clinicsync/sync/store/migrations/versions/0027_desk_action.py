"""desk_action: the front desk's actions on appointments (confirmed by phone, left a message,
no-show, cancel, reschedule request handled), with who and when

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-24 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicsync.common.types import UtcDateTime

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'desk_action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('user', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_desk_action_appointment', 'desk_action', ['appointment_id', 'version'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_desk_action_appointment', table_name='desk_action')
    op.drop_table('desk_action')
