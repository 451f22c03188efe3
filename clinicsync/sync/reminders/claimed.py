"""The claimed reminders loaded with the current rows they are about: each :class:`Item`'s
appointment, patient, doctor and location (an agenda's visits of the day), read in a few
statements for a whole batch of claims, and the deadlines those rows set.

A part of the ``Dispatcher`` (dispatch.py), which is composed of it: the loading needs the
pass's settings, clock and store, not its sending state (claims, providers' waits, opt-outs
found during the pass)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select

from clinicsync.common.timeutil import parse_duration, zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES, ReminderStatus
from clinicsync.notifiers.base import (
    CHANNELS,
)
from clinicsync.sync.config.clinic import ClinicSettings
from clinicsync.sync.config.routes import PHONE_CHANNELS
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import Offset, RemindersSettings
from clinicsync.sync.reminders.agenda_stats import DayStats, day_stats
from clinicsync.sync.reminders.compose import SiteComposers, Visit
from clinicsync.sync.reminders.deleted_rows import gone_at_source
from clinicsync.sync.reminders.timing import due_for_offset, place, wall_clock
from clinicsync.sync.runs.setaside import Item as SetAsideItem
from clinicsync.sync.runs.setaside import run_isolated
from clinicsync.sync.store.model import Appointment, Location, Patient, Practitioner, table_of
from clinicsync.sync.store.model.reminders import OPT_OUTS, REMINDERS
from clinicsync.sync.store.store import Store

A = table_of(Appointment)
P = table_of(Patient)
D = table_of(Practitioner)
L = table_of(Location)
R = REMINDERS
# A patient's status notices: each has a deadline (reminders.notices.max_lateness).
NOTICE_KINDS = frozenset({"confirmation", "rescheduled", "confirmed", "cancelled"})
# Rows about the start they were planned for rather than the visit's current one: a
# cancellation, and a doctor's notice that a visit left their schedule (its old time).
OLD_START_KINDS = frozenset({"cancelled", "reassigned"})
# Doctors' notices about the visit as it is now (the patient's answer), not about a change of
# one doctor's schedule: they go to whoever has the visit when they are sent, as every message
# is rendered from the current appointment. A visit given to another doctor between the answer
# and the send (a stopped dispatcher, a push) would otherwise tell the one who no longer has it.
# The same-day change notices keep the doctor they were planned for (``reassigned``: the one
# whose schedule the visit left).
CURRENT_DOCTOR_KINDS = frozenset({"declined"})
STALE_DECLINE = "the patient's answer no longer stands"  # a `declined` notice whose answer was cleared
STAFF = ("practitioner", "frontdesk")  # recipients reached by email, with no quiet hours


def patient_address(patient: Any, channel: str) -> str | None:
    """Where a message on ``channel`` reaches the patient, if they consented to that channel:
    the phone for SMS and WhatsApp (``allow_sms``), the email otherwise (``allow_email``)."""
    if patient is None:
        return None
    if channel in PHONE_CHANNELS:
        return str(patient.phone) if patient.phone and patient.allow_sms else None
    return str(patient.email) if patient.email and patient.allow_email else None


def fallback_numbers(patient: Any, channel: str) -> list[str]:
    """The patient's other numbers (``fallback_phones``: E.164, space-separated, in order) a
    message on ``channel`` may go to when the first one proves bad: only for SMS and WhatsApp,
    with the same consent as the first (``allow_sms``) and only beside a first number. Each
    number once, never the first again: one reminder never goes twice to one number."""
    first = patient_address(patient, channel) if channel in PHONE_CHANNELS else None
    if first is None:
        return []
    others = (getattr(patient, "fallback_phones", None) or "").split()
    return [number for number in dict.fromkeys(others) if number != first]


@dataclass
class Item:
    """One claimed reminder with the current rows it is about."""

    row: Any
    appointment: Any | None = None
    patient: Any | None = None
    doctor: Any | None = None
    location: str | None = None
    agenda: list[Visit] = field(default_factory=list)
    stats: DayStats | None = None  # an agenda's figures
    tried: list[str] = field(default_factory=list)
    error: str | None = None  # the last permanent failure, for the final reason
    attempts: int = 0  # hand-overs so far, this run's included
    superseded: bool = False  # a later reminder (for a confirmation: any reminder) for the visit is due and in time


def reminder_time(starts_at: datetime, zone_name: str, label: str) -> datetime:
    """When the reminder at offset ``label`` is meant to go for a visit at ``starts_at``."""
    return due_for_offset(starts_at, zone_name, Offset.parse(label))


class ClaimedRows:
    """Loads claimed reminders (``_load``: each an :class:`Item`) and answers what their rows say:
    the clinic, the send-by and notice deadlines, whether a later reminder stands in."""

    # Set by the Dispatcher (dispatch.py), which this is a part of.
    settings: Settings
    config: RemindersSettings
    store: Store
    now: datetime
    clock: Callable[[], datetime]
    composers: SiteComposers
    _clinics: dict[str | None, ClinicSettings]
    _gone: set[tuple[str, str]]
    _opt_outs: set[tuple[str, str]]

    def _isolated(self, item: Item, work: Callable[[], None]) -> bool:
        raise NotImplementedError  # the Dispatcher's: set-aside work (runs/setaside.py)

    def _load(self, ids: list[int]) -> list[Item]:
        """The claimed rows with the current appointment, patient, doctor and location (a few queries)."""
        with self.store.engine.connect() as connection:
            rows = connection.execute(select(R).where(R.c.id.in_(ids)).order_by(R.c.due_at, R.c.id)).all()
            appointment_ids = [r.appointment_id for r in rows if r.appointment_id is not None]
            appointments = {a.id: a for a in connection.execute(select(A).where(A.c.id.in_(appointment_ids)))}
            items = [Item(row, appointments.get(row.appointment_id), tried=[t for t in row.tried.split(",") if t],
                          attempts=row.attempts) for row in rows]
            self._mark_superseded(connection, items)
            refs: dict[str, set[tuple[str, str]]] = {"patient": set(), "doctor": set(), "location": set()}
            for item in items:
                for part, ref in self._refs(item).items():
                    if ref:
                        refs[part].add((item.row.connector, ref))
            patients = self._by_key(connection, P, refs["patient"])
            doctors = self._by_key(connection, D, refs["doctor"])
            locations = self._by_key(connection, L, refs["location"])
            loaded = []
            for item in items:
                wanted = self._refs(item)
                connector = item.row.connector
                item.patient = patients.get((connector, wanted["patient"] or ""))
                item.doctor = doctors.get((connector, wanted["doctor"] or ""))
                place_row = locations.get((connector, wanted["location"] or ""))
                item.location = place_row.name if place_row is not None else None

                def agenda(item: Item = item) -> None:
                    with connection.begin_nested():  # a failed query spoils only this savepoint
                        self._agenda(connection, item)

                if not self._isolated(item, agenda):  # an agenda that cannot be read is set aside
                    loaded.append(item)
            items = loaded
            self._gone |= gone_at_source(self.settings, self.store, {
                (i.row.connector, i.appointment.external_id) for i in items
                if i.row.kind == "reminder" and i.row.recipient == "patient" and i.appointment is not None})
            addresses = {a for i in items for a in (self._address(i, c) for c in CHANNELS) if a}
            addresses |= {n for i in items if i.row.recipient == "patient" for c in PHONE_CHANNELS
                          for n in fallback_numbers(i.patient, c)}  # an opted-out fallback is passed over
            if addresses:
                self._opt_outs |= {(o.channel, o.address) for o in connection.execute(
                    select(OPT_OUTS.c.channel, OPT_OUTS.c.address).where(OPT_OUTS.c.address.in_(addresses)))}
        return items

    def _mark_superseded(self, connection: Connection, items: list[Item]) -> None:
        """A patient's reminder is superseded when a later reminder for the same visit is due
        too and still within its lateness bound (or already went): only the latest goes, so
        a dispatcher that was down never sends "tomorrow" and "in an hour" in one burst.

        A patient's unsent booking confirmation is superseded the same way by any reminder for
        the visit's current start that is due and still in time (or already went): a visit
        booked an hour ahead, or a confirmation held by the quiet hours, got the confirmation
        and the 1-hour reminder in the same minute. The reminder says the
        same and carries the same answer link."""
        candidates = [(i, a) for i in items if (a := i.appointment) is not None
                      and i.row.kind in ("reminder", "confirmation") and i.row.recipient == "patient"]
        if not candidates:
            return
        ids = list({i.row.appointment_id for i, _ in candidates})
        others: dict[int, list[Any]] = {}
        for start in range(0, len(ids), 500):
            for row in connection.execute(
                    select(R.c.id, R.c.appointment_id, R.c.recipient_ref, R.c.offset, R.c.starts_at, R.c.status)
                    .where(R.c.appointment_id.in_(ids[start:start + 500]), R.c.kind == "reminder",
                           R.c.recipient == "patient", R.c.due_at <= self.now,
                           R.c.status.in_((ReminderStatus.PENDING, ReminderStatus.SENDING, ReminderStatus.SENT,
                                           ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN)))):
                others.setdefault(row.appointment_id, []).append(row)
        for item, appointment in candidates:
            row, zone_name = item.row, appointment.timezone
            # Only the same patient's reminders: one that went to a patient who had the visit
            # before it was given to another told the new patient nothing.
            own = [o for o in others.get(row.appointment_id, ()) if o.recipient_ref == row.recipient_ref]
            if row.kind == "confirmation":
                item.superseded = any(self._stands_in(other, appointment.start_utc, zone_name, row.connector)
                                      for other in own)
                continue
            mine = reminder_time(row.starts_at, zone_name, row.offset)
            for other in own:
                if other.id == row.id or other.starts_at != row.starts_at:
                    continue
                if reminder_time(other.starts_at, zone_name, other.offset) <= mine:
                    continue
                if other.status in (ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN) \
                        or self.now <= self._send_by(other, zone_name, row.connector):
                    item.superseded = True
                    break

    def _stands_in(self, reminder: Any, start: datetime, zone_name: str, connector: str) -> bool:
        """Whether a due reminder tells the patient what their confirmation would: it is for
        the visit's current start, and it went, or it will go (in time, before ``min_lead``)."""
        if reminder.starts_at != start:
            return False
        if reminder.status in (ReminderStatus.SENT, ReminderStatus.DELIVERED, ReminderStatus.UNKNOWN):
            return True
        return self.now <= self._send_by(reminder, zone_name, connector) and self.now < start - self.config.lead

    def _clinic(self, connector: str | None) -> ClinicSettings:
        """``clinic_for(connector)``, made once per site and run (a message reads it several times)."""
        site = self.settings.site_of(connector)
        clinic = self._clinics.get(site)
        if clinic is None:
            clinic = self._clinics[site] = self.settings.clinic_for(connector)
        return clinic

    def _send_by(self, row: Any, zone_name: str, connector: str) -> datetime:
        """The latest a reminder may go out: its time (moved out of the quiet hours, where
        planning moved it: ``connector``'s site's) plus the offset's maximum lateness."""
        offset = Offset.parse(row.offset)
        intended = due_for_offset(row.starts_at, zone_name, offset)
        placed = place(intended, now=intended, latest=row.starts_at - self.config.lead, zone_name=zone_name,
                       quiet=self.settings.quiet_hours_for(connector)).due
        return max(intended, placed or intended) + self.config.lateness(offset)

    def _agenda_deadline(self, row: Any) -> datetime:
        """The latest a doctor's agenda may go out: its day at ``agenda.at`` (clinic time) plus
        ``agenda.max_lateness``; later it would list visits already past."""
        day = date.fromisoformat(row.offset)
        due = wall_clock(day, self.config.agenda.at, self._clinic(row.connector).timezone)
        return due + parse_duration(self.config.agenda.max_lateness)

    def _notice_deadline(self, row: Any, zone_name: str) -> datetime:
        """The latest a patient's status notice may go out: when it was planned (moved out of
        the quiet hours, as planning moved it) plus ``notices.max_lateness``. Its visit's
        start bounds it too (place: a notice about a visit that has begun is `too late`)."""
        planned: datetime = row.created_at
        placed = place(planned, now=planned, latest=planned + timedelta(days=2), zone_name=zone_name,
                       quiet=self.settings.quiet_hours_for(row.connector)).due
        return max(planned, placed or planned) + parse_duration(self.config.notices.max_lateness)

    @staticmethod
    def _refs(item: Item) -> dict[str, str | None]:
        row, a = item.row, item.appointment
        doctor = a.practitioner_ref if a is not None else None  # the visit's doctor now
        if row.recipient == "practitioner" and row.kind not in CURRENT_DOCTOR_KINDS:
            doctor = row.recipient_ref  # the doctor it was planned for (an agenda, a same-day notice)
        return {
            # the recipient, or the patient a doctor's notice is about
            "patient": row.recipient_ref if row.recipient == "patient" else (a.patient_ref if a else None),
            "doctor": doctor,
            "location": a.location_ref if a is not None else None,
        }

    @staticmethod
    def _by_key(connection: Connection, table: Any, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        if not keys:
            return {}
        # Per connector ``external_id IN (…)``, not ``(connector, external_id) IN (VALUES …)``:
        # SQLite answers the row-value form by scanning the whole table (every patient ever
        # imported, at each chunk of a dispatch), the per-connector form by the unique index.
        ids: dict[str, list[str]] = {}
        for connector, external_id in keys:
            ids.setdefault(connector, []).append(external_id)
        return {(r.connector, r.external_id): r for connector, refs in ids.items()
                for r in connection.execute(select(table).where(table.c.connector == connector,
                                                                table.c.external_id.in_(refs)))}

    def _agenda(self, connection: Connection, item: Item) -> None:
        row = item.row
        if row.kind == "agenda":
            end = row.starts_at + timedelta(days=1, hours=1)  # a long (DST) day fits
            agenda = connection.execute(
                select(A, P.c.name.label("patient_name"), L.c.name.label("location_name"))
                .outerjoin(P, and_(P.c.connector == A.c.connector, P.c.external_id == A.c.patient_ref))
                .outerjoin(L, and_(L.c.connector == A.c.connector, L.c.external_id == A.c.location_ref))
                .where(A.c.connector == row.connector, A.c.practitioner_ref == row.recipient_ref,
                       A.c.start_utc >= row.starts_at, A.c.start_utc < end, A.c.deleted_at.is_(None),
                       A.c.status.in_(ACTIVE_STATUSES))
                .order_by(A.c.start_utc)).all()
            day = row.offset
            clinic_zone = self._clinic(row.connector).timezone  # the day of the doctor's site
            item.agenda = []
            for v in agenda:  # a visit that cannot be shown is left out (and set aside); the agenda goes
                def add(v: Any = v) -> None:
                    v.start_utc.astimezone(zone(v.timezone))  # the visit's own time, as the agenda shows it
                    if v.start_utc.astimezone(zone(clinic_zone)).date().isoformat() == day:
                        item.agenda.append(self._visit(v, None, v.patient_name, v.location_name, for_doctor=True))
                run_isolated(self.store.engine, SetAsideItem("agenda", f"appointment:{v.id}", v.id, v.connector,
                                                             v.external_id), add, now=self.clock())
            agenda_day = date.fromisoformat(day)
            since = wall_clock(agenda_day - timedelta(days=1), self.config.agenda.at, clinic_zone)
            item.stats = day_stats(connection, row.connector, row.recipient_ref, agenda_day, clinic_zone, since,
                                   self.now)

    def _visit(self, a: Any, doctor: Any | None, patient_name: str | None, location: str | None,
               patient_phone: str | None = None, for_doctor: bool = False) -> Visit:
        """The appointment as a message shows it; a doctor's notice carries the doctor's own
        join link when the source has a separate one."""
        join_url = (a.provider_join_url or a.join_url) if for_doctor else a.join_url
        return Visit(a.connector, a.external_id, a.start_utc, a.end_utc, a.timezone, a.version, a.type,
                     location, doctor.name if doctor else None, patient_name, a.status,
                     visit_mode=a.visit_mode, join_url=join_url, dial_in=a.dial_in, patient_phone=patient_phone,
                     cancel_reason=a.cancel_reason, participation=a.participation)

    # -- deciding -------------------------------------------------------------------------
    @staticmethod
    def _address(item: Item, channel: str) -> str | None:
        if item.row.recipient == "frontdesk":  # the address the notice was planned for (calendar.front_desk_email)
            return str(item.row.recipient_ref) if channel == "email" and item.row.recipient_ref else None
        if item.row.recipient == "practitioner":
            return item.doctor.email if item.doctor is not None and channel == "email" else None
        return patient_address(item.patient, channel)
