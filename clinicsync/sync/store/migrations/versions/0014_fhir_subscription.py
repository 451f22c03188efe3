"""fhir_subscription: what each connector's FHIR Subscription last reported (heartbeats,
event counters) and the reconcile polls a gap asked for

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fhir_subscription',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('subscription', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('last_type', sa.String(length=24), nullable=True),
    sa.Column('last_seen_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('events_seen', sa.Integer(), nullable=True),
    sa.Column('notifications', sa.Integer(), nullable=False),
    sa.Column('reconcile_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('reconcile_reason', sa.String(length=255), nullable=True),
    sa.Column('reconciled_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('updated_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector')
    )


def downgrade() -> None:
    op.drop_table('fhir_subscription')
