"""Recording what the front desk did about an appointment (issue 30, obs 1): confirmed by
phone, left a message, no-show, cancel, reschedule request handled.

A confirmation or a cancellation is the patient's answer given by phone, so it goes the way
every answer goes (sync/responses/record.py ``apply_answer``): the appointment's answer,
the patient's pending reminders, the doctor's notice and the write-back outbox, which the
write-back stage hands to the source where it takes answers (sync/responses/writeback.py).
A source that does not (a CSV export) is not changed: the action's ``source`` says
``by_hand`` and the page says what to do there. Each action is one desk_action row with who
and when, written in the same transaction as what it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from clinicsync.sync.model import Appointment
from clinicsync.sync.model.desk import DESK_ACTIONS, DESK_ACTIONS_KINDS
from clinicsync.sync.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.responses.keywords import Action
from clinicsync.sync.responses.record import apply_answer
from clinicsync.sync.settings import Settings
from clinicsync.sync.store import Store
from clinicsync.sync.ui.desk import source_kind, writes_back

A = Appointment.__table__  # type: ignore[attr-defined]
LABELS = {"confirmed_by_phone": "confirmed by phone", "left_message": "left a message", "no_show": "no-show",
          "cancel": "cancelled", "reschedule_handled": "reschedule request handled"}
BUTTONS = {"confirmed_by_phone": "Confirmed by phone", "left_message": "Left a message", "no_show": "No-show",
           "cancel": "Cancel visit", "reschedule_handled": "Reschedule handled"}
ANSWERS: dict[str, Action] = {"confirmed_by_phone": "confirm", "cancel": "decline"}


class UnknownAction(ValueError):
    """Not one of DESK_ACTIONS_KINDS (a hand-made post)."""


def source_hint(settings: Settings, connector: str, action: str, source: str) -> str:
    """What became of the action at the source, in words for the desk."""
    kind = source_kind(settings, connector)
    if source == "queued":
        return f"written back to {connector} ({kind})"
    if action == "cancel":
        return f"still booked in {kind}: cancel it in {kind} too (this source is not written back)"
    if action == "confirmed_by_phone":
        return f"recorded here; {kind} is not written back"
    if action == "no_show":
        return f"mark it as a no-show in {kind} too"
    return ""


def record_action(settings: Settings, store: Store, appointment_id: int, action: str, user: str, role: str,
                  now: datetime) -> dict[str, Any] | None:
    """Record ``action``; None when there is no such appointment. Returns the row written."""
    if action not in DESK_ACTIONS_KINDS:
        raise UnknownAction(action)
    with writer(store.engine) as connection:
        appointment = connection.execute(select(A).where(A.c.id == appointment_id, A.c.deleted_at.is_(None))).first()
        if appointment is None:
            return None
        answer = ANSWERS.get(action)
        source = "none"
        if answer is not None:
            source = "queued" if writes_back(settings, appointment.connector) else "by_hand"
        elif action == "no_show":
            source = "by_hand"
        row = {"appointment_id": appointment.id, "version": appointment.version, "action": action,
               "user": user[:64], "role": role[:16], "source": source, "at": now}
        inserted = connection.execute(insert(DESK_ACTIONS).values(row)).inserted_primary_key
        assert inserted is not None
        action_id = int(inserted[0])
        if answer is not None:
            connection.execute(insert(RESPONSES).values(
                channel="desk", sender=user[:320], body=None, language=None, action=answer, outcome="applied",
                appointment_id=appointment.id, reminder_id=None, provider_id=f"desk:{action_id}", received_at=now))
            apply_answer(connection, settings, appointment, answer, now)
            if action == "cancel":  # the desk cancels the visit, not only the patient's attendance
                newest = select(func.max(WRITEBACKS.c.id)).where(
                    WRITEBACKS.c.appointment_id == appointment.id, WRITEBACKS.c.status == "pending").scalar_subquery()
                connection.execute(update(WRITEBACKS).where(WRITEBACKS.c.id == newest).values(
                    appointment_status="cancelled"))
    return {**row, "id": action_id}


def actions_of(store: Store, appointment_id: int) -> list[Any]:
    """The desk's actions on one appointment, oldest first."""
    with store.engine.connect() as connection:
        return list(connection.execute(select(DESK_ACTIONS).where(DESK_ACTIONS.c.appointment_id == appointment_id)
                                       .order_by(DESK_ACTIONS.c.at, DESK_ACTIONS.c.id)))
