"""poll_schedule: the sources `clinicsync run` polls, when each is next due and which worker
holds it (a lease) while it polls, so that workers sharing a store claim the due sources
instead of each polling every one

Revision ID: 0042
Revises: 0041
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicsync.common.types import UtcDateTime

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("poll_schedule",
    sa.Column("connector", sa.String(length=64), nullable=False),
    sa.Column("next_due", UtcDateTime(), nullable=False),
    sa.Column("holder", sa.String(length=300), nullable=True),
    sa.Column("lease_expires", UtcDateTime(), nullable=True),
    sa.Column("last_started", UtcDateTime(), nullable=True),
    sa.Column("last_finished", UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("connector")
    )


def downgrade() -> None:
    op.drop_table("poll_schedule")
