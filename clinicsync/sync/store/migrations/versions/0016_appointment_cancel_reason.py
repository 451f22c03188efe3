"""appointment.cancel_reason: why the source cancelled an appointment (a mapping's
`cancel_reason:`), shown to the patient only when the clinic lists the reason; doctoranswer:
a doctor's decline read from their calendar

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=255), nullable=True))
    op.create_table('doctoranswer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('practitioner_ref', sa.String(length=255), nullable=False),
    sa.Column('answer', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('calendar', sa.String(length=320), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('recorded_at', clinicsync.common.types.UtcDateTime(), nullable=False),
    sa.Column('cleared_at', clinicsync.common.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('appointment_id', 'practitioner_ref', 'answer', name='uq_doctor_answer_appointment')
    )
    with op.batch_alter_table('doctoranswer', schema=None) as batch_op:
        batch_op.create_index('ix_doctor_answer_open', ['cleared_at', 'appointment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('doctoranswer', schema=None) as batch_op:
        batch_op.drop_index('ix_doctor_answer_open')
    op.drop_table('doctoranswer')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
