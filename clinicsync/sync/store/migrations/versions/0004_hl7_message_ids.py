"""hl7 v2 message control ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hl7message',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('control_id', sa.String(length=199), nullable=False),
    sa.Column('ack_code', sa.String(length=2), nullable=False),
    sa.Column('event', sa.String(length=8), nullable=True),
    sa.Column('received_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'sender', 'control_id')
    )
    with op.batch_alter_table('hl7message', schema=None) as batch_op:
        batch_op.create_index('ix_hl7message_received', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hl7message', schema=None) as batch_op:
        batch_op.drop_index('ix_hl7message_received')

    op.drop_table('hl7message')
