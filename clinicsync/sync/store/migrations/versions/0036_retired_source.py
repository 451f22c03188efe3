"""retired_source: the sources an admin retired with `clinicsync source retire`:
no longer reported as orphaned, their visits off the doctors' calendars

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0036'
down_revision: str | None = '0035'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('retired_source',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('retired_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('connector')
    )


def downgrade() -> None:
    op.drop_table('retired_source')
