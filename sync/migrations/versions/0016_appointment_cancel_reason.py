"""appointment.cancel_reason: why the source cancelled an appointment (a mapping's
`cancel_reason:`), shown to the patient only when the clinic lists the reason (issue 22)

Revision ID: 0016
Revises: 0012
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
