"""delivery: an index on (notifier, created_at), so the status page's notifier health reads
each notifier's window and newest attempt instead of every attempt ever made; appointment: a
partial index of the source answers not recorded yet, so each sync pass's source-answer stage
does not read every appointment

Revision ID: 0038
Revises: 0037
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The index's rows, as sync/store/model/__init__.py SOURCE_ANSWER_OPEN (written out: a migration
# does not import the model it migrates).
_OPEN = ("source_answer IS NOT NULL AND deleted_at IS NULL "
         "AND (participation IS NULL OR participation != source_answer)")

revision: str = '0038'
down_revision: str | None = '0037'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_delivery_notifier_created', 'delivery', ['notifier', 'created_at'], unique=False)
    op.create_index('ix_appointment_source_answer', 'appointment', ['source_answer'], unique=False,
                    postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))


def downgrade() -> None:
    op.drop_index('ix_appointment_source_answer', table_name='appointment')
    op.drop_index('ix_delivery_notifier_created', table_name='delivery')
