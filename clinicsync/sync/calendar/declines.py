"""A doctor's decline read from their calendar: Google Calendar keeps each attendee's
``responseStatus``, and a doctor who declines the event of an appointment is telling the
clinic they will not see that patient. `calendar reconcile` lists the events anyway; what
it sees is recorded here as a doctor's answer (table ``doctoranswer``), shown on the status
page's needs-attention list and, with ``calendar.front_desk_email``, emailed to the front
desk once (a reminder row the dispatcher sends, under a unique key).

The doctor is the attendee whose email is the practitioner's email (the organizer's own
entry when the event is in the doctor's primary calendar). A decline is withdrawn only when
the doctor's entry shows another answer: an event whose attendees a later push rewrote (the
doctor's entry gone) keeps the decline. Nothing else about attendees is kept or logged:
patients may be attendees too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, and_, insert, select, update

from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.sync.reminders.planned_rows import reminder_key
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.store.model import Appointment, Practitioner, table_of
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import DOCTOR_ANSWERS

A = table_of(Appointment)
D = table_of(Practitioner)
KIND = "doctor_declined"  # the front desk's notice (templates/<lang>/doctor_declined.email.*)
log = structlog.get_logger("clinicsync.calendar")


@dataclass(frozen=True)
class Seen:
    """One appointment's event as a calendar holds it: its attendees' answers there."""

    appointment_id: int
    calendar: str
    responses: dict[str, str]  # lower-case email -> responseStatus


@dataclass
class DeclineReport:
    recorded: int = 0  # new declines
    cleared: int = 0  # declines the calendar no longer shows
    notified: int = 0  # front desk notices planned

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def record_declines(engine: Engine, seen: Sequence[Seen], now: datetime,
                    front_desk_email: str | None = None) -> DeclineReport:
    """Record (or clear) each doctor's decline in one transaction; idempotent."""
    report = DeclineReport()
    if not seen:
        return report
    ids = list({s.appointment_id for s in seen})
    with writer(engine) as connection:
        appointments = {r.id: r for r in connection.execute(
            select(A.c.id, A.c.connector, A.c.practitioner_ref, A.c.version, A.c.start_utc, A.c.status,
                   A.c.deleted_at, D.c.email)
            .outerjoin(D, and_(D.c.connector == A.c.connector, D.c.external_id == A.c.practitioner_ref))
            .where(A.c.id.in_(ids)))}
        stored = {(r.appointment_id, r.practitioner_ref): r for r in connection.execute(
            select(DOCTOR_ANSWERS).where(DOCTOR_ANSWERS.c.appointment_id.in_(ids),
                                         DOCTOR_ANSWERS.c.answer == "declined"))}
        for item in seen:
            a = appointments.get(item.appointment_id)
            if a is None or not a.practitioner_ref or not a.email:
                continue
            answer = item.responses.get(a.email.strip().lower())
            declined = answer == "declined"
            row = stored.get((a.id, a.practitioner_ref))
            if declined and row is None:
                connection.execute(insert(DOCTOR_ANSWERS).values(
                    appointment_id=a.id, connector=a.connector, practitioner_ref=a.practitioner_ref,
                    answer="declined", source="google", calendar=item.calendar[:320], version=a.version,
                    recorded_at=now))
                report.recorded += 1
                upcoming = a.deleted_at is None and a.status in ACTIVE_STATUSES and a.start_utc > now
                if front_desk_email and upcoming:
                    report.notified += _notify(connection, a, front_desk_email, now)
            elif declined and row is not None and row.cleared_at is not None:
                connection.execute(update(DOCTOR_ANSWERS).where(DOCTOR_ANSWERS.c.id == row.id)
                                   .values(cleared_at=None))
                report.recorded += 1
            elif answer is not None and not declined and row is not None and row.cleared_at is None:
                connection.execute(update(DOCTOR_ANSWERS).where(DOCTOR_ANSWERS.c.id == row.id)
                                   .values(cleared_at=now))
                report.cleared += 1
    if report.recorded or report.cleared:
        log.info("calendar.doctor_declines", **report.as_dict())
    return report


def _notify(connection: Connection, a: Any, email: str, now: datetime) -> int:
    """The front desk's notice, once per appointment and version (its key is unique)."""
    key = reminder_key(a.id, "frontdesk", KIND, None, a.version)
    if connection.execute(select(REMINDERS.c.id).where(REMINDERS.c.key == key)).first() is not None:
        return 0
    connection.execute(insert(REMINDERS).values(
        key=key, appointment_id=a.id, connector=a.connector, recipient="frontdesk", recipient_ref=email, kind=KIND,
        version=a.version, starts_at=a.start_utc, due_at=now, status=ReminderStatus.PENDING, tried="", attempts=0,
        created_at=now, updated_at=now))
    return 1
