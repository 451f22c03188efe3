"""housekeeping: when the store's daily chores last ran (the retention's look for patients no
visit names), shared by every process on the store, so that cron's `sync --once` does not
redo a daily chore at each run

Revision ID: 0035
Revises: 0034
Create Date: 2026-11-26 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0035'
down_revision: str | None = '0034'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('housekeeping',
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('done_for', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('task')
    )


def downgrade() -> None:
    op.drop_table('housekeeping')
