"""run_stage: what each stage of a run is doing now (rows, heartbeat), so `status` shows a
running stage as running and a crashed one as stale

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('run_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=96), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('started_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('heartbeat_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('finished_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_run_stage_status_started', 'run_stage', ['status', 'started_at'], unique=False)
    op.create_index('ix_run_stage_stage_started', 'run_stage', ['stage', 'started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_run_stage_stage_started', table_name='run_stage')
    op.drop_index('ix_run_stage_status_started', table_name='run_stage')
    op.drop_table('run_stage')
