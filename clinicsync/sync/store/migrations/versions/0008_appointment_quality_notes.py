"""appointment.quality_notes: optional values a mapping dropped (or stood in for) are noted on
the appointment instead of quarantining it; hl7message.digest and ack_text: an identical
replay gets its original ACK, a different message under a used control id is told apart

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 06:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quality_notes', sa.Text(), nullable=True))
    with op.batch_alter_table('hl7message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('ack_text', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('hl7message', schema=None) as batch_op:
        batch_op.drop_column('ack_text')
        batch_op.drop_column('digest')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('quality_notes')
