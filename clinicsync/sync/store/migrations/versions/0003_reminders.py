"""reminders: planned messages, delivery attempts, opt-outs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:27:20.236405
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('optout',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('created_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'address')
    )
    op.create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=16), nullable=False),
    sa.Column('recipient_ref', sa.String(length=255), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('offset', sa.String(length=16), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('starts_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('due_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('notifier', sa.String(length=64), nullable=True),
    sa.Column('tried', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('lease_until', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('send_started_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('segments', sa.Integer(), nullable=True),
    sa.Column('sent_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('created_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_reminder_key')
    )
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_appointment', ['appointment_id', 'status'], unique=False)
        batch_op.create_index('ix_reminder_status_due', ['status', 'due_at'], unique=False)

    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('notifier', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('provider_status', sa.String(length=32), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminder.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_reminder_id'), ['reminder_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_reminder_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_provider_id'))

    op.drop_table('delivery')
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_status_due')
        batch_op.drop_index('ix_reminder_appointment')

    op.drop_table('reminder')
    op.drop_table('optout')
