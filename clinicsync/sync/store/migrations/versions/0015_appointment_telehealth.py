"""appointment telehealth columns: visit_mode, join_url, provider_join_url, dial_in

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_mode', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('join_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('provider_join_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dial_in', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('dial_in')
        batch_op.drop_column('provider_join_url')
        batch_op.drop_column('join_url')
        batch_op.drop_column('visit_mode')
