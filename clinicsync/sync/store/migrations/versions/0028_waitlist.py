"""waitlist_entry, freed_slot, waitlist_offer: who waits, which slots a cancellation freed,
and the offers made for each

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-24 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicsync.common.types import UtcDateTime

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'waitlist_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('connector', sa.String(length=64), nullable=False),
        sa.Column('external_id', sa.String(length=255), nullable=False),
        sa.Column('patient_ref', sa.String(length=255), nullable=False),
        sa.Column('practitioner_ref', sa.String(length=255), nullable=True),
        sa.Column('visit_type', sa.String(length=255), nullable=True),
        sa.Column('location_ref', sa.String(length=255), nullable=True),
        sa.Column('visit_mode', sa.String(length=16), nullable=True),
        sa.Column('duration_minutes', sa.Integer(), nullable=True),
        sa.Column('windows', sa.Text(), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('waiting_since', UtcDateTime(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=True),
        sa.Column('current_appointment_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('added_by', sa.String(length=64), nullable=True),
        sa.Column('content_hash', sa.String(length=32), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('connector', 'external_id', name='uq_waitlist_entry_source'),
    )
    op.create_index('ix_waitlist_entry_status', 'waitlist_entry', ['status', 'priority', 'waiting_since'], unique=False)
    op.create_table(
        'freed_slot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('appointment_version', sa.Integer(), nullable=False),
        sa.Column('connector', sa.String(length=64), nullable=False),
        sa.Column('practitioner_ref', sa.String(length=255), nullable=True),
        sa.Column('location_ref', sa.String(length=255), nullable=True),
        sa.Column('visit_type', sa.String(length=255), nullable=True),
        sa.Column('visit_mode', sa.String(length=16), nullable=True),
        sa.Column('start_utc', UtcDateTime(), nullable=False),
        sa.Column('end_utc', UtcDateTime(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('freed_by', sa.String(length=16), nullable=False),
        sa.Column('freed_at', UtcDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('taken_offer_id', sa.Integer(), nullable=True),
        sa.Column('taken_at', UtcDateTime(), nullable=True),
        sa.Column('booking_status', sa.String(length=16), nullable=True),
        sa.Column('booked_external_id', sa.String(length=255), nullable=True),
        sa.Column('booking_error', sa.String(length=500), nullable=True),
        sa.Column('booking_attempts', sa.Integer(), nullable=False),
        sa.Column('closed_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('appointment_id', 'appointment_version', name='uq_freed_slot_appointment'),
    )
    op.create_index('ix_freed_slot_status', 'freed_slot', ['status', 'start_utc'], unique=False)
    op.create_table(
        'waitlist_offer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slot_id', sa.Integer(), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('sent_at', UtcDateTime(), nullable=True),
        sa.Column('hold_until', UtcDateTime(), nullable=True),
        sa.Column('answered_at', UtcDateTime(), nullable=True),
        sa.Column('told_at', UtcDateTime(), nullable=True),
        sa.Column('message_key', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['entry_id'], ['waitlist_entry.id']),
        sa.ForeignKeyConstraint(['slot_id'], ['freed_slot.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slot_id', 'entry_id', name='uq_waitlist_offer_once'),
    )
    op.create_index('ix_waitlist_offer_status', 'waitlist_offer', ['status', 'hold_until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_waitlist_offer_status', table_name='waitlist_offer')
    op.drop_table('waitlist_offer')
    op.drop_index('ix_freed_slot_status', table_name='freed_slot')
    op.drop_table('freed_slot')
    op.drop_index('ix_waitlist_entry_status', table_name='waitlist_entry')
    op.drop_table('waitlist_entry')
