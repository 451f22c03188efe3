"""After a waitlist booking: the patient's later appointment.

An entry may name the appointment it would replace (``current_appointment_id``). Once the
earlier slot is booked, that later appointment should be given back, or the patient holds
two places and the later one is lost to everybody else. ``waitlist.booking.release_later``:

- ``ask`` (default): a front-desk task "release the later appointment" on the status page
  (sync/waitlist/book_tasks.py); the desk asks the patient, cancels it, marks it done;
- ``auto``: cancelled as the desk's "Cancel visit" would be (sync/responses/record.py
  ``apply_answer``: the patient's pending reminders stop, the doctor is told, and the write-back
  outbox cancels it at the source). A source that takes no write-back gets the desk task instead;
- ``keep``: nothing.

Runs inside the transaction that marks the slot booked, so it happens exactly once.

The release is the decline ``apply_answer`` queues for the later visit, made a cancel at the
source: that row is named by the id ``apply_answer`` returns, and carries the slot it was
released for (``writeback.freed_slot_id``), the link by which the desk's Undo of the booking knows
the release as the booking's own (book_undo.py). It used to be found as the visit's newest
pending write-back: the same row while every writer of the visit's write-back locks the visit's
row first (as ``apply_answer`` and the desk's Undo do), but a rule of order that nothing here
stated, and a row that said nothing of why it was written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.waitlist_booking import booking_settings
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.model.responses import WRITEBACKS

A = table_of(Appointment)


def later_appointment(connection: Connection, entry: Any) -> Any | None:
    """The entry's later appointment while it is still active and not deleted, and only when it
    is the entry's own patient's at the entry's source: an id that names another patient's visit
    (a forged form, a source's typo) never releases it."""
    if entry.current_appointment_id is None:
        return None
    return connection.execute(select(A).where(
        A.c.id == entry.current_appointment_id, A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES),
        A.c.connector == entry.connector, A.c.patient_ref == entry.patient_ref)).first()


def after_booking(connection: Connection, settings: Settings, entry: Any, slot_id: int, now: datetime) -> str | None:
    """Handle the later appointment per ``release_later`` once slot ``slot_id`` is booked for
    ``entry``; what was done: ``released`` (auto), ``ask`` (a desk task shows), or None (nothing
    to release, or keep)."""
    mode = booking_settings(settings).release_later
    later = later_appointment(connection, entry)
    if later is None or mode == "keep":
        return None
    if mode == "auto" and settings.writes_back(later.connector):
        from clinicsync.sync.reminders.answers import apply_answer  # only to release one

        queued = apply_answer(connection, settings, later, "decline", now)
        if queued is not None:  # always, as writes_back says write-back is on
            connection.execute(update(WRITEBACKS).where(WRITEBACKS.c.id == queued).values(
                appointment_status="cancelled", freed_slot_id=slot_id))
        return "released"
    return "ask"
