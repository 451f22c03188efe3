"""writeback.desk_action_id: the front desk's action a write-back carries, so its Undo and its
cancel find their own row by this link instead of by the moment it was written; NULL for every
row written before (sync/desk/actions.py keeps the time rule for those)

Revision ID: 0046
Revises: 0045
Create Date: 2026-11-29 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("writeback") as batch:
        batch.add_column(sa.Column("desk_action_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_writeback_desk_action", "desk_action", ["desk_action_id"], ["id"])
        batch.create_index("ix_writeback_desk_action", ["desk_action_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("writeback") as batch:
        batch.drop_constraint("fk_writeback_desk_action", type_="foreignkey")  # first: MariaDB's key needs the index
        batch.drop_index("ix_writeback_desk_action")
        batch.drop_column("desk_action_id")
