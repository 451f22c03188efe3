"""stage_mark: what a post-sync stage's last idle pass saw (its inputs' digest and its
report), so that an idle `sync --once` skips the stages whose inputs did not change

Revision ID: 0044
Revises: 0043
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicsync.common.types import UtcDateTime

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_mark",
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("marked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stage"),
    )


def downgrade() -> None:
    op.drop_table("stage_mark")
