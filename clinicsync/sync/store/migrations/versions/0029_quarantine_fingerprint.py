"""quarantine.source_fingerprint: the raw record's fingerprint of an item's last sighting, so
a known-bad row re-exported byte for byte is counted as a sighting without being mapped
again

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-24 06:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0029'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing items have none, so their next sighting maps the row once.
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_fingerprint', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_column('source_fingerprint')
