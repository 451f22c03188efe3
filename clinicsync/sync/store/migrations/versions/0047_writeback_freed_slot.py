"""writeback.freed_slot_id: the waitlist slot whose booking released the patient's later visit
(``release_later: auto``), so the desk's Undo of *Booked by hand* finds that release by this
link instead of by the moment it was written; NULL for every other row and every row written
before (sync/waitlist/book_undo.py keeps the time rule for those)

Revision ID: 0047
Revises: 0046
Create Date: 2026-11-29 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("writeback") as batch:
        batch.add_column(sa.Column("freed_slot_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_writeback_freed_slot", "freed_slot", ["freed_slot_id"], ["id"])
        batch.create_index("ix_writeback_freed_slot", ["freed_slot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("writeback") as batch:
        batch.drop_constraint("fk_writeback_freed_slot", type_="foreignkey")  # first: MariaDB's key needs the index
        batch.drop_index("ix_writeback_freed_slot")
        batch.drop_column("freed_slot_id")
