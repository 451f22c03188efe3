"""The front desk's home: today's and tomorrow's appointments that need someone, grouped by
what needs doing, with counts.

Each appointment sits in one group, its most urgent, so the counts add up to the list. An
appointment leaves the list once the desk records an action on it (sync/desk/actions.py)
for its current version, unless the patient wrote again afterwards; a change at the source
(a new version) brings it back. Patients are masked unless the caller asks for full
details (the front_desk role); the route writes the access-log row before showing them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from clinicsync.common.vocabulary import ACTIVE_STATUSES, UNDER_WAY_STATUSES, ReminderStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.desk.sources import CLOSING, OPEN_AT_START
from clinicsync.sync.responses.history import CALLBACK_WAIT
from clinicsync.sync.store.model import Appointment, Patient, Practitioner, table_of
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.joins import with_people
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import DOCTOR_ANSWERS, RESPONSES
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.attention import AWAITING
from clinicsync.sync.ui.mask import initials, mask_phone, phone_display
from clinicsync.sync.ui.queries import of_sources
from clinicsync.sync.waitlist import book_tasks

A = table_of(Appointment).c
P = table_of(Patient).c
D = table_of(Practitioner).c
RM, RS, DA, DK = REMINDERS.c, RESPONSES.c, DOCTOR_ANSWERS.c, DESK_ACTIONS.c

# What needs doing, most urgent first: (key, heading, what the desk does about it).
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("doctor-declined", "Doctor declined", "the doctor cannot make it: move or cancel the visit"),
    ("declined", "Patient declined", "the patient cannot come: cancel the visit or offer another time"),
    ("reschedule", "Reschedule requests", "the patient asks for another time: call and move the visit"),
    ("failed", "Message failed", "no reminder reached the patient: call them"),
    ("no-answer", "No answer", "the patient got a message but has not answered: call to confirm"),
    ("not-reached", "Not messaged yet", "no message has gone out yet: confirm by phone if it is close"),
)
GROUP_KEYS = tuple(g[0] for g in GROUPS)
DAYS = ("today", "tomorrow")


@dataclass
class DeskRow:
    appointment_id: int
    start_utc: datetime
    timezone: str
    day: str  # today | tomorrow
    doctor: str
    type: str | None
    connector: str
    patient: str  # full name (front_desk) or initials
    phone: str  # formatted (front_desk) or masked
    tel: str | None
    group: str
    answer: str | None
    note: str | None = None  # the patient's reschedule note (front_desk only)
    reasons: list[str] = field(default_factory=list)
    message_left: datetime | None = None  # the desk left a message and nobody called back in time
    mode: str | None = None  # video | phone | in_person (None: the source says nothing, in person)


@dataclass
class WorkList:
    rows: list[DeskRow]
    counts: Counter[str]  # per group, before the group filter (the day filter applies)
    days: Counter[str]  # per day, before both filters
    total: int
    awaiting: int = 0  # a message left, waiting for the call-back (back on the list CALLBACK_AFTER later)


def day_bounds(now: datetime, zone: ZoneInfo) -> dict[str, tuple[datetime, datetime]]:
    """Today and tomorrow as [start, end) in the clinic's zone (a DST day is 23 or 25 hours)."""
    today: date = now.astimezone(zone).date()
    out = {}
    for i, name in enumerate(DAYS):
        day = today + timedelta(days=i)
        out[name] = (datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone))
    return out


def _reasons(connection: Any, ids: list[int], now: datetime) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {i: {"reasons": set(), "note": None, "last_reply": None} for i in ids}
    for appointment_id, body in connection.execute(
            select(RS.appointment_id, RS.body).where(RS.appointment_id.in_(ids),
                                                                      RS.action == "reschedule")
            .order_by(RS.received_at)):
        found[appointment_id]["reasons"].add("reschedule")
        found[appointment_id]["note"] = body
    for appointment_id, at in _last_replies(connection, ids).items():
        found[appointment_id]["last_reply"] = at
    for (appointment_id,) in connection.execute(select(RM.appointment_id).where(
            RM.appointment_id.in_(ids), RM.recipient == "patient", RM.status == ReminderStatus.FAILED).distinct()):
        found[appointment_id]["reasons"].add("failed")
    for (appointment_id,) in connection.execute(select(RM.appointment_id).where(
            RM.appointment_id.in_(ids), RM.recipient == "patient", RM.status == ReminderStatus.SENT).distinct()):
        found[appointment_id]["sent"] = True
    for (appointment_id,) in connection.execute(select(DA.appointment_id).join(
            table_of(Appointment), A.id == DA.appointment_id).where(
            DA.appointment_id.in_(ids), DA.answer == "declined", DA.cleared_at.is_(None),
            DA.practitioner_ref == A.practitioner_ref).distinct()):
        found[appointment_id]["reasons"].add("doctor-declined")
    return found


def _last_replies(connection: Any, ids: list[int]) -> dict[int, datetime]:
    """Per appointment, when the patient last wrote (any answer that is not the desk's own)."""
    return dict(connection.execute(
        select(RS.appointment_id, func.max(RS.received_at)).where(RS.appointment_id.in_(ids), RS.channel != "desk")
        .group_by(RS.appointment_id)).all())


CALLBACK_AFTER = CALLBACK_WAIT  # "left a message": back on the work list if nobody called back


@dataclass(frozen=True)
class Done:
    """The desk's latest action on an appointment that still stands (not undone)."""

    version: int
    at: datetime
    action: str


def is_handled(done: Done | None, version: int, last_reply: datetime | None, now: datetime) -> bool:
    """The desk acted on this version of the appointment, and the patient has not written since:
    the row leaves every list the desk works from (a new version or a reply brings it back).
    "Left a message" is a wait for the call-back, not an answer: the row comes back
    CALLBACK_AFTER later."""
    if done is None or done.version != version or (last_reply is not None and last_reply > done.at):
        return False
    return not (done.action == "left_message" and now >= done.at + CALLBACK_AFTER)


def handled(store: Store, ids: list[int], now: datetime) -> set[int]:
    """Which of these appointments the desk has handled (is_handled), for lists built
    elsewhere (the "All to act on" page, sync/ui/attention.py)."""
    if not ids:
        return set()
    with store.engine.connect() as connection:
        versions: dict[int, int] = dict(connection.execute(select(A.id, A.version).where(A.id.in_(ids))).all())
        done, replies = _handled(connection, ids), _last_replies(connection, ids)
    return {i for i, version in versions.items() if is_handled(done.get(i), version, replies.get(i), now)}


def _handled(connection: Any, ids: list[int]) -> dict[int, Done]:
    """Per appointment, the desk's latest action that was not undone."""
    out: dict[int, Done] = {}
    for row in connection.execute(select(DK.appointment_id, DK.version, DK.at, DK.action)
                                  .where(DK.appointment_id.in_(ids), DK.undone_at.is_(None)).order_by(DK.at, DK.id)):
        out[row.appointment_id] = Done(row.version, row.at, row.action)
    return out


def work_list(store: Store, now: datetime, zone: ZoneInfo, full: bool, day: str | None = None,
              group: str | None = None, sources: Collection[str] | None = None) -> WorkList:
    """Today's and tomorrow's appointments (not yet started) that need the desk (``sources``:
    a site-scoped user's, sync/ui/scope.py; None: every source)."""
    bounds = day_bounds(now, zone)
    start, end = max(now, bounds["today"][0]), bounds["tomorrow"][1]
    with store.engine.connect() as connection:
        found = connection.execute(
            select(A.id, A.start_utc, A.timezone, A.type, A.connector, A.version, A.participation,
                   A.practitioner_ref, A.visit_mode, P.name, P.phone, D.name.label("doctor"))
            .select_from(with_people())
            .where(and_(A.start_utc >= start, A.start_utc < end, A.deleted_at.is_(None),
                        A.status.in_(ACTIVE_STATUSES), of_sources(A.connector, sources)))
            .order_by(A.start_utc, A.id)).all()
        ids = [r.id for r in found]
        facts = _reasons(connection, ids, now) if ids else {}
        done_by_desk = _handled(connection, ids) if ids else {}
    rows: list[DeskRow] = []
    awaiting = 0
    for r in found:
        fact = facts[r.id]
        reasons: set[str] = set(fact["reasons"])
        if r.participation == "declined":
            reasons.add("declined")
        elif r.participation is None or r.participation in AWAITING:
            reasons.add("no-answer" if fact.get("sent") else "not-reached")
        if r.participation == "accepted":
            reasons -= {"failed"}  # confirmed anyway: nothing to chase
        if "reschedule" in reasons:
            reasons -= {"no-answer", "not-reached"}  # the patient did answer: they asked for another time
        if not reasons:
            continue
        done = done_by_desk.get(r.id)
        if is_handled(done, r.version, fact["last_reply"], now):
            awaiting += done is not None and done.action == "left_message"
            continue
        ordered = [g for g in GROUP_KEYS if g in reasons]
        which = "today" if r.start_utc < bounds["today"][1] else "tomorrow"
        rows.append(DeskRow(
            appointment_id=r.id, start_utc=r.start_utc, timezone=r.timezone, day=which,
            doctor=r.doctor or r.practitioner_ref or "(no doctor)", type=r.type, connector=r.connector,
            patient=(r.name or "—") if full else (initials(r.name) or "—"),
            phone=phone_display(r.phone) if full else mask_phone(r.phone), tel=r.phone if full else None,
            group=ordered[0], answer=r.participation, note=fact["note"] if full else None, reasons=ordered,
            message_left=done.at if done is not None and done.action == "left_message" else None,
            mode=r.visit_mode))
    days = Counter(r.day for r in rows)
    in_day = [r for r in rows if day is None or r.day == day]
    counts = Counter(r.group for r in in_day)
    shown = [r for r in in_day if group is None or r.group == group]
    return WorkList(shown, counts, days, len(rows), awaiting)


@dataclass
class EarlierRow:
    """A visit of today that has started and that nobody closed yet (came in, no-show)."""

    appointment_id: int
    start_utc: datetime
    timezone: str
    doctor: str
    type: str | None
    patient: str
    phone: str
    tel: str | None
    answer: str | None
    connector: str = ""  # its source, hence its site (groups of practices)
    mode: str | None = None  # video | phone | in_person


# A source that records arrivals itself closes its own visits: one of its started visits still
# booked there after this long is the source's to record (late, or a no-show it marks), so the
# strip does not grow all day with visits the desk has nothing to add to.
LATE_WINDOW = timedelta(hours=1)
# A source "records arrivals" when some visit of it was arrived, checked in or fulfilled lately.
ARRIVALS_SEEN = timedelta(days=14)


def records_arrivals(connection: Any, now: datetime, sources: Collection[str] | None = None) -> set[str]:
    """The sources (connectors) whose own system recorded a visit as under way (arrived,
    checked in, fulfilled) in the last ARRIVALS_SEEN: they close started visits themselves."""
    return {c for (c,) in connection.execute(
        select(A.connector).where(A.start_utc >= now - ARRIVALS_SEEN, A.start_utc <= now,
                                  A.status.in_(sorted(UNDER_WAY_STATUSES)), of_sources(A.connector, sources))
        .distinct())}


def earlier_today(store: Store, now: datetime, zone: ZoneInfo, full: bool,
                  sources: Collection[str] | None = None) -> list[EarlierRow]:
    """Today's visits that have started, still booked at the source, that the desk has not
    closed (came in, no-show, cancelled): the one moment a no-show can be recorded, so they
    stay on Today until the desk says what happened. A source that records arrivals itself
    (records_arrivals) keeps its started visits here only for LATE_WINDOW: after that its own
    record closes them."""
    start = day_bounds(now, zone)["today"][0]
    with store.engine.connect() as connection:
        closed = select(DK.id).where(DK.appointment_id == A.id, DK.undone_at.is_(None),
                                     DK.action.in_(CLOSING)).exists()
        found = connection.execute(
            select(A.id, A.connector, A.start_utc, A.timezone, A.type, A.practitioner_ref, A.participation,
                   A.visit_mode, P.name, P.phone, D.name.label("doctor"))
            .select_from(with_people())
            .where(A.start_utc >= start, A.start_utc <= now, A.deleted_at.is_(None),
                   A.status.in_(OPEN_AT_START), ~closed, of_sources(A.connector, sources))
            .order_by(A.start_utc, A.id)).all()
        self_closing = records_arrivals(connection, now, sources) if found else set()
    return [EarlierRow(
        appointment_id=r.id, start_utc=r.start_utc, timezone=r.timezone,
        doctor=r.doctor or r.practitioner_ref or "(no doctor)", type=r.type,
        patient=(r.name or "—") if full else (initials(r.name) or "—"),
        phone=phone_display(r.phone) if full else mask_phone(r.phone), tel=r.phone if full else None,
        answer=r.participation, connector=r.connector, mode=r.visit_mode) for r in found
        if r.connector not in self_closing or now - r.start_utc <= LATE_WINDOW]


# -- the waitlist's tasks (booking by hand, refused bookings, later appointments) --
WAITLIST_HEADINGS = book_tasks.HEADINGS
WAITLIST_BUTTONS = {"booked": "Booked by hand", "dropped": "Could not book: patient told",
                    "released": "Later appointment released"}


def waitlist_tasks(settings: Settings, store: Store, now: datetime, full: bool) -> list[book_tasks.WaitlistTask]:
    """What the waitlist needs from a person, soonest first (sync/waitlist/book_tasks.py)."""
    return book_tasks.tasks(settings, store, now, full)
