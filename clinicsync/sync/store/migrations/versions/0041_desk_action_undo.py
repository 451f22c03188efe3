"""desk_action: a cancel's reason, what an undo restores (the answer before, the reminders
the action cancelled) and when it was undone and by whom

Revision ID: 0041
Revises: 0040
Create Date: 2026-11-27 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clinicsync.common.types import UtcDateTime

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("desk_action") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prior_answer", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("prior_answer_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("cancelled_reminders", sa.Text(), nullable=True))
        batch.add_column(sa.Column("undone_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("undone_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("desk_action") as batch:
        for name in ("undone_by", "undone_at", "cancelled_reminders", "prior_answer_at", "prior_answer", "reason"):
            batch.drop_column(name)
