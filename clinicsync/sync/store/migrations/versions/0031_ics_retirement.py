"""icsevent.ends_at and icsfile.retired_at: a past event leaves its .ics file and the table
calendar.ics.keep_past_days after its visit ended, found through the index
(calendar_id, ends_at) rather than a scan of every event

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-26 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clinicsync.common.types

revision: str = '0031'
down_revision: str | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 1000


def upgrade() -> None:
    with op.batch_alter_table('icsevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_at', clinicsync.common.types.UtcDateTime(), nullable=True))
        batch_op.create_index('ix_icsevent_calendar_ends', ['calendar_id', 'ends_at'], unique=False)
    with op.batch_alter_table('icsfile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', clinicsync.common.types.UtcDateTime(), nullable=True))
    # The events clinicsync wrote before: each one's visit end, from its link's appointment (the
    # link names the file and the event id; the UID is "<event id>@clinicsync"). Copied as the
    # driver reads it (the same column type both sides). An event without a link (adopted from a
    # file edited by hand) keeps none: it is not ours and stays. retired_at stays NULL: the first
    # run retires every file's past events once.
    bind = op.get_bind()
    link = sa.table('calendarlink', sa.column('appointment_id'), sa.column('provider'),
                    sa.column('calendar_id'), sa.column('event_id'))
    appointment = sa.table('appointment', sa.column('id'), sa.column('end_utc'))
    event = sa.table('icsevent', sa.column('calendar_id'), sa.column('uid'), sa.column('ends_at'))
    found = bind.execute(sa.select(link.c.calendar_id, link.c.event_id, appointment.c.end_utc)
                         .select_from(link.join(appointment, appointment.c.id == link.c.appointment_id))
                         .where(link.c.provider == 'ics')).all()
    update = (sa.update(event).where(event.c.calendar_id == sa.bindparam('c'), event.c.uid == sa.bindparam('u'))
              .values(ends_at=sa.bindparam('e')))
    rows = [{'c': calendar_id, 'u': f'{event_id}@clinicsync', 'e': end} for calendar_id, event_id, end in found]
    for start in range(0, len(rows), _CHUNK):
        bind.execute(update, rows[start:start + _CHUNK])


def downgrade() -> None:
    with op.batch_alter_table('icsfile', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('icsevent', schema=None) as batch_op:
        batch_op.drop_index('ix_icsevent_calendar_ends')
        batch_op.drop_column('ends_at')
