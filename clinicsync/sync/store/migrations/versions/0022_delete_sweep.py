"""delete_sweep: when each incremental source last listed its ids, so that a row deleted
at the source becomes a deletion here

Revision ID: 0022
Revises: 0020
Create Date: 2026-11-24 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0022'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delete_sweep',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('swept_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('listed', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('connector')
    )


def downgrade() -> None:
    op.drop_table('delete_sweep')
