"""ui_access_log: the sites of the records a view showed and the user's own sites (groups of practices),
so the log can say whether anyone looked outside their practice

Revision ID: 0043
Revises: 0042
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ui_access_log") as batch:
        batch.add_column(sa.Column("sites", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("scope", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ui_access_log") as batch:
        batch.drop_column("scope")
        batch.drop_column("sites")
