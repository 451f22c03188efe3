"""calendarlink: partial indexes of the links still pending and of those whose last push
failed, so the status page's calendar figures and /metrics' failing links count the live
work instead of every link ever written

Revision ID: 0040
Revises: 0039
Create Date: 2026-11-26 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# As sync/store/model/calendar.py PENDING and FAILING (written out: a migration does not import the
# model it migrates).
_PENDING = "state = 'pending'"
_FAILING = "attempts > 0"

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_calendarlink_pending",
        "calendarlink",
        ["state"],
        unique=False,
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_calendarlink_failing",
        "calendarlink",
        ["attempts"],
        unique=False,
        postgresql_where=sa.text(_FAILING),
        sqlite_where=sa.text(_FAILING),
    )


def downgrade() -> None:
    op.drop_index("ix_calendarlink_failing", table_name="calendarlink")
    op.drop_index("ix_calendarlink_pending", table_name="calendarlink")
