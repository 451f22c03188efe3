"""syncrun (connector, status, id) index: the last good run and the failures since it,
read at every /metrics scrape, become index probes instead of scans of the run history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 13:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('syncrun', schema=None) as batch_op:
        batch_op.create_index('ix_syncrun_connector_status_id', ['connector', 'status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('syncrun', schema=None) as batch_op:
        batch_op.drop_index('ix_syncrun_connector_status_id')
