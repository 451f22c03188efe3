"""appointment.forgotten_at: when the prune of store.patient_data_days dropped a past visit's
patient data (NULL: not yet), with the index of the visits still to forget by their end (partial,
WHERE forgotten_at IS NULL, on PostgreSQL and SQLite: a pass never walks those already
forgotten; a plain one on MySQL/MariaDB)

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0034'
down_revision: str | None = '0033'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: every stored visit is "not forgotten yet"; the first passes after the
    # upgrade forget the old ones a bounded number at a time (sync/store/retention.py).
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forgotten_at', clinicsync.common.types.UtcDateTime(), nullable=True))
        batch_op.create_index('ix_appointment_forget', ['end_utc'], unique=False,
                              postgresql_where=sa.text('forgotten_at IS NULL'),
                              sqlite_where=sa.text('forgotten_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_forget')
        batch_op.drop_column('forgotten_at')
