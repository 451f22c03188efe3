"""The doctor's last word on a visit as the front desk's answers change it: a phone confirmation
after a decline the doctor heard of tells them the visit is on again, and each undo puts their
last word back to what it was.

The doctor hears only the final state: a notice still unsent when the desk's step makes it
untrue is withdrawn (and put back by that step's undo) rather than followed by a second one.
Every notice planned here goes through the reminders dispatcher like any other doctor's notice,
its key naming the desk action it belongs to, so a step taken again after an undo plans a notice
of its own instead of landing on the one the undo withdrew."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.reminders.answers import HEARD, declined_notice_key, doctors_last_word, plan_doctor_notice
from clinicsync.sync.reminders.doctor_values import ON_AGAIN_NOTES
from clinicsync.sync.reminders.planned_rows import reminder_key
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.reminders import REMINDERS

DK, RM = DESK_ACTIONS, REMINDERS
CONFIRMED_BY_PHONE = "the patient confirmed by phone"  # the reason of the "declined" notice a confirmation withdrew
CONFIRMATION_UNDONE = "the desk undid its confirmation"
CANCEL_UNDONE = "the desk undid its cancel"


def on_again_key(appointment: Any, action_id: int) -> str:
    """The key of the "on again" notice a desk confirmation plans: the visit, its version and the action."""
    return reminder_key(appointment.id, "practitioner", "confirmation", f"desk{action_id}", appointment.version)


def _withdraw(connection: Connection, reminder_id: int, reason: str, now: datetime) -> None:
    connection.execute(update(RM).where(RM.c.id == reminder_id).values(
        status=ReminderStatus.CANCELLED, reason=reason, updated_at=now))


def tell_doctor_confirmed(connection: Connection, appointment: Any, action_id: int, now: datetime) -> None:
    """After the desk's "confirmed by phone": when the doctor's last word on this version is
    ``declined``, it is withdrawn while unsent (its id kept on the action, for the undo), else
    the doctor gets one notice that the visit is on again once it was handed over (HEARD).
    Nothing when the doctor was never told it is off (no decline, or one that failed or was
    skipped). The withdrawn notice's id is kept as the action's ``cancelled_reminders``
    (a confirmation cancels none of the patient's messages)."""
    if not appointment.practitioner_ref:
        return
    last = doctors_last_word(connection, appointment)
    if last is None or last.kind != "declined":
        return
    if last.status == ReminderStatus.PENDING:
        _withdraw(connection, last.id, CONFIRMED_BY_PHONE, now)  # a confirmation cancels no patient's message:
        connection.execute(update(DK).where(DK.c.id == action_id).values(cancelled_reminders=str(last.id)))
        return
    plan_doctor_notice(connection, appointment, "confirmation", on_again_key(appointment, action_id),
                       ON_AGAIN_NOTES["phone"], now)


def confirmation_undone(connection: Connection, appointment: Any, target: Any, now: datetime) -> None:
    """Undo of "confirmed by phone": the doctor's word goes back to the decline. The "declined"
    notice the confirmation withdrew is pending again; its "on again" notice is withdrawn while
    unsent, and once it went the doctor is told the visit is off again (the patient's decline,
    which stands again)."""
    withdrawn = [int(i) for i in (target.cancelled_reminders or "").split(",") if i]
    if withdrawn:
        connection.execute(update(RM).where(
            RM.c.id.in_(withdrawn), RM.c.recipient == "practitioner", RM.c.status == ReminderStatus.CANCELLED,
            RM.c.reason == CONFIRMED_BY_PHONE).values(status=ReminderStatus.PENDING, reason=None, updated_at=now))
        return
    told = connection.execute(select(RM.c.id, RM.c.status).where(RM.c.key == on_again_key(appointment, target.id),
                                                              RM.c.status != ReminderStatus.CANCELLED)).first()
    if told is None:
        return
    if told.status == ReminderStatus.PENDING:
        _withdraw(connection, told.id, CONFIRMATION_UNDONE, now)
        return
    if told.status not in HEARD:  # it failed or was skipped: the decline they heard still stands
        return
    plan_doctor_notice(connection, appointment, "declined",
          reminder_key(appointment.id, "practitioner", "declined", f"undo{target.id}", appointment.version), None, now)


def cancel_undone(connection: Connection, appointment: Any, target: Any, now: datetime) -> None:
    """After the cancel's undo the doctor's last word is what it was before the cancel. The
    cancel's own notice, still unsent, is withdrawn whatever answer is put back (the patient's
    own decline included: the doctor is not told of a cancel that was undone, and the cancel
    taken again plans a notice of its own, its key naming that action). Otherwise, when the
    answer put back is not a decline: the doctor's standing "declined" notice is withdrawn while
    unsent, and once sent the doctor gets the "on again" notice. Nothing more when the answer put
    back is the patient's own decline (which stands), or when the decline never reached the
    doctor (not HEARD)."""
    if not appointment.practitioner_ref:
        return
    own = connection.execute(select(RM.c.id).where(RM.c.key == declined_notice_key(appointment, target.id),
                                                   RM.c.status == ReminderStatus.PENDING)).first()
    if own is not None:
        _withdraw(connection, own.id, CANCEL_UNDONE, now)
        return
    if target.prior_answer == "declined":
        return
    last = doctors_last_word(connection, appointment)
    if last is None or last.kind != "declined":
        return
    if last.status == ReminderStatus.PENDING:
        _withdraw(connection, last.id, CANCEL_UNDONE, now)
        return
    plan_doctor_notice(connection, appointment, "confirmation",
          reminder_key(appointment.id, "practitioner", "confirmation", f"undo{target.id}", appointment.version),
          ON_AGAIN_NOTES["undo"], now)
