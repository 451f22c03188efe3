"""set_aside: items a post-sync stage could not handle, set aside with their reason while
the stage goes on, so one bad item never stalls the rest

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-24 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('set_aside',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('item', sa.String(length=96), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('connector', sa.String(length=64), nullable=True),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('last_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('resolved_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stage', 'item', name='uq_set_aside_item')
    )
    op.create_index('ix_set_aside_status', 'set_aside', ['status', 'stage'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_set_aside_status', table_name='set_aside')
    op.drop_table('set_aside')
