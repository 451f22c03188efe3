"""The front desk's waitlist tasks: what a person must do because a booking could
not be written, or because a patient now holds two appointments.

Three kinds, each derived from the tables (nothing extra is stored until the desk acts):

- ``book``: the slot's source cannot be written (CSV, HL7, no write setting): "book this
  patient into this slot" (``freed_slot.booking_status = 'desk_task'``);
- ``call``: the source refused the booking (``failed``): call the patient, then either book
  by hand or tell them the slot could not be booked (they stay on the waitlist). Shown even
  once the slot's time has passed: the patient was told the slot was theirs;
- ``release``: the entry's later appointment is still active (``release_later: ask``, or
  ``auto`` on a source that takes no write-back): release it;
- ``coming``: a patient took the slot a moment ago and the booking stage has not run yet
  (``pending``): nothing to press, but the desk sees at once what the Waitlist page already
  counts, instead of nothing until the stage's next run turns it into a booking or a task.

The desk's answer is one ``desk_action`` row (who, when; on the freed appointment for book and
call, on the later appointment for release) written with what it changes, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, insert, select, update

from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.common.waitlist_states import BookingStatus, EntryStatus, SlotStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.waitlist_booking import booking_settings
from clinicsync.sync.store.model import Appointment, Patient, Practitioner, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.responses import WRITEBACKS
from clinicsync.sync.store.model.waitlist import FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.release import after_booking

S, E, OF, DK, W = FREED_SLOTS, WAITLIST_ENTRIES, WAITLIST_OFFERS, DESK_ACTIONS, WRITEBACKS
A = table_of(Appointment)
P = table_of(Patient)
D = table_of(Practitioner)

KINDS = ("book", "call", "release", "coming")
HEADINGS = {"book": "Book this patient into this slot",
            "call": "Booking refused by the source: call the patient",
            "release": "Release the patient's later appointment",
            "coming": "Taken from the waitlist: booking under way"}
# What the desk may answer to each kind, and the desk_action it records.
ANSWERS = {"book": {"booked": "waitlist_booked"},
           "call": {"booked": "waitlist_booked", "dropped": "waitlist_dropped"},
           "release": {"released": "waitlist_released"}, "coming": {}}


@dataclass(frozen=True)
class WaitlistTask:
    kind: str  # one of KINDS
    slot_id: int
    start_utc: datetime  # the freed slot (release: the later appointment)
    timezone: str
    connector: str
    doctor: str
    location: str | None
    visit_type: str | None
    patient_connector: str
    patient_ref: str  # for the desk to find the patient in the source (full view only)
    patient: str  # the name, or initials when masked
    phone: str | None  # None when masked
    reason: str | None  # why it is the desk's: never patient data
    later_appointment_id: int | None = None
    later_start_utc: datetime | None = None
    freed_appointment_id: int | None = None  # the cancelled appointment that freed the slot

    @property
    def appointment_ids(self) -> list[int]:
        """The appointments the task shows a patient of (for the access log)."""
        return [i for i in (self.freed_appointment_id, self.later_appointment_id) if i is not None]


def _done(kind_actions: tuple[str, ...], appointment: Any, version: Any) -> Any:
    return exists().where(DK.c.appointment_id == appointment, DK.c.version == version, DK.c.action.in_(kind_actions))


def tasks(settings: Settings, store: Store, now: datetime, full: bool) -> list[WaitlistTask]:
    """Every open waitlist task, soonest slot first."""
    out: list[WaitlistTask] = []
    patient = and_(P.c.connector == E.c.connector, P.c.external_id == E.c.patient_ref)
    columns = (S, E.c.connector.label("entry_connector"), E.c.patient_ref, P.c.name.label("patient_name"),
               P.c.phone, D.c.name.label("doctor_name"))
    base = (select(*columns).select_from(S.join(OF, OF.c.id == S.c.taken_offer_id).join(E, E.c.id == OF.c.entry_id)
                                         .outerjoin(P, patient)
                                         .outerjoin(D, and_(D.c.connector == S.c.connector,
                                                            D.c.external_id == S.c.practitioner_ref)))
            .where(S.c.status == SlotStatus.TAKEN))
    with store.engine.connect() as connection:
        for row in connection.execute(base.where(S.c.booking_status == BookingStatus.DESK_TASK, S.c.start_utc > now)
                                      .order_by(S.c.start_utc)):
            out.append(_task("book", row, full))
        for row in connection.execute(base.where(
                S.c.booking_status == BookingStatus.FAILED,
                ~_done(("waitlist_dropped",), S.c.appointment_id, S.c.appointment_version)).order_by(S.c.start_utc)):
            out.append(_task("call", row, full))
        for row in connection.execute(base.where(S.c.booking_status == BookingStatus.PENDING, S.c.start_utc > now)
                                      .order_by(S.c.start_utc)):
            out.append(_task("coming", row, full))
        if booking_settings(settings).release_later != "keep":
            later = A.alias("later")
            auto_cancelled = exists().where(W.c.appointment_id == later.c.id, W.c.appointment_status == "cancelled",
                                            W.c.status.in_(("pending", "done")))
            query = (select(*columns, later.c.id.label("later_id"), later.c.start_utc.label("later_start"))
                     .select_from(S.join(OF, OF.c.id == S.c.taken_offer_id).join(E, E.c.id == OF.c.entry_id)
                                  .join(later, and_(later.c.id == E.c.current_appointment_id,  # the patient's own
                                                    later.c.connector == E.c.connector,
                                                    later.c.patient_ref == E.c.patient_ref))
                                  .outerjoin(P, patient)
                                  .outerjoin(D, and_(D.c.connector == S.c.connector,
                                                     D.c.external_id == S.c.practitioner_ref)))
                     .where(S.c.status == "taken", S.c.booking_status == "written", E.c.status == "booked",
                            later.c.deleted_at.is_(None), later.c.status.in_(ACTIVE_STATUSES),
                            later.c.start_utc > now, ~auto_cancelled,
                            ~_done(("waitlist_released",), later.c.id, later.c.version))
                     .order_by(S.c.start_utc))
            for later_row in connection.execute(query):
                out.append(_task("release", later_row, full, later_row.later_id, later_row.later_start))
    return out


def _task(kind: str, row: Any, full: bool, later_id: int | None = None,
          later_start: datetime | None = None) -> WaitlistTask:
    name = row.patient_name or "—"
    return WaitlistTask(
        kind=kind, slot_id=row.id, start_utc=row.start_utc, timezone=row.timezone, connector=row.connector,
        doctor=row.doctor_name or row.practitioner_ref or "(any doctor)", location=row.location_ref,
        visit_type=row.visit_type, patient_connector=row.entry_connector,
        patient_ref=row.patient_ref if full else "…",
        patient=name if full else "".join(part[:1] + "." for part in name.split()) or "—",
        phone=row.phone if full else None,
        reason=row.booking_error if kind != "release" else None, later_appointment_id=later_id,
        later_start_utc=later_start, freed_appointment_id=row.appointment_id)


class UnknownAnswer(ValueError):
    """Not an answer this kind of task takes."""


def answer_task(settings: Settings, store: Store, kind: str, slot_id: int, answer: str, user: str, role: str,
                now: datetime) -> int | None:
    """Record the desk's answer to one task: the desk_action's id, None when the task is no
    longer open (another desk answered it, or the booking went through meanwhile). *Booked by
    hand* keeps what it changed for its undo (book_undo.py): the slot's booking status before
    (``prior_answer``) and the entry's (``reason``)."""
    action = ANSWERS.get(kind, {}).get(answer)
    if action is None:
        raise UnknownAnswer(f"{kind}/{answer}")
    with store.engine.begin() as connection:
        slot = connection.execute(select(S).where(S.c.id == slot_id, S.c.status == SlotStatus.TAKEN)).first()
        if slot is None:
            return None
        entry = connection.execute(select(E).join(OF, OF.c.entry_id == E.c.id).where(
            OF.c.id == slot.taken_offer_id)).first()
        if entry is None:
            return None
        target, version = slot.appointment_id, slot.appointment_version
        prior: dict[str, Any] = {}
        if kind == "release":
            later = connection.execute(select(A.c.id, A.c.version).where(
                A.c.id == entry.current_appointment_id, A.c.connector == entry.connector,
                A.c.patient_ref == entry.patient_ref)).first()
            if later is None or slot.booking_status != BookingStatus.WRITTEN:
                return None
            target, version = later.id, later.version
        elif answer == "booked":
            wanted = BookingStatus.DESK_TASK if kind == "book" else BookingStatus.FAILED
            changed = connection.execute(update(S).where(S.c.id == slot_id, S.c.booking_status == wanted).values(
                booking_status=BookingStatus.WRITTEN, booking_error=None)).rowcount
            if changed != 1:
                return None
            prior = {"prior_answer": wanted, "reason": entry.status}
            still_waiting = E.c.status.in_((EntryStatus.WAITING, EntryStatus.EXPIRED))
            connection.execute(update(E).where(E.c.id == entry.id, still_waiting).values(
                status=EntryStatus.BOOKED, updated_at=now))
            entry = connection.execute(select(E).where(E.c.id == entry.id)).first()
            if booking_settings(settings).release_later == "auto":
                after_booking(connection, settings, entry, slot_id, now)
        elif slot.booking_status != BookingStatus.FAILED:
            return None
        written = connection.execute(insert(DK).values(appointment_id=target, version=version, action=action,
                                                       user=user[:64], role=role[:16], source="by_hand", at=now,
                                                       **prior)).inserted_primary_key
    assert written is not None
    return int(written[0])
