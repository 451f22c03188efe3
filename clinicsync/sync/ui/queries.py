"""Every number on the status page, read from the store. Patient details leave this module
masked (initials, masked phone and email); aggregation by local day/week is done in Python
so SQLite and PostgreSQL give the same answers."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import and_, or_, select

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import STATUSES as APPOINTMENT_STATUSES
from clinicsync.common.vocabulary import ReminderStatus
from clinicsync.sync.checks.queries import connector_status, list_quarantine, quality_notes
from clinicsync.sync.reminders.names import message_name
from clinicsync.sync.responses.history import DESK_STATES, Entry, desk_states, visit_history
from clinicsync.sync.runs.run_progress import connector_state, running_stages
from clinicsync.sync.store.model import Appointment, Event, Location, Patient, Practitioner, table_of
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.model.desk import DESK_ACTIONS
from clinicsync.sync.store.model.joins import with_people
from clinicsync.sync.store.model.reminders import DELIVERIES, REMINDERS
from clinicsync.sync.store.model.reminders import STATUSES as REMINDER_STATUSES
from clinicsync.sync.store.status_rows import DELIVERED, StatusRows
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import of_sources
from clinicsync.sync.ui.mask import initials, is_contact_detail, mask_email, mask_phone, mask_text, phone_display

A = table_of(Appointment).c
L = table_of(Location).c
P = table_of(Patient).c
D = table_of(Practitioner).c
E = table_of(Event).c
RM = REMINDERS.c
DL = DELIVERIES.c
DK = DESK_ACTIONS.c

REMINDER_STATES = ("planned", "sent", "delivered", "failed", "unknown", "skipped", "cancelled")
INACTIVE = ("cancelled", "entered-in-error")
# Every reminder status but cancelled, listed rather than ``!= 'cancelled'``: so the window on
# due_at is read through the (status, due_at) index, not by scanning every reminder ever planned.
FUNNEL_STATUSES = tuple(status for status in REMINDER_STATUSES if status != ReminderStatus.CANCELLED)


def reminder_state(status: str, provider_status: str | None) -> str:
    """The page's word for a reminder: planned (pending/sending), sent, delivered, failed, …"""
    if status in (ReminderStatus.PENDING, ReminderStatus.SENDING):
        return "planned"
    if status == ReminderStatus.SENT and provider_status in DELIVERED:
        return "delivered"
    return status


# --- health -----------------------------------------------------------------------------------

def connectors_health(store: Store, now: datetime | None = None,
                      named: Collection[str] | None = None) -> list[dict[str, Any]]:
    """connector_status plus how long since the last success (seconds), errors masked.
    ``named``: the sources the settings name; any other is shown "not in settings" (renamed
    or removed: sync/ingest/orphans.py; its stall says what it still holds), as `clinicsync status`
    shows it, not as the "ok" of its last run."""
    now = now or utcnow()
    activity = running_stages(store, now)
    out = []
    for row in connector_status(store):
        last_ok = datetime.fromisoformat(row["last_success"]) if row["last_success"] else None
        state = connector_state(row["last_status"], row["last_run_id"], datetime.fromisoformat(row["last_started"]),
                                row["connector"], activity, now)
        if named is not None and row["connector"] not in named:
            state = "not in settings"
        out.append({**row, "error": mask_text(row["error"]) or None, "state": state,
                    "since_success": (now - last_ok).total_seconds() if last_ok else None})
    return out


def running_now(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """The stages running now, or left running by a dead process (stale): docs/operations.md."""
    return [a.as_dict() for a in running_stages(store, now)]


def notifiers_health(store: Store, since: datetime) -> list[dict[str, Any]]:
    """Per notifier: delivery attempts since ``since`` by outcome, and its latest attempt.
    Every attempt ever made is kept until its visit is forgotten (sync/store/retention.py), so each
    figure is read through ``(notifier, created_at)``: the notifiers by a skip scan (one probe
    each), then per notifier the window and its newest row (it once read every attempt)."""
    found = store.status_rows.notifier_attempts(since)
    return [{"notifier": name, "outcomes": outcomes, "last_at": row.created_at, "last_outcome": row.outcome,
             "last_status": row.provider_status, "last_detail": mask_text(row.detail) or None}
            for name, (outcomes, row) in sorted(found.items())]


def calendar_health(store: Store) -> dict[str, int]:
    """How many calendar links wait to be pushed and how many keep failing: the live work, each
    through its partial index (migration 0040). The page counted every link ever written by
    state (82-93 ms at 140k links); the events present or deleted per calendar are
    `clinicsync calendar status`'s, asked for rather than read at every page load."""
    return store.status_rows.calendar_links_waiting()


def quarantine_rows(store: Store, connector: str | None = None, limit: int = 500,
                    full: bool = False, sources: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Bad records with their reasons; anything contact-like in a reason is masked, and for a
    role without full patient data (``full`` False) so is every value a reason quotes: a
    reason quotes only vocabulary-shaped values (mappings/model.py), yet a status word can be
    a surname, and the viewer role sees no patient data at all."""
    return [{**r, "reason": _quoted_masked(mask_text(plain_text(r["reason"])), full),
             "record_id": _record_id_shown(r["record_id"], full)}
            for r in list_quarantine(store, connector, limit, connectors=sources)]


_ID_SHAPED = re.compile(r"(?=[^\s]*\d)[A-Za-z0-9._:/#@+-]{1,80}")


def id_shaped(record_id: str | None) -> bool:
    """Whether a source's record id looks like an id (one token with a digit: '1042', 'A-77',
    a UUID): a malformed row can shift a name into the id column ('Maria Lopez'), and such a
    value is patient data, not an id."""
    return bool(record_id and _ID_SHAPED.fullmatch(record_id))


def _record_id_shown(record_id: str | None, full: bool) -> str | None:
    """The record id as a role may see it. The front desk (``full``) sees it as the source
    wrote it: it is how they find the record at the source to fix it, and they see patients'
    phones and names anyway; a contact-detail matcher run over it masked ordinary ids whose
    digits happen to form a possible number ('NA-2026-11-0001', '2026-11-0001'). A role without
    full patient data (the viewer) sees it wholly masked when it is not id-shaped or is itself
    a contact detail: a phone number in the id column ('12125550123', id-shaped) would show the
    viewer its last four digits, and the viewer sees no digit of a patient's phone elsewhere."""
    if not record_id:
        return None
    if full:
        return record_id
    return "•••" if not id_shaped(record_id) or is_contact_detail(record_id) else record_id


_QUOTED = re.compile(r"'[^']{1,80}'")
_LINK = re.compile(r"\[([^\]]{1,200})\]\([^)]{1,500}\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def plain_text(text: str | None) -> str | None:
    """A reason as text: Markdown written into it (``code``, **bold**, [link](url)) would show
    raw on the page, so its marks are dropped and a link keeps its words."""
    if text is None:
        return None
    return _EMPHASIS.sub("", _LINK.sub(r"\1", text))


def _quoted_masked(reason: str | None, full: bool) -> str | None:
    return reason if full or reason is None else _QUOTED.sub("'…'", reason)


def quotes_values(reason: str | None) -> bool:
    """Whether a reason quotes a value that only the front desk sees unmasked."""
    return bool(reason and _QUOTED.search(reason))


def shows_patient_values(row: dict[str, Any]) -> bool:
    """Whether a quarantine row, as the front desk sees it, shows a value only that role sees
    unmasked (a quoted value in its reason, or a record id that is not id-shaped): the rows
    whose view goes into the access log."""
    return quotes_values(row["reason"]) or bool(row["record_id"] and not id_shaped(row["record_id"]))


# --- appointments -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    doctor: str | None = None  # practitioner external id
    connector: str | None = None
    status: str | None = None
    answer: str | None = None  # a key of ANSWER_FILTERS


# The patient's answer as the Appointments page filters it: "not confirmed" is every visit
# still waiting for a yes (no answer, needs-action, tentative), the one the desk calls about.
ANSWER_FILTERS = {"not-confirmed": "not confirmed", "accepted": "confirmed", "declined": "declined"}
MODES = {"video": "video visit", "phone": "phone visit", "in_person": "in person"}


@dataclass
class AppointmentRow:
    id: int
    connector: str
    external_id: str
    start_utc: datetime
    timezone: str
    status: str
    type: str | None
    doctor: str
    doctor_id: str | None
    patient: str  # initials, or the full name for the front_desk role
    phone: str  # masked, or as written for the front_desk role
    email: str  # masked, or as written for the front_desk role
    answer: str | None  # the patient's participation answer
    calendar: str  # none | pending | present | deleted | failing
    reminders: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # data-quality notes of its import
    place: str | None = None  # the location's name (else its id)
    mode: str | None = None  # in_person | video | phone
    language: str | None = None  # the patient's language
    channel: str | None = None  # how the patient is reached (their preference, else the last message's)
    version: int = 1
    desk_state: str | None = None  # a DESK_STATES word: what the desk recorded that still stands
    # The other numbers of the patient's phone cell, in order: masked, or as written for the
    # front_desk role (reminders go to ``phone``; the desk calls these when it does not answer).
    fallback_phones: list[str] = field(default_factory=list)

    @property
    def local_start(self) -> datetime:
        try:
            return self.start_utc.astimezone(ZoneInfo(self.timezone))
        except (OverflowError, ValueError, KeyError):  # a stored row from before the checks at mapping
            return self.start_utc


def _appointment_query() -> Any:
    return (select(A.id, A.connector, A.external_id, A.start_utc, A.timezone, A.status, A.type, A.version,
                   A.practitioner_ref, A.participation, A.quality_notes, A.location_ref, A.visit_mode,
                   P.name.label("p_name"), P.phone, P.email, P.language, P.channel.label("p_channel"),
                   P.fallback_phones, D.name.label("d_name"), L.name.label("l_name"))
            .select_from(with_people())
            .where(A.deleted_at.is_(None)))


def _calendar_state(states: list[tuple[str, int]]) -> str:
    if not states:
        return "none"
    if any(attempts for _, attempts in states):
        return "failing"
    for state in ("pending", "present", "deleted"):
        if any(s == state for s, _ in states):
            return state
    return states[0][0]


def _rows(store: Store, query: Any, full: bool = False, now: datetime | None = None) -> list[AppointmentRow]:
    with store.engine.connect() as connection:
        found = connection.execute(query).all()
        ids = [r.id for r in found]
        links: dict[int, list[tuple[str, int]]] = defaultdict(list)
        reminders: dict[int, Counter[str]] = defaultdict(Counter)
        channels: dict[int, str] = {}
        desk = desk_states(connection, ids, now)
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for link in connection.execute(select(LINKS.c.appointment_id, LINKS.c.state, LINKS.c.attempts)
                                           .where(LINKS.c.appointment_id.in_(chunk))):
                links[link.appointment_id].append((link.state, link.attempts))
            rem = connection.execute(select(RM.id, RM.appointment_id, RM.status, RM.channel)
                                     .where(RM.appointment_id.in_(chunk), RM.recipient == "patient")
                                     .order_by(RM.id)).all()
            delivered = StatusRows.delivered_ids(connection, [r.id for r in rem])
            for r in rem:
                reminders[r.appointment_id][reminder_state(r.status, "delivered" if r.id in delivered else None)] += 1
                if r.channel:
                    channels[r.appointment_id] = r.channel
    return [AppointmentRow(
        id=r.id, connector=r.connector, external_id=_record_id_shown(r.external_id, full) or "",
        start_utc=r.start_utc, timezone=r.timezone,
        status=r.status, type=r.type, doctor=r.d_name or r.practitioner_ref or "(no doctor)",
        doctor_id=r.practitioner_ref, patient=(r.p_name or "—") if full else (initials(r.p_name) or "—"),
        phone=phone_display(r.phone) if full else mask_phone(r.phone),
        email=(r.email or "") if full else mask_email(r.email),
        answer=r.participation, calendar=_calendar_state(links[r.id]),
        reminders=reminders[r.id], notes=[mask_text(n) for n in quality_notes(r.quality_notes)],
        place=r.l_name or r.location_ref, mode=r.visit_mode, language=r.language,
        channel=r.p_channel or channels.get(r.id), version=r.version, desk_state=desk.get(r.id),
        fallback_phones=[phone_display(n) if full else mask_phone(n) for n in (r.fallback_phones or "").split()])
        for r in found]




def upcoming(store: Store, start: datetime, end: datetime, filters: Filters = Filters(),
             full: bool = False, now: datetime | None = None,
             sources: Collection[str] | None = None) -> list[AppointmentRow]:
    """Appointments starting in [start, end), by start then doctor, filtered (``sources``: a
    site-scoped user's); patients named only when ``full`` (the front_desk role; the route logs
    the view)."""
    query = _appointment_query().where(A.start_utc >= start, A.start_utc < end, of_sources(A.connector, sources))
    if filters.doctor:
        query = query.where(A.practitioner_ref == filters.doctor)
    if filters.connector:
        query = query.where(A.connector == filters.connector)
    if filters.status:
        query = query.where(A.status == filters.status)
    if filters.answer == "not-confirmed":
        query = query.where(or_(A.participation.is_(None), A.participation.in_(("needs-action", "tentative"))))
    elif filters.answer in ("accepted", "declined"):
        query = query.where(A.participation == filters.answer)
    return _rows(store, query.order_by(A.start_utc, A.connector, A.external_id), full, now)


DayGroups = list[tuple[date, list[tuple[str, list[AppointmentRow]]]]]


def by_day_and_doctor(rows: list[AppointmentRow], zone: ZoneInfo) -> DayGroups:
    """Group rows by the clinic's local day, then by doctor (alphabetically)."""
    days: dict[date, dict[str, list[AppointmentRow]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        days[row.start_utc.astimezone(zone).date()][row.doctor].append(row)
    return [(day, sorted(doctors.items())) for day, doctors in sorted(days.items())]


def filter_options(store: Store, sources: Collection[str] | None = None) -> dict[str, list[Any]]:
    """The doctors, connectors and statuses the filters offer (of ``sources`` only, for a
    site-scoped user). The statuses are the vocabulary every source is mapped into, not a
    ``DISTINCT`` of the stored ones: no index leads with the status, so that read every
    appointment ever stored at each page load."""
    doctors, connectors = store.status_rows.filter_choices(sources)
    return {"doctors": [(d, n or d) for d, n in doctors], "connectors": connectors,
            "statuses": sorted(APPOINTMENT_STATUSES)}


def appointment(store: Store, appointment_id: int, full: bool = False,
                now: datetime | None = None) -> AppointmentRow | None:
    rows = _rows(store, _appointment_query().where(A.id == appointment_id), full, now)
    return rows[0] if rows else None


def timeline(store: Store, appointment_id: int, full: bool = False) -> list[dict[str, Any]]:
    """What happened to one appointment, in order: outbox events, reminders planned and their
    deliveries, calendar pushes and every answer, request and desk action, each as it came (a later
    answer never rewrites who gave an earlier one). No contact details; the patient's own words
    (a reschedule note, a reply) only when ``full`` (the front desk)."""
    items: list[dict[str, Any]] = []
    with store.engine.connect() as connection:
        for ev in connection.execute(select(table_of(Event)).where(E.appointment_id == appointment_id)):
            items.append({"at": ev.created_at, "what": "event", "title": ev.kind,
                          "detail": f"version {ev.version}" + _changed(ev.payload)})
        rems = connection.execute(select(REMINDERS).where(RM.appointment_id == appointment_id)).all()
        delivered = StatusRows.delivered_ids(connection, [r.id for r in rems])
        zone_name = connection.execute(select(A.timezone).where(A.id == appointment_id)).scalar()
        zone = ZoneInfo(zone_name) if zone_name else None
        names = {r.id: message_name(r.kind, r.offset, r.due_at, r.starts_at, zone) for r in rems}
        for r in rems:
            label = f"{names[r.id]} to {r.recipient}"
            items.append({"at": r.created_at, "what": "reminder", "title": f"planned {label}", "due": r.due_at,
                          "detail": f"now {reminder_state(r.status, 'delivered' if r.id in delivered else None)}"
                                    + (f" ({mask_text(r.reason)})" if r.reason else "")})
        if rems:
            for d in connection.execute(select(DELIVERIES).where(DL.reminder_id.in_([r.id for r in rems]))):
                items.append({"at": d.created_at, "what": "delivery",
                              "title": f"{names.get(d.reminder_id, 'message')}: {d.outcome} via {d.channel}",
                              "detail": f"{d.notifier}" + (f", provider says {d.provider_status}"
                                                           if d.provider_status else "")
                              + (f": {mask_text(d.detail)}" if d.detail else "")})
        for link in connection.execute(select(LINKS).where(LINKS.c.appointment_id == appointment_id)):
            items.append({"at": link.updated_at, "what": "calendar", "title": f"calendar {link.state}",
                          "detail": f"{link.provider} {link.calendar_id}"
                          + (f"; {link.attempts} failed: {mask_text(link.last_error)}" if link.attempts else "")})
        items += [history_item(e) for e in visit_history(connection, appointment_id, full)]
    order = {"event": 0, "reminder": 1, "calendar": 2, "delivery": 3, "answer": 4, "request": 4, "desk": 5}
    return sorted(items, key=lambda i: (i["at"], order[i["what"]]))


def history_item(e: Entry) -> dict[str, Any]:
    """One answer, request or desk action in a visit's history, as it happened: who acted, how,
    what they said (the patient's words only in the front desk's view), why (the desk's
    reason), what became of it at the source and whether it was taken back."""
    if e.actor == "front desk":
        # the login is named as one ("user desk"), never run into the channel: a login called
        # "desk" read "by desk by phone"
        parts = [(f"{e.how}, " if e.how else "") + f"recorded by user {e.user}"]
        if e.reason:
            parts.append(f"reason: {e.reason}")
        if e.undone:
            parts.append(f"undone by user {e.undone_by}")
        return {"at": e.at, "what": "desk", "title": e.title, "detail": "; ".join(parts), "undone": e.undone,
                "action": e.action, "source": e.source, "written": e.written, "text": e.words}
    detail = e.how
    if e.undone:
        detail += "; undone by the front desk"
    elif e.outcome not in ("applied", "requested"):
        detail += f"; {e.outcome.replace('_', ' ')}"
    return {"at": e.at, "what": "request" if e.request else "answer", "title": e.title, "detail": detail,
            "text": e.words, "request": e.request, "undone": e.undone}


def _changed(payload: str) -> str:
    """What moved and how the status changed (field names and statuses, never patient data)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = []
    if isinstance(data.get("moved"), list) and data["moved"]:
        parts.append("moved: " + ", ".join(str(m) for m in data["moved"]))
    status = data.get("status")
    if isinstance(status, list) and len(status) == 2:
        parts.append(f"status {status[0]} → {status[1]}")
    return "".join(f"; {p}" for p in parts)


# --- charts -----------------------------------------------------------------------------------

def funnel(store: Store, start: datetime, end: datetime,
           sources: Collection[str] | None = None) -> list[tuple[str, int]]:
    """Patient messages due in [start, end): planned (not cancelled) → sent → delivered
    (a provider receipt says so) → confirmed (the appointment's patient accepted)."""
    rows, delivered = store.status_rows.patient_messages_due(start, end, FUNNEL_STATUSES, sources)
    sent = [r for r in rows if r.status == ReminderStatus.SENT]
    return [("planned", len(rows)), ("sent", len(sent)),
            ("delivered", sum(1 for r in sent if r.id in delivered)),
            ("confirmed", sum(1 for r in sent if r.participation == "accepted"))]


@dataclass(frozen=True)
class Rate:
    label: str
    total: int
    confirmed: int
    noshow: int

    @property
    def confirmed_pct(self) -> float:
        return 100.0 * self.confirmed / self.total if self.total else 0.0

    @property
    def noshow_pct(self) -> float:
        return 100.0 * self.noshow / self.total if self.total else 0.0


def _rate_rows(store: Store, start: datetime, end: datetime, sources: Collection[str] | None = None) -> list[Any]:
    """The visits in [start, end) that were not cancelled, each with ``noshow``: the source says
    so, or the front desk recorded it (a desk no-show that stands: a CSV source has no such
    status, and its clinic would chart 0 %)."""
    with store.engine.connect() as connection:
        rows = list(connection.execute(
            select(A.id, A.start_utc, A.status, A.participation, A.practitioner_ref, D.name)
            .select_from(table_of(Appointment))
            .outerjoin(table_of(Practitioner), and_(D.connector == A.connector,
                                                    D.external_id == A.practitioner_ref))
            .where(A.deleted_at.is_(None), A.status.not_in(INACTIVE), A.start_utc >= start, A.start_utc < end,
                   of_sources(A.connector, sources))))
        desk = desk_states(connection, [r.id for r in rows]) if rows else {}
    return [RateRow(r.start_utc, r.participation, r.practitioner_ref, r.name,
                    r.status == "noshow" or desk.get(r.id) == DESK_STATES["no_show"]) for r in rows]


@dataclass(frozen=True)
class RateRow:
    start_utc: datetime
    participation: str | None
    practitioner_ref: str | None
    name: str | None
    noshow: bool


def _rates(groups: dict[str, list[Any]]) -> list[Rate]:
    return [Rate(label, len(rows), sum(1 for r in rows if r.participation == "accepted"),
                 sum(1 for r in rows if r.noshow)) for label, rows in groups.items()]


def rates_by_week(store: Store, start: datetime, end: datetime, zone: ZoneInfo,
                  sources: Collection[str] | None = None) -> list[Rate]:
    """Per ISO week (the clinic's local dates) of appointments that were not cancelled: the share
    the patient confirmed and the share marked no-show."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in _rate_rows(store, start, end, sources):
        year, week, _ = row.start_utc.astimezone(zone).isocalendar()
        groups[f"{year}-W{week:02d}"].append(row)
    return _rates(dict(sorted(groups.items())))


def rates_by_doctor(store: Store, start: datetime, end: datetime,
                    sources: Collection[str] | None = None) -> list[Rate]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in _rate_rows(store, start, end, sources):
        groups[row.name or row.practitioner_ref or "(no doctor)"].append(row)
    return _rates(dict(sorted(groups.items())))


def messages_per_channel_day(store: Store, start: datetime, end: datetime,
                             zone: ZoneInfo) -> tuple[list[str], dict[str, list[int]]]:
    """Messages handed to a notifier (delivery outcome `sent`) per channel per local day:
    the days in [start, end) and, per channel, one count per day."""
    rows = store.status_rows.messages_handed_over(start, end)
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    series: dict[str, list[int]] = {}
    for channel, at in rows:
        counts = series.setdefault(channel, [0] * len(days))
        counts[index[at.astimezone(zone).date()]] += 1
    return [d.isoformat() for d in days], dict(sorted(series.items()))
