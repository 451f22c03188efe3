"""ics state tables: each .ics file's events as written, so the calendar stage renders only
what changed and writes each file once per run

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('icsevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('calendar_id', sa.String(length=255), nullable=False),
    sa.Column('uid', sa.String(length=255), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('tzid', sa.String(length=64), nullable=True),
    sa.Column('vevent', sa.Text(), nullable=False),
    sa.Column('updated_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('calendar_id', 'uid', name='uq_icsevent_uid')
    )
    op.create_table('icsfile',
    sa.Column('calendar_id', sa.String(length=255), nullable=False),
    sa.Column('dirty', sa.Boolean(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('updated_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('calendar_id')
    )


def downgrade() -> None:
    op.drop_table('icsfile')
    op.drop_table('icsevent')
