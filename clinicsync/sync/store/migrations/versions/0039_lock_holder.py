"""lock_holder: who holds a stage lock (host, pid, what took it, since when), written when the
lock is taken and deleted when it is released, so `status` in any process names a worker hung
inside the calendar stage

Revision ID: 0039
Revises: 0038
Create Date: 2026-11-26 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0039'
down_revision: str | None = '0038'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lock_holder',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('command', sa.String(length=64), nullable=False),
    sa.Column('since', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('lock_holder')
