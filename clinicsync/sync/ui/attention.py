"""The front desk's work list and the dispatcher's queue, read from the store.

"Needs attention" is every upcoming appointment a person should act on: its doctor declined
it in their calendar, not confirmed and starting within 48 hours, declined, a message that
failed, or a patient asking for another time. Patients are masked unless the caller asks
for full details (the front_desk role), in which case the route writes an access-log row
before showing them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true

from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.sync.store.model import Appointment, Patient, Practitioner, table_of
from clinicsync.sync.store.model.joins import with_people
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import DOCTOR_ANSWERS, RESPONSES
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.mask import initials, mask_phone, phone_display
from clinicsync.sync.ui.queries import of_sources

A = table_of(Appointment).c
P = table_of(Patient).c
D = table_of(Practitioner).c
RM = REMINDERS.c
RS = RESPONSES.c
SOON = timedelta(hours=48)
AWAITING = ("needs-action", "tentative")
REASONS = ("doctor declined", "declined", "reschedule request", "failed delivery", "unconfirmed")  # most urgent first
DA = DOCTOR_ANSWERS.c


@dataclass
class WorkItem:
    appointment_id: int
    start_utc: datetime
    timezone: str
    doctor: str
    patient: str  # full name (front_desk) or initials
    phone: str  # formatted (front_desk) or masked
    tel: str | None = None  # the E.164 number for a tel: link (front_desk only)
    reasons: list[str] = field(default_factory=list)
    note: str | None = None  # the patient's reschedule note (front_desk only)
    connector: str = ""  # its source, hence its site (groups of practices)


@dataclass(frozen=True)
class DispatcherPanel:
    due_now: int
    in_flight: int
    failed: int  # in the last 7 days
    unknown: int
    next_due: datetime | None


def needs_attention(store: Store, now: datetime, full: bool,
                    sources: Collection[str] | None = None) -> list[WorkItem]:
    """Upcoming appointments someone should act on, soonest first, each with its reasons
    (``sources``: a site-scoped user's, sync/ui/scope.py)."""
    upcoming = and_(A.start_utc > now, A.deleted_at.is_(None), A.status.in_(ACTIVE_STATUSES),
                    of_sources(A.connector, sources))
    with store.engine.connect() as connection:
        reasons: dict[int, set[str]] = defaultdict(set)
        for row in connection.execute(select(A.id, A.participation, A.start_utc).where(upcoming, or_(
                A.participation == "declined",
                and_(A.start_utc <= now + SOON, or_(A.participation.is_(None), A.participation.in_(AWAITING)))))):
            reasons[row.id].add("declined" if row.participation == "declined" else "unconfirmed")
        failed = select(RM.appointment_id).join(table_of(Appointment), A.id == RM.appointment_id).where(
            upcoming, RM.recipient == "patient", RM.status == ReminderStatus.FAILED).distinct()
        for (appointment_id,) in connection.execute(failed):
            reasons[appointment_id].add("failed delivery")
        doctor_declined = (select(DA.appointment_id).join(table_of(Appointment), A.id == DA.appointment_id)
                           .where(upcoming, DA.answer == "declined", DA.cleared_at.is_(None),
                                  DA.practitioner_ref == A.practitioner_ref).distinct())
        for (appointment_id,) in connection.execute(doctor_declined):
            reasons[appointment_id].add("doctor declined")  # read from the doctor's calendar
        notes: dict[int, str | None] = {}
        asked = (select(RS.appointment_id, RS.body).join(table_of(Appointment), A.id == RS.appointment_id)
                 .where(upcoming, RS.action == "reschedule").order_by(RS.received_at))
        for appointment_id, body in connection.execute(asked):
            reasons[appointment_id].add("reschedule request")
            notes[appointment_id] = body
        if not reasons:
            return []
        rows = connection.execute(
            select(A.id, A.connector, A.start_utc, A.timezone, A.practitioner_ref, P.name, P.phone,
                   D.name.label("doctor"))
            .select_from(with_people())
            .where(A.id.in_(list(reasons))).order_by(A.start_utc, A.id)).all()
    return [WorkItem(
        appointment_id=r.id, start_utc=r.start_utc, timezone=r.timezone,
        doctor=r.doctor or r.practitioner_ref or "(no doctor)",
        patient=(r.name or "—") if full else (initials(r.name) or "—"),
        phone=phone_display(r.phone) if full else mask_phone(r.phone), tel=r.phone if full else None,
        reasons=[reason for reason in REASONS if reason in reasons[r.id]],
        note=notes.get(r.id) if full else None, connector=r.connector) for r in rows]


def dispatcher_panel(store: Store, now: datetime, sources: Collection[str] | None = None) -> DispatcherPanel:
    """The reminders queue as the dispatcher sees it (of ``sources``' visits for a site-scoped user)."""
    mine = RM.appointment_id.in_(select(A.id).where(of_sources(A.connector, sources))) if sources is not None \
        else true()
    with store.engine.connect() as connection:
        counts: dict[str, Any] = dict(connection.execute(
            select(RM.status, func.count()).where(RM.status.in_((ReminderStatus.SENDING, ReminderStatus.UNKNOWN)), mine)
            .group_by(RM.status)).all())
        due = connection.execute(select(func.count()).where(RM.status == ReminderStatus.PENDING, RM.due_at <= now,
                                                            mine)).scalar()
        failed = connection.execute(select(func.count()).where(
            RM.status == ReminderStatus.FAILED, RM.updated_at >= now - timedelta(days=7), mine)).scalar()
        next_due = connection.execute(select(func.min(RM.due_at)).where(RM.status == ReminderStatus.PENDING,
                                                                          RM.due_at > now, mine)).scalar()
    return DispatcherPanel(due_now=int(due or 0), in_flight=int(counts.get(ReminderStatus.SENDING, 0)),
                           failed=int(failed or 0),
                           unknown=int(counts.get(ReminderStatus.UNKNOWN, 0)), next_due=next_due)
