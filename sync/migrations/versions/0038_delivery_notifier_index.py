"""delivery: an index on (notifier, created_at), so the status page's notifier health reads
each notifier's window and newest attempt instead of every attempt ever made (stop 52)

Revision ID: 0038
Revises: 0036
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0038'
down_revision: str | None = '0036'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_delivery_notifier_created', 'delivery', ['notifier', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_notifier_created', table_name='delivery')
