"""calendarlink.rendered_from: the digest of what the pushed content was rendered from (the
appointment's row with its people and place, and the calendar settings that shape an event),
so a run renders only the appointments whose inputs changed since their last push

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-24 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0030'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing links have none, so the next run renders each once, compares
    # it with the pushed hash as before (pushing nothing that did not change) and records it.
    with op.batch_alter_table('calendarlink', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rendered_from', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calendarlink', schema=None) as batch_op:
        batch_op.drop_column('rendered_from')
