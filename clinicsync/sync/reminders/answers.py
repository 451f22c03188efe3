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

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.reminders.answered import DECLINED_REASON
from clinicsync.sync.reminders.doctor_values import desk_note
from clinicsync.sync.reminders.planned_rows import reminder_key
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import WRITEBACKS

A = table_of(Appointment)
R = REMINDERS
PARTICIPATION = {"confirm": "accepted", "decline": "declined"}


def own_messages(appointment_id: int, patient_ref: str | None) -> tuple[ColumnElement[bool], ...]:
    """The messages about this appointment planned for the patient who has it now. A visit
    the source gave to another patient keeps the first patient's rows (docs/reminders.md):
    what the patient who has it now says or does must not touch them."""
    return R.c.appointment_id == appointment_id, R.c.recipient == "patient", R.c.recipient_ref == patient_ref


def apply_answer(connection: Connection, settings: Settings, appointment: Any, action: str,
                 now: datetime, *, from_source: bool = False, desk_action: int | None = None,
                 desk_reason: str | None = None) -> int | None:
    """Record accepted/declined on the appointment and everything that follows from it; the id
    of the write-back row it queued (None when none is: write-back off, or ``from_source``), so a
    caller that adds to that row (a waitlist release) names it rather than looks for it.
    ``from_source``: the source itself recorded it (a desk confirmation), so it is neither
    written back nor announced to the doctor — the clinic's own system already shows it.
    ``desk_action``: the front desk recorded it (sync/desk/actions.py, that action's id), with
    ``desk_reason`` (staff words): a decline is then the desk's cancel, the doctor's notice says
    so and its key names the action, so the same cancel taken again after an undo is a notice
    of its own rather than the withdrawn one; the write-back row carries the action's id
    (``desk_action_id``), the link by which the action's cancel and Undo find their own row."""
    status = PARTICIPATION[action]
    connection.execute(update(A).where(A.c.id == appointment.id).values(participation=status, participation_at=now))
    config = settings.responses
    if status == "declined":
        if config.cancel_reminders_on_decline:  # the answering patient's own: a notice owed to a
            connection.execute(update(R).where(  # patient who had the visit before still goes
                *own_messages(appointment.id, appointment.patient_ref), R.c.status == "pending").values(
                status="cancelled", reason=DECLINED_REASON, updated_at=now))
        if config.notify_practitioner and appointment.practitioner_ref and not from_source:
            _notify_practitioner(connection, appointment, now, desk_action,
                                 desk_note(desk_reason) if desk_action is not None else None)
    if not config.writeback or from_source:
        return None
    queued = connection.execute(insert(WRITEBACKS).values(
        appointment_id=appointment.id, connector=appointment.connector, external_id=appointment.external_id,
        patient_ref=appointment.patient_ref, participant_status=status,
        appointment_status="cancelled" if status == "declined" and config.decline_cancels else None,
        status="pending", attempts=0, next_at=now, created_at=now, desk_action_id=desk_action)).inserted_primary_key
    return int(queued[0]) if queued is not None else None


def declined_notice_key(appointment: Any, desk_action: int | None) -> str:
    """The key of the doctor's `declined` notice: the visit's version, and the desk action it
    belongs to when the desk cancelled (a patient's decline has one per version)."""
    return reminder_key(appointment.id, "practitioner", "declined",
                        f"desk{desk_action}" if desk_action is not None else None, appointment.version)


# A doctor's notice that told them: handed over to the mail provider (sent, delivered), or in
# its hands right now (sending). One that failed, was skipped or is of unknown outcome told them
# nothing, so it is neither their last word nor something to answer with "on again".
HEARD = frozenset({ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.SENDING})
TOLD_OR_DUE = HEARD | {ReminderStatus.PENDING}


def doctors_last_word(connection: Connection, appointment: Any) -> Any | None:
    """The doctor's last notice on this version of the visit (``declined`` or a "booked"
    ``confirmation``) that told them (HEARD) or is about to (pending): what the doctor was, or
    is about to be, told. A notice that failed or was skipped is no word of theirs: a later
    decline or cancel after it is news to the doctor and is planned."""
    return connection.execute(select(R.c.id, R.c.kind, R.c.status, R.c.key).where(
        R.c.appointment_id == appointment.id, R.c.recipient == "practitioner", R.c.version == appointment.version,
        R.c.kind.in_(("declined", "confirmation")), R.c.status.in_(TOLD_OR_DUE)
    ).order_by(R.c.id.desc()).limit(1)).first()


def _notify_practitioner(connection: Connection, appointment: Any, now: datetime, desk_action: int | None,
                         note: str | None) -> None:
    """A `declined` notice to the doctor, sent by the reminders dispatcher like any other, so
    that the doctor's last word on this version of the visit is that it is off. An "on again"
    notice still unsent (of an undone cancel, or of a phone confirmation) is withdrawn (the
    doctor hears only the final state); nothing new is planned when the doctor's last word
    (doctors_last_word: told or due, never one that failed or was skipped) already says declined
    (a desk cancel after the patient's own decline, or after an undo whose "booked again" was
    withdrawn before it went). ``note`` records a desk's cancel (doctor_values.desk_note)."""
    mine = (R.c.appointment_id == appointment.id, R.c.recipient == "practitioner", R.c.version == appointment.version)
    on_again = R.c.key.like(f"a{appointment.id}:practitioner:confirmation:undo%") | R.c.key.like(
        f"a{appointment.id}:practitioner:confirmation:desk%")
    connection.execute(update(R).where(*mine, R.c.kind == "confirmation", R.c.status == "pending", on_again).values(
        status="cancelled", reason="declined again", updated_at=now))
    last = doctors_last_word(connection, appointment)
    key = declined_notice_key(appointment, desk_action)
    if last is not None and last.kind == "declined":
        return
    if connection.execute(select(R.c.id).where(R.c.key == key)).first() is not None:  # a withdrawn one: it stays so
        return
    plan_doctor_notice(connection, appointment, "declined", key, note, now)


def plan_doctor_notice(connection: Connection, appointment: Any, kind: str, key: str, note: str | None,
                       now: datetime) -> None:
    """One notice to the visit's doctor (``declined``, or a ``confirmation`` that it is on),
    due now and sent by the reminders dispatcher like any other: the one way the doctor's
    last word is written, by a patient's answer here and by the desk (sync/desk/doctor_word.py)."""
    connection.execute(insert(R).values(
        key=key, appointment_id=appointment.id, connector=appointment.connector, recipient="practitioner",
        recipient_ref=appointment.practitioner_ref, kind=kind, version=appointment.version,
        starts_at=appointment.start_utc, due_at=now, status=ReminderStatus.PENDING, note=note, tried="",
        attempts=0, created_at=now, updated_at=now))
