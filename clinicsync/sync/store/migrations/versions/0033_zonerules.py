"""zonerules: the time-zone rules (UTC-offset transitions) the store's times were computed
with, per zone in use, so that a tz database update that changes a zone's rules moves its
stored future visits back to their local time. The zones already in use get a row
without transitions: the next run records the rules of the day.

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0033'
down_revision: str | None = '0032'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('zonerules',
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('transitions', sa.Text(), nullable=True),
    sa.Column('previous', sa.Text(), nullable=True),
    sa.Column('recorded_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('corrected_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.Column('corrected', sa.Integer(), nullable=False),
    sa.Column('left', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('zone')
    )
    bind = op.get_bind()
    appointment = sa.table('appointment', sa.column('timezone', sa.String))
    rules = sa.table('zonerules', sa.column('zone', sa.String), sa.column('corrected', sa.Integer),
                     sa.column('left', sa.Integer))
    zones = bind.execute(sa.select(appointment.c.timezone).distinct()).scalars().all()
    if zones:
        bind.execute(sa.insert(rules), [{'zone': z, 'corrected': 0, 'left': 0} for z in zones])


def downgrade() -> None:
    op.drop_table('zonerules')
