"""tombstones: explicit deletes remembered for store.tombstone_days, so that a late or
reordered copy of a deleted appointment cannot bring it back; rate buckets of the push
endpoints, shared by the server's replicas

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-24 00:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tombstone',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('deleted_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('recorded_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', 'external_id')
    )
    with op.batch_alter_table('tombstone', schema=None) as batch_op:
        batch_op.create_index('ix_tombstone_recorded', ['recorded_at'], unique=False)
    op.create_table('ratebucket',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('refilled_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('ratebucket')
    with op.batch_alter_table('tombstone', schema=None) as batch_op:
        batch_op.drop_index('ix_tombstone_recorded')
    op.drop_table('tombstone')
