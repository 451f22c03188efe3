"""bookingalias: index (connector, external_id), so following a Cal.com reschedule chain forward
(which aliases stand for this booking?) reads that booking's aliases, not every alias of the
source (found by the push query-plan test after order-free chains landed)

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-24 01:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bookingalias', schema=None) as batch_op:
        batch_op.create_index('ix_bookingalias_connector_external_id', ['connector', 'external_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bookingalias', schema=None) as batch_op:
        batch_op.drop_index('ix_bookingalias_connector_external_id')
