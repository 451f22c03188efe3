"""calendar link table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendarlink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('account', sa.String(length=320), nullable=False),
    sa.Column('calendar_id', sa.String(length=255), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('etag', sa.String(length=128), nullable=True),
    sa.Column('pushed_hash', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('updated_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('appointment_id', 'provider', 'account', 'calendar_id', name='uq_calendarlink_target')
    )
    with op.batch_alter_table('calendarlink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendarlink_appointment_id'), ['appointment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calendarlink', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendarlink_appointment_id'))

    op.drop_table('calendarlink')
