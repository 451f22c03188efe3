"""Freed slots: which cancellations free time worth offering, and when an open slot closes
by itself. Three ways an appointment is cancelled, three readers, one row per freed time:

* **the source** cancels or deletes it: outbox events ``cancelled`` / ``deleted``, read with
  the ``waitlist`` consumer offset (sync/store/outbox.py), advanced in the same transaction;
* **the patient** cancels by SMS or through the answer page: the appointment's
  ``participation`` becomes ``declined`` (sync/responses/record.py), while the source may
  still list it as booked until the write-back lands;
* **the desk** cancels it on the status page: a ``desk_action`` ``cancel`` on its current version.

A slot is inserted only while its start is further ahead than ``waitlist.lead_time``, once per
(appointment, version) (the table's unique key) and once per freed time: the source's own
cancel that follows a patient's "cancel" (the write-back) frees no second slot for the same time.
A freed time is a doctor's (a slot copies the doctor, offers match it, a booking over it fills it
for that doctor only): a cancelled visit the source then gives to another doctor at the same start
frees that doctor's time too, a slot of its own, while the first doctor's stays open. Keyed by
visit and start alone, the second doctor's time was taken as freed already and never offered to
the patients waiting for that doctor; moving the open slot to the new doctor instead would take
back a time still free in the first doctor's day, and any offer already out for it.
A slot withdrawn because its visit held the time again (the desk undid its cancel before anyone
was offered it) is opened again, the same row, when the visit is cancelled again. A slot closed
because another visit held the doctor's time (``filled_by_source``) is not that time freed: once
that visit has gone, a later cancel or delete of this one frees the time anew (a new row, its own
offers). Counted as freed already, a desk cancel made while two visits shared the time kept the
source's later delete, after the other visit moved away, from ever being offered.

An open slot closes when its start comes within the lead time (``expired``), when its own
appointment holds the time again with the same doctor (``withdrawn``: un-cancelled, the patient
confirmed again, or moved back; a visit that holds the time with another doctor takes nothing
from the first doctor's day, whose slot stays open with its offers), or when the source books
another appointment over it for the same doctor (``filled_by_source``). The offers still out for it close with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.common.waitlist_states import OfferStatus, SlotStatus
from clinicsync.sync.store.db import insert_ignoring_duplicates
from clinicsync.sync.store.model import Appointment, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_OFFERS
from clinicsync.sync.store.outbox import advance, claim_offset, read_events, settled
from clinicsync.sync.store.tables import WAITLIST_CONSUMER

A = table_of(Appointment)
S = FREED_SLOTS
O = WAITLIST_OFFERS  # noqa: E741 - the offers table, as the other tables' one-letter names
CONSUMER = WAITLIST_CONSUMER
OUT = (OfferStatus.PENDING, OfferStatus.SENT)  # offers still out: they close with their slot
FREED_BY_EVENT = {"cancelled": "source", "deleted": "deleted"}


@dataclass
class DetectReport:
    freed: int = 0
    expired: int = 0
    withdrawn: int = 0
    filled_by_source: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"freed": self.freed, "expired": self.expired, "withdrawn": self.withdrawn,
                "filled_by_source": self.filled_by_source}


def inserted(connection: Connection, table: Any, statement: Any) -> int:
    """Rows an INSERT that skips duplicates wrote: psycopg reports no rowcount for one
    (``-1``), so PostgreSQL and SQLite count what ``RETURNING`` gives back."""
    if connection.dialect.name in ("postgresql", "sqlite"):
        return len(connection.execute(statement.returning(table.c.id)).all())
    return max(connection.execute(statement).rowcount or 0, 0)


def _desk_cancelled(connection: Connection, ids: list[int]) -> set[tuple[int, int]]:
    """(appointment id, version) pairs the desk cancelled."""
    if not ids:
        return set()
    rows = connection.execute(select(DESK_ACTIONS.c.appointment_id, DESK_ACTIONS.c.version).where(
        DESK_ACTIONS.c.appointment_id.in_(ids), DESK_ACTIONS.c.action == "cancel",
        DESK_ACTIONS.c.undone_at.is_(None)))  # a cancel the desk took back (undo) holds no slot
    return {(r.appointment_id, r.version) for r in rows}


def holds(appointment: Any, desk_cancelled: set[tuple[int, int]]) -> bool:
    """Whether the appointment takes its time: active at the source, not declined by its
    patient, not cancelled by the desk on this version."""
    return (appointment.deleted_at is None and appointment.status in ACTIVE_STATUSES
            and appointment.participation != "declined"
            and (appointment.id, appointment.version) not in desk_cancelled)


def _free(connection: Connection, appointment: Any, freed_by: str, now: datetime, lead: timedelta,
          report: DetectReport) -> None:
    """One freed_slot for this appointment's time, unless too close, or already freed."""
    if appointment.start_utc <= now + lead:
        return
    already = connection.execute(select(S.c.id).where(  # this doctor's time, freed already (module docstring)
        S.c.appointment_id == appointment.id, S.c.start_utc == appointment.start_utc,
        S.c.practitioner_ref.is_not_distinct_from(appointment.practitioner_ref),
        S.c.status.not_in((SlotStatus.WITHDRAWN, SlotStatus.FILLED_BY_SOURCE))).limit(1)).first()
    if already is not None:
        return
    if connection.execute(update(S).where(  # freed before, withdrawn by an undo, freed again: the same row
            S.c.appointment_id == appointment.id, S.c.appointment_version == appointment.version,
            S.c.status == SlotStatus.WITHDRAWN).values(status=SlotStatus.OPEN, freed_by=freed_by, freed_at=now,
                                                       closed_at=None)).rowcount:
        report.freed += 1
        return
    report.freed += inserted(connection, S, insert_ignoring_duplicates(connection, S).values(
        appointment_id=appointment.id, appointment_version=appointment.version, connector=appointment.connector,
        practitioner_ref=appointment.practitioner_ref, location_ref=appointment.location_ref,
        visit_type=appointment.type, visit_mode=appointment.visit_mode, start_utc=appointment.start_utc,
        end_utc=appointment.end_utc, timezone=appointment.timezone, freed_by=freed_by, freed_at=now,
        status=SlotStatus.OPEN, booking_attempts=0))


def from_events(connection: Connection, now: datetime, lead: timedelta, report: DetectReport) -> None:
    """The source's cancels and deletes since the consumer's offset; the offset advances here."""
    offset = claim_offset(connection, CONSUMER)
    upto = settled(connection)  # not past an event another worker's import has yet to commit
    while True:
        events = read_events(connection, offset, upto=upto)
        if not events:
            return
        wanted = {e.appointment_id: FREED_BY_EVENT[e.kind] for e in events if e.kind in FREED_BY_EVENT}
        if wanted:
            rows = connection.execute(select(A).where(A.c.id.in_(list(wanted)))).all()
            cancelled_by_desk = _desk_cancelled(connection, [r.id for r in rows])
            for row in rows:
                if not holds(row, cancelled_by_desk):  # still cancelled now (a later event may have undone it)
                    _free(connection, row, wanted[row.id], now, lead, report)
        offset = events[-1].id
        report.events += len(events)
        advance(connection, CONSUMER, offset)


def from_answers(connection: Connection, now: datetime, lead: timedelta, report: DetectReport) -> None:
    """The desk's cancels and patients' (participation ``declined``), on appointments the source
    still lists as active and still far enough ahead, not freed yet for their version. The desk's
    first: its cancel declines the visit too, so read after the patients' it was told as the
    patient's (``freed_by``); a desk cancel of a visit its patient had declined already stays the
    patient's (their decline freed the time)."""
    not_freed = ~select(S.c.id).where(S.c.appointment_id == A.c.id, S.c.appointment_version == A.c.version,
                                      S.c.status != SlotStatus.WITHDRAWN).exists()
    ahead = and_(A.c.start_utc > now + lead, A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES), not_freed)
    desk = select(DESK_ACTIONS.c.id).where(DESK_ACTIONS.c.appointment_id == A.c.id,
                                           DESK_ACTIONS.c.version == A.c.version,
                                           DESK_ACTIONS.c.action == "cancel",
                                           DESK_ACTIONS.c.undone_at.is_(None),
                                           or_(DESK_ACTIONS.c.prior_answer.is_(None),
                                               DESK_ACTIONS.c.prior_answer != "declined")).exists()
    for row in connection.execute(select(A).where(ahead, desk)).all():
        _free(connection, row, "desk", now, lead, report)
    for row in connection.execute(select(A).where(ahead, A.c.participation == "declined")).all():
        _free(connection, row, "patient", now, lead, report)


def close_slot(connection: Connection, slot_id: int, status: SlotStatus, now: datetime) -> bool:
    """Close an open slot (expired, withdrawn, filled_by_source) and the offers still out for it.
    Conditional on ``open``: a slot taken meanwhile stays taken. Withdrawn or filled, the offers
    whose hold ran out are withdrawn too: a late tap may take an open slot (accept.py), and a
    withdrawn row is opened again when its visit is cancelled again, where such an old offer would
    take the time anew and keep the desk's Undo refused (sync/desk/actions.py). An expired slot is
    never opened again: its offers expire with it."""
    closed = connection.execute(update(S).where(S.c.id == slot_id, S.c.status == SlotStatus.OPEN).values(
        status=status, closed_at=now)).rowcount
    if closed and status == SlotStatus.EXPIRED:
        connection.execute(update(O).where(O.c.slot_id == slot_id, O.c.status.in_(OUT)).values(
            status=OfferStatus.EXPIRED))
    elif closed:
        connection.execute(update(O).where(O.c.slot_id == slot_id, O.c.status.in_((*OUT, OfferStatus.EXPIRED)))
                           .values(status=OfferStatus.WITHDRAWN))
    return bool(closed)


def reconcile(connection: Connection, now: datetime, lead: timedelta, report: DetectReport) -> None:
    """Close the open slots whose time is too close, came back, or was booked by the source."""
    slots = connection.execute(select(S).where(S.c.status == SlotStatus.OPEN)).all()
    if not slots:
        return
    own = {r.id: r for r in connection.execute(select(A).where(A.c.id.in_([s.appointment_id for s in slots])))}
    for slot in slots:
        if slot.start_utc <= now + lead:
            if close_slot(connection, slot.id, SlotStatus.EXPIRED, now):
                report.expired += 1
            continue
        mine = own.get(slot.appointment_id)
        if (mine is not None and mine.practitioner_ref == slot.practitioner_ref  # this doctor's time held again
                and holds(mine, _desk_cancelled(connection, [mine.id]))
                and mine.start_utc < slot.end_utc and slot.start_utc < mine.end_utc):
            if close_slot(connection, slot.id, SlotStatus.WITHDRAWN, now):
                report.withdrawn += 1
            continue
        if slot.practitioner_ref is None:
            continue
        overlapping = connection.execute(select(A).where(
            A.c.connector == slot.connector, A.c.practitioner_ref == slot.practitioner_ref,
            A.c.id != slot.appointment_id, A.c.start_utc < slot.end_utc, A.c.end_utc > slot.start_utc,
            A.c.deleted_at.is_(None), A.c.status.in_(ACTIVE_STATUSES))).all()
        cancelled_by_desk = _desk_cancelled(connection, [r.id for r in overlapping])
        if (any(holds(r, cancelled_by_desk) for r in overlapping)
                and close_slot(connection, slot.id, SlotStatus.FILLED_BY_SOURCE, now)):
            report.filled_by_source += 1


def detect(connection: Connection, now: datetime, lead: timedelta) -> DetectReport:
    """Everything above, in the caller's (write) transaction."""
    report = DetectReport()
    from_events(connection, now, lead, report)
    from_answers(connection, now, lead, report)
    reconcile(connection, now, lead, report)
    return report
