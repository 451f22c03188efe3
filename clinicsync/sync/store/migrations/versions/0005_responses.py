"""responses: patients' replies and the write-back outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('reminder_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('received_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminder.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_id', name='uq_response_provider_id')
    )
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index('ix_response_appointment', ['appointment_id'], unique=False)
        batch_op.create_index('ix_response_outcome', ['outcome', 'received_at'], unique=False)

    op.create_table('writeback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('patient_ref', sa.String(length=255), nullable=True),
    sa.Column('participant_status', sa.String(length=16), nullable=False),
    sa.Column('appointment_status', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('done_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('writeback', schema=None) as batch_op:
        batch_op.create_index('ix_writeback_status_next', ['status', 'next_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('writeback', schema=None) as batch_op:
        batch_op.drop_index('ix_writeback_status_next')
    op.drop_table('writeback')
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index('ix_response_outcome')
        batch_op.drop_index('ix_response_appointment')
    op.drop_table('response')
