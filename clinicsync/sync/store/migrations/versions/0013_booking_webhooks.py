"""booking webhooks: body receipts (replays of unsigned-time webhooks) and booking aliases
(a Cal.com reschedule's new uid -> the appointment)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhookreceipt',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('received_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'digest')
    )
    with op.batch_alter_table('webhookreceipt', schema=None) as batch_op:
        batch_op.create_index('ix_webhookreceipt_received', ['received_at'], unique=False)
    op.create_table('bookingalias',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('alias', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'alias')
    )


def downgrade() -> None:
    op.drop_table('bookingalias')
    with op.batch_alter_table('webhookreceipt', schema=None) as batch_op:
        batch_op.drop_index('ix_webhookreceipt_received')
    op.drop_table('webhookreceipt')
