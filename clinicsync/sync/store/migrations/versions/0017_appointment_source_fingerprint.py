"""appointment.source_fingerprint: the raw record's fingerprint under the run's mapping and
settings, so an unchanged re-exported row is recognized before it is mapped

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing rows have none, so their next import maps every row once.
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_fingerprint', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('source_fingerprint')
