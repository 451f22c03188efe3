"""Taking back the desk's *Booked by hand* on a waitlist task, like every other desk action
(within the undo window): the slot's booking goes back to the task it was (``desk_task`` or
``failed``), the patient's entry to the state it had (waiting, expired), and the desk_action
row stays, marked undone, as the record of both.

Refused when something else already followed from the booking: the patient's later visit
released automatically (``release_later: auto`` cancelled it at the source), or the slot is no
longer the one booked (the source or another desk changed it meanwhile)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from clinicsync.common.waitlist_states import BookingStatus, EntryStatus, SlotStatus
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.store.model import Patient, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store

S, E, OF, DK, W = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS, DESK_ACTIONS, WRITEBACKS
P = table_of(Patient)
BOOKED = "waitlist_booked"
PRIOR_BOOKING = (BookingStatus.DESK_TASK, BookingStatus.FAILED)


class NotUndone(Exception):
    """The booking was not taken back: ``why`` in the desk's words (no patient data)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def undo_booked(store: Store, action_id: int, user: str, now: datetime, window: timedelta) -> int | None:
    """Take back *Booked by hand* ``action_id``; the slot's id, None when there is no such
    action. Raises NotUndone with the reason when it cannot be taken back."""
    with writer(store.engine) as connection:
        target = connection.execute(select(DK).where(DK.c.id == action_id, DK.c.action == BOOKED)).first()
        if target is None:
            return None
        if target.undone_at is not None:
            raise NotUndone("This booking was already undone.")
        if now - target.at > window:
            raise NotUndone(f"Undo is offered for {int(window.total_seconds() // 60)} minutes after an action; "
                            "the slot stays booked.")
        if target.prior_answer not in PRIOR_BOOKING:  # recorded before undo kept what it changed
            raise NotUndone("This booking was recorded without what an undo needs: the slot stays booked.")
        slot = connection.execute(select(S).where(
            S.c.appointment_id == target.appointment_id, S.c.appointment_version == target.version,
            S.c.status == SlotStatus.TAKEN, S.c.booking_status == BookingStatus.WRITTEN).with_for_update()).first()
        entry = connection.execute(select(E).join(OF, OF.c.entry_id == E.c.id).where(
            OF.c.id == slot.taken_offer_id)).first() if slot is not None else None
        if slot is None or entry is None:
            raise NotUndone("The slot changed since (at the source or by another desk): it stays as it is now.")
        if _released_by_booking(connection, slot, entry, target):
            raise NotUndone("The patient's later visit was already released at the source: the booking stands. "
                            "Book the later visit again there if the slot was not booked after all.")
        connection.execute(update(S).where(S.c.id == slot.id).values(booking_status=target.prior_answer))
        if entry.status == EntryStatus.BOOKED and target.reason in (EntryStatus.WAITING, EntryStatus.EXPIRED):
            connection.execute(update(E).where(E.c.id == entry.id).values(status=target.reason, updated_at=now))
        connection.execute(update(DK).where(DK.c.id == target.id).values(undone_at=now, undone_by=user[:64]))
    return int(slot.id)


def _released_by_booking(connection: Connection, slot: Any, entry: Any, target: Any) -> bool:
    """Whether booking ``slot`` released the patient's later visit (``release_later: auto``):
    the write-back linked to the slot (``writeback.freed_slot_id``, release.py).

    Found by the link and not by time: "a cancel of the later visit written at or after the
    booking's moment" was the old rule, and it took any such cancel for the release: the
    patient's own decline of that visit by SMS in the same second (with ``decline_cancels``), or
    the desk's cancel of it, refused the Undo of a booking that released nothing. A release
    written before the link existed (migration 0047) has none; for those the old rule stands,
    narrowed to what a release was: an unlinked cancel of the later visit written at the
    booking's very moment (the desk's answer dates both with its own time, book_tasks.py)."""
    if connection.execute(select(W.c.id).where(W.c.freed_slot_id == slot.id).limit(1)).first() is not None:
        return True
    if entry.current_appointment_id is None:
        return False
    return connection.execute(select(W.c.id).where(
        W.c.appointment_id == entry.current_appointment_id, W.c.appointment_status == "cancelled",
        W.c.freed_slot_id.is_(None), W.c.desk_action_id.is_(None), W.c.created_at == target.at).limit(1)
    ).first() is not None


def undo_offer(store: Store, action_id: int, now: datetime, window: timedelta) -> dict[str, Any] | None:
    """The "Recorded: booked by hand … Undo" line after the desk's answer: the patient's name
    and the slot's time, while the booking can still be taken back; None otherwise."""
    with store.engine.connect() as connection:
        row = connection.execute(
            select(DK.c.id, DK.c.appointment_id, DK.c.at, DK.c.undone_at, DK.c.prior_answer, S.c.start_utc,
                   S.c.timezone,
                   E.c.patient_ref, P.c.name)
            .select_from(DK.join(S, (S.c.appointment_id == DK.c.appointment_id)
                                 & (S.c.appointment_version == DK.c.version))
                         .join(OF, OF.c.id == S.c.taken_offer_id).join(E, E.c.id == OF.c.entry_id)
                         .outerjoin(P, (P.c.connector == E.c.connector) & (P.c.external_id == E.c.patient_ref)))
            .where(DK.c.id == action_id, DK.c.action == BOOKED, S.c.status == SlotStatus.TAKEN)).first()
    if row is None or row.undone_at is not None or row.prior_answer not in PRIOR_BOOKING or now - row.at > window:
        return None
    return {"id": row.id, "appointment_id": row.appointment_id,
            "patient": row.name or f"patient {row.patient_ref}", "start_utc": row.start_utc,
            "timezone": row.timezone, "until": row.at + window}
