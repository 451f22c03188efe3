"""A patient's answer and what follows from it, in the caller's transaction: the visit's
participation recorded, the answering patient's pending messages cancelled on a decline, the
doctor's `declined` notice planned, the write-back to the source queued.

Every path that records an answer calls this one function: an SMS or WhatsApp reply and an
answer page (responses/), the front desk (ui/), a source that recorded the answer itself, and
the waiting list releasing a patient's later visit once an earlier slot is booked (waitlist/).
It lives below them all, with the messages it cancels and plans."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select, update

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.answered import DECLINED_REASON
from clinicsync.sync.reminders.doctor_values import desk_note
from clinicsync.sync.reminders.planner import reminder_key
from clinicsync.sync.store.model import Appointment
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import WRITEBACKS

A = Appointment.__table__  # type: ignore[attr-defined]
R = REMINDERS
PARTICIPATION = {"confirm": "accepted", "decline": "declined"}


def own_messages(appointment_id: int, patient_ref: str | None) -> tuple[ColumnElement[bool], ...]:
    """The messages about this appointment planned for the patient who has it now. A visit
    the source gave to another patient keeps the first patient's rows (docs/reminders.md):
    what the patient who has it now says or does must not touch them."""
    return R.c.appointment_id == appointment_id, R.c.recipient == "patient", R.c.recipient_ref == patient_ref


def apply_answer(connection: Connection, settings: Settings, appointment: Any, action: str,
                 now: datetime, *, from_source: bool = False, desk: bool = False,
                 desk_reason: str | None = None) -> None:
    """Record accepted/declined on the appointment and everything that follows from it.
    ``from_source``: the source itself recorded it (a desk confirmation), so it is neither
    written back nor announced to the doctor — the clinic's own system already shows it.
    ``desk``: the front desk recorded it (sync/ui/desk_actions.py), with ``desk_reason`` (staff
    words): a decline is then the desk's cancel, and the doctor's notice says so (issue 58)."""
    status = PARTICIPATION[action]
    connection.execute(update(A).where(A.c.id == appointment.id).values(participation=status, participation_at=now))
    config = settings.responses
    if status == "declined":
        if config.cancel_reminders_on_decline:  # the answering patient's own: a notice owed to a
            connection.execute(update(R).where(  # patient who had the visit before still goes
                *own_messages(appointment.id, appointment.patient_ref), R.c.status == "pending").values(
                status="cancelled", reason=DECLINED_REASON, updated_at=now))
        if config.notify_practitioner and appointment.practitioner_ref and not from_source:
            _notify_practitioner(connection, appointment, now, desk_note(desk_reason) if desk else None)
    if config.writeback and not from_source:
        connection.execute(insert(WRITEBACKS).values(
            appointment_id=appointment.id, connector=appointment.connector, external_id=appointment.external_id,
            patient_ref=appointment.patient_ref, participant_status=status,
            appointment_status="cancelled" if status == "declined" and config.decline_cancels else None,
            status="pending", attempts=0, next_at=now, created_at=now))


def _notify_practitioner(connection: Connection, appointment: Any, now: datetime, note: str | None) -> None:
    """A `declined` notice to the doctor, sent by the reminders dispatcher like any other. The
    kind and key stay `declined` whoever declined (the dispatcher and the desk's undo find it
    by them); ``note`` records a desk's cancel (doctor_values.desk_note), which the notice says."""
    key = reminder_key(appointment.id, "practitioner", "declined", None, appointment.version)
    if connection.execute(select(R.c.id).where(R.c.key == key)).first() is not None:
        return
    connection.execute(insert(R).values(
        key=key, appointment_id=appointment.id, connector=appointment.connector, recipient="practitioner",
        recipient_ref=appointment.practitioner_ref, kind="declined", version=appointment.version,
        starts_at=appointment.start_utc, due_at=now, status="pending", note=note, tried="", attempts=0,
        created_at=now, updated_at=now))
