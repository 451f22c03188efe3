"""service_process: each `clinicsync run` on the store, the settings file it runs and since
when a file it read has changed without a restart

Revision ID: 0037
Revises: 0036
Create Date: 2026-11-26 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0037'
down_revision: str | None = '0036'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('service_process',
    sa.Column('process', sa.String(length=300), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('started_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('seen_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('settings_path', sa.String(length=500), nullable=False),
    sa.Column('settings_digest', sa.String(length=16), nullable=False),
    sa.Column('stale_since', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('stale_files', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('process')
    )


def downgrade() -> None:
    op.drop_table('service_process')
