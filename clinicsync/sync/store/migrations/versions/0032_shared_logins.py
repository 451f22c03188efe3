"""loginfailure and revokedsession: the status page's failed logins, lockouts and logouts, shared by
the server's replicas on one PostgreSQL store

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-26 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0032'
down_revision: str | None = '0031'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('loginfailure',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure', sa.Float(), nullable=False),
    sa.Column('locked_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('loginfailure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loginfailure_last_failure'), ['last_failure'], unique=False)
    op.create_table('revokedsession',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('revokedsession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revokedsession_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('revokedsession')
    op.drop_table('loginfailure')
