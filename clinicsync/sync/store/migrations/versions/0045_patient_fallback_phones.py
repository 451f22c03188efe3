"""patient.fallback_phones: the other numbers of a phone cell that held several ("0772 100001 /
0701 222333"), E.164 in the cell's order; NULL for every patient stored before (their content
hash leaves the field out while it is unset, so upgrading changes no row)

Revision ID: 0045
Revises: 0044
Create Date: 2026-11-28 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("fallback_phones", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("fallback_phones")
