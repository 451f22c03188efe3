"""Planning: turns outbox events into Reminder rows, in the same transaction as the
consumer's offset, so a crash never loses or repeats planning.

Per appointment the events of a read are reconciled against its current state:
- booked (created active, or reactivated): a confirmation, and reminders at the offsets;
- moved (rescheduled): pending reminders for the old start are cancelled, the offsets are
  planned for the new start, and a reschedule notice goes unless an unsent confirmation or
  notice is still pending (it renders the current time anyway);
- cancelled or deleted: everything pending for the patient is cancelled and one
  cancellation notice goes (none when the booking and its cancellation arrive together);
- given to another patient (a booking made under the wrong patient, then corrected at the
  source): what is pending for the patient who had it is cancelled, that patient is told it
  is cancelled if they had been told of it, and the patient who has it now is booked;
- confirmed by the clinic (proposed or pending -> booked): a `confirmed` notice, unless a
  confirmation or notice is still unsent (it shows the booking anyway);
- under way (arrived, checked-in, fulfilled: the patient is at the desk, in the room, seen):
  the patient's pending reminders and notices are cancelled ("visit under way: checked-in")
  and nothing more is planned for them; the doctors' schedule keeps the visit;
- fulfilled (the visit took place), when follow-ups are on: one `followup` per visit, ever
  (its key carries version 0, so a status that flaps back and forth sends nothing more).
Every row has a unique key, so planning the same events twice plans nothing new.

One file of a little over 800 lines, on purpose: the cases above are one decision per
appointment (``_Chunk``), and a change to one of them is checked against the others in the
same read. Should it grow, the batched insert of the planned rows (``insert_new`` and its
SQLite literal path) is the part to move out; it knows nothing of the cases.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from itertools import chain, compress
from operator import attrgetter, itemgetter, not_
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from clinicsync.common.timeutil import parse_duration as _duration
from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES, UNDER_WAY_STATUSES, ReminderStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import Offset, QuietHours, RemindersSettings
from clinicsync.sync.reminders.rows import PlanEvent, event_time, read_appointments, read_events, read_planned
from clinicsync.sync.reminders.timing import Fields, Placer, Slot, Step, due_for_offset, place, steps, wall_clock
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.setaside import Item, isolated_parts, resolve, retry_items
from clinicsync.sync.store.bulk import bind_column, quoted, utc_time_table
from clinicsync.sync.store.outbox import EVENTS, advance, claim_offset, settled
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS, PRACTITIONERS, REMINDERS, REMINDERS_CONSUMER, is_retrying

CONSUMER = REMINDERS_CONSUMER
READ_LIMIT = 2000  # events per transaction: fewer round trips, the write lock still held briefly
NOTICES = ("confirmation", "rescheduled", "confirmed")
_NO_KINDS: frozenset[str] = frozenset()
_NOTHING: list[Any] = []  # an appointment's stored rows when it has none (never appended to)
UNCONFIRMED = frozenset({"proposed", "pending"})  # statuses the clinic still has to confirm
_ENDED = frozenset({"cancelled", "deleted", "noshow"})  # events whose visit's pending messages are cancelled
GIVEN_AWAY = "appointment given to another patient"  # the reason on the rows of a patient who no longer has it
# The reason on a patient's unsent cancellation notice once the visit is theirs and booked
# again (given back to them, or cancelled and booked again): they never heard it had ended.
BOOKED_AGAIN = "the visit is booked for this patient again"
# The columns a planned row fills, in the order of the tuples built below; the rest start NULL.
COLUMNS = ("key", "appointment_id", "connector", "recipient", "recipient_ref", "kind", "offset", "version",
           "starts_at", "due_at", "status", "reason", "note", "channel", "tried", "attempts", "created_at",
           "updated_at")
STATUS = COLUMNS.index("status")
# A planned row's status, as the plain text a row tuple carries: the SQLite insert writes a value
# shared by every row into the statement only when it is exactly a str (_sqlite_literal).
PLANNED, PLANNED_SKIPPED = ReminderStatus.PENDING.value, ReminderStatus.SKIPPED.value
DATETIMES = tuple(COLUMNS.index(c) for c in ("starts_at", "due_at", "created_at", "updated_at"))
KEY = COLUMNS.index("key")
TEXTS_KEPT = 200_000  # Rules.texts is emptied past this many (~40 MB): a bound on a very large first run
ROWS_PER_STATEMENT = 200  # rows of one multi-row INSERT on SQLite (fewer if its parameters would pass the limit)
log = structlog.get_logger("clinicsync.reminders")


@dataclass
class PlanReport:
    planned: int = 0
    skipped: int = 0
    cancelled: int = 0
    events: int = 0
    replanned: int = 0  # appointments whose plan was made again because the settings changed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reminder_key(appointment_id: int, recipient: str, kind: str, offset: str | None, version: int) -> str:
    return ":".join([f"a{appointment_id}", recipient, kind, *([offset] if offset else []), f"v{version}"])


def agenda_key(connector: str, practitioner_ref: str, day: date) -> str:
    return f"agenda:{connector}:{practitioner_ref}:{day.isoformat()}"


class Rules:
    """What the settings say, worked out once per run rather than once per appointment."""

    def __init__(self, config: RemindersSettings,
                 quiet_for: Callable[[str], QuietHours | None] | None = None) -> None:
        """``quiet_for``: a source's quiet hours when they are its site's own
        (Settings.quiet_hours_for); None: ``config.quiet_hours`` for every source."""
        self.config = config
        self.lead = config.lead
        self.quiet = config.quiet_hours
        self._quiet_for = quiet_for
        self._quiet_of: dict[str, QuietHours | None] = {}
        self.same_day = config.agenda.same_day_changes
        self.notices = config.notices
        self.confirmed = config.notices.confirmed  # read once per appointment: hoisted
        self.followups = config.notices.followup.enabled
        self._offsets: dict[str | None, list[Offset]] = {}
        self._labels: dict[str | None, list[str]] = {}
        self._confirms: dict[str | None, bool] = {}
        self._steps: dict[str | None, list[Step]] = {}
        self._placers: dict[tuple[datetime, Any], Placer] = {}
        # UTC date-times as SQLite stores them, for the whole run (rows.read_appointments adds
        # the starts it read; insert_new the rest): a due is often another visit's start.
        self.texts: dict[datetime, str] = {}

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        """The rules of ``settings``: with `sites:`, each source's quiet hours are its site's."""
        return cls(settings.reminders, settings.quiet_hours_for if settings.sites else None)

    def quiet_of(self, connector: str) -> QuietHours | None:
        """The quiet hours of ``connector``'s patients (their site's, else ``reminders.quiet_hours``)."""
        if self._quiet_for is None:
            return self.quiet
        if connector not in self._quiet_of:
            self._quiet_of[connector] = self._quiet_for(connector)
        return self._quiet_of[connector]

    def placer(self, now: datetime, connector: str | None = None) -> Placer:
        """The run's :class:`Placer` for ``now`` and the quiet hours of ``connector`` (one per
        clock and quiet hours: every read of a run shares it)."""
        quiet = self.quiet if connector is None else self.quiet_of(connector)
        key = (now, None if quiet is None else (quiet.start, quiet.end))
        placer = self._placers.get(key)
        if placer is None:
            placer = self._placers[key] = Placer(now, quiet)
        return placer

    def offsets_for(self, appointment_type: str | None) -> list[Offset]:
        offsets = self._offsets.get(appointment_type)
        if offsets is None:
            offsets = self._offsets[appointment_type] = self.config.offsets_for(appointment_type)
        return offsets

    def labels_for(self, appointment_type: str | None) -> list[str]:
        """The labels of :meth:`offsets_for`, in its order."""
        labels = self._labels.get(appointment_type)
        if labels is None:
            labels = self._labels[appointment_type] = [o.label for o in self.offsets_for(appointment_type)]
        return labels

    def steps_for(self, appointment_type: str | None) -> list[Step]:
        """:meth:`offsets_for` as timing.dues_at takes them."""
        found = self._steps.get(appointment_type)
        if found is None:
            found = self._steps[appointment_type] = steps(self.offsets_for(appointment_type))
        return found

    def confirms(self, appointment_type: str | None) -> bool:
        confirms = self._confirms.get(appointment_type)
        if confirms is None:
            confirms = self._confirms[appointment_type] = self.config.confirms(appointment_type)
        return confirms


class _Chunk:
    """Plans one read of events; collects the rows to insert (as tuples in COLUMNS order),
    the keys already stored for its appointments, and the ids to cancel."""

    def __init__(self, connection: Connection, rules: Rules, now: datetime) -> None:
        self.connection = connection
        self.rules = rules
        self.now = now
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.known: set[str] = set()
        self.cancel: dict[int, str] = {}
        # Messages already out whose visit kept its local time under a zone correction: their
        # row's start, set to the corrected one (what the message told still holds).
        self.restart: dict[int, datetime] = {}
        # Appointments whose zone changed, start and all else kept (a zone fixed after go-live):
        # their pending rows are placed again by the new zone's clock and quiet hours (_retime).
        self.retime: dict[int, Any] = {}
        self.failed: list[str] = []  # set-aside keys of the appointments that could not be planned

    def placer(self, a: Any) -> Placer:
        """The placer of ``a``'s source: its site's quiet hours (groups of practices)."""
        return self.rules.placer(self.now, a.connector)

    def plan(self, events: list[PlanEvent]) -> None:
        grouped: dict[int, list[PlanEvent]] = defaultdict(list)
        for event in events:
            grouped[event.appointment_id].append(event)
        ids = list(grouped)
        if len(self.rules.texts) > TEXTS_KEPT:
            self.rules.texts.clear()
        appointments = read_appointments(self.connection, ids, texts=self.rules.texts)
        existing: dict[int, list[Any]] = defaultdict(list)
        for row in read_planned(self.connection, ids):
            existing[row.appointment_id].append(row)
            self.known.add(row.key)  # a row's key names its appointment: no other row can hold it
        # Planning an appointment only collects rows in memory, so the read is planned whole
        # first; only if one appointment fails is it planned again, each appointment isolated
        # (setaside.isolated_parts), so that the one that failed is set aside and the rest go
        # on. An isolation per appointment cost ~15 % of a first import's planning.
        rows, cancel, restart, retime = dict(self.rows), dict(self.cancel), dict(self.restart), dict(self.retime)
        try:
            for appointment_id, group in grouped.items():
                appointment = appointments.get(appointment_id)
                if appointment is not None:  # none stored yet (a first import): no list made for it
                    self._appointment(appointment, group, existing.get(appointment_id, _NOTHING))
        except Exception:
            self.rows, self.cancel, self.restart, self.retime = rows, cancel, restart, retime
            self._isolated(grouped, appointments, existing)

    def _isolated(self, grouped: dict[int, list[PlanEvent]], appointments: dict[int, Any],
                  existing: dict[int, list[Any]]) -> None:
        for appointment_id, group in grouped.items():
            appointment = appointments.get(appointment_id)
            if appointment is not None:  # one that cannot be planned is set aside; the rest go on
                with isolated_parts(self.connection, appointment_item(appointment), self,
                                    ("rows", "cancel", "restart", "retime"), self.now) as outcome:
                    self._appointment(appointment, group, existing.get(appointment_id, _NOTHING))
                if outcome.failed:
                    self.failed.append(appointment_key(appointment_id))

    def _appointment(self, a: Any, events: list[PlanEvent], existing: list[Any]) -> None:
        if len(events) == 1 and events[0].payload.get("baseline"):
            if existing and _local_time_kept(events[0]):
                existing = self._restart(a, events[0].payload, existing)
            self._baseline(a, events[0].kind, existing)
        else:
            self._told(a, events, existing)

    def _baseline(self, a: Any, kind: str, existing: list[Any]) -> None:
        """:meth:`_told` of one go-live baseline event (a first import's only event per
        appointment), written out without the sets, lists and generators it builds per
        appointment. Nothing is told, so nothing is announced, confirmed, followed
        up or told the doctors: an active visit's reminders are planned, an inactive one's
        pending messages cancelled. tests/sync/reminders/test_fast_paths.py runs both ways."""
        if not a.patient_ref:
            return
        pending = ([r for r in existing if r.recipient == "patient" and r.status == ReminderStatus.PENDING]
                   if existing else _NOTHING)
        if a.deleted_at is None and a.status in UNDER_WAY_STATUSES:
            self._under_way(a, pending)
        elif a.deleted_at is None and a.status in ACTIVE_STATUSES:
            self._booked_again(a, pending)
            self._replan(a, False, pending, existing, announce=False)
        elif kind in _ENDED:
            reason = "no-show" if a.status == "noshow" else "appointment cancelled"
            for row in pending:
                self.cancel[row.id] = reason

    def _restart(self, a: Any, payload: dict[str, Any], existing: list[Any]) -> list[Any]:
        """A visit whose UTC start a zone correction moved to the same local time (a tz rule
        change, sync/store/zonerules.py; a zone setting edited, sync/store/changes.py ``zone_corrected``):
        the patient's messages already out (sent, or perhaps sent) told that local time, so they
        are about the corrected start. Their rows' ``starts_at`` follows it: the offset a sent
        reminder covers is not planned again (a second 3d reminder, when the correction moved
        its due to after the first one went), and its answer link still shows the visit."""
        previous = payload.get("previous") or {}
        old = previous.get("start")
        if not old or a.start_utc is None:
            return existing
        start = datetime.fromisoformat(old.replace("Z", "+00:00"))
        kept = []
        for row in existing:
            if row.recipient == "patient" and row.status not in (ReminderStatus.PENDING, ReminderStatus.SKIPPED,
                                                                 ReminderStatus.CANCELLED) \
                    and row.starts_at == start and row.starts_at != a.start_utc:
                self.restart[row.id] = a.start_utc
                row = row._replace(starts_at=a.start_utc)
            kept.append(row)
        return kept

    def _told(self, a: Any, events: list[PlanEvent], existing: list[Any]) -> None:
        """Plans one appointment from a read's events (any number, baseline or told)."""
        # Events of a connector's go-live baseline (payload "baseline") record what existed
        # before: they plan reminders but announce nothing (DESIGN invariant 7).
        kinds = {e.kind for e in events}
        told = [e for e in events if not e.payload.get("baseline")]
        recorded = len(told) < len(events)
        told_kinds: set[str] | frozenset[str]
        if told:
            told_kinds = {e.kind for e in told} if recorded else kinds
            booked = "created" in told_kinds or any(e.kind == "updated" and e.payload.get("reactivated")
                                                    for e in told)
        else:  # a baseline's events only (a first import): nothing told, nothing booked
            told_kinds, booked = _NO_KINDS, False
        moved = "rescheduled" in told_kinds
        active = a.deleted_at is None and a.status in ACTIVE_STATUSES
        given = bool(existing) and bool(a.patient_ref) and (
            self._given_away(a, existing) or _planned_last_for_another(a, existing))
        if given:  # from here on, the rows of the patient who has the visit now
            existing = [r for r in existing if r.recipient != "patient" or r.recipient_ref == a.patient_ref]
            booked = booked or bool(told)
        pending = ([r for r in existing if r.recipient == "patient" and r.status == ReminderStatus.PENDING]
                   if existing else _NOTHING)
        if a.patient_ref:
            if not active:
                if kinds & _ENDED:
                    reason = "no-show" if a.status == "noshow" else "appointment cancelled"
                    for row in pending:
                        self.cancel[row.id] = reason
                    if told_kinds & {"cancelled", "deleted"} and "created" not in told_kinds and not given:
                        self._notice(a, "cancelled")
            elif a.status in UNDER_WAY_STATUSES:
                self._under_way(a, pending)
                if (self.rules.followups and a.status == "fulfilled"
                        and any(_status_change(e, None, "fulfilled") for e in told)):
                    self._followup(a)
            else:
                unsent = self._booked_again(a, pending)
                came_back = given and bool(unsent)  # nothing changed for them: no second confirmation
                if came_back:
                    booked = False
                    pending = [r for r in pending if r not in unsent]
                confirmed = (not booked and self.rules.confirmed and a.status == "booked"
                             and any(_status_change(e, UNCONFIRMED, "booked") for e in told))
                if booked or moved or recorded or came_back:
                    self._replan(a, booked, pending, existing, announce=(booked or moved) and not confirmed,
                                 since=self._start_known(told) if booked or moved else None)
                elif pending and any(e.payload.get("zone") for e in told):
                    self.retime[a.id] = a
                if confirmed and not any(r.kind in NOTICES for r in pending):
                    self._notice(a, "confirmed")
        if self.rules.same_day and told:
            self._same_day(a, told)

    def _under_way(self, a: Any, pending: list[Any]) -> None:
        """The visit has begun or taken place: what is still pending for its patient about it
        (a 1-hour "see you at 11:00 — Confirm", an unsent confirmation) is cancelled, naming the
        status, and nothing is planned (else a checked-in patient still got the SMS).
        A cancellation notice still owed for an earlier state stays; a follow-up is planned apart."""
        reason = under_way_reason(a.status)
        for row in pending:
            if row.kind not in ("cancelled", "followup"):
                self.cancel[row.id] = reason

    def _booked_again(self, a: Any, pending: list[Any]) -> list[Any]:
        """The patient's own cancellation notice, still unsent while the visit is theirs and
        booked (given back to them, or cancelled and booked again): cancelled, as they never
        heard it had ended. One owed to a patient who had the visit before still goes."""
        unsent = [r for r in pending if r.kind == "cancelled" and r.recipient_ref == a.patient_ref] \
            if pending else _NOTHING
        for row in unsent:
            self.cancel[row.id] = BOOKED_AGAIN
        return unsent

    def _given_away(self, a: Any, existing: list[Any]) -> bool:
        """Whether the visit has just gone to another patient: rows of a patient other than
        its own that are still live. Their pending rows are cancelled (not a cancellation notice
        of theirs: a later pass before it goes must not drop it), and a patient who had
        been told of the visit (a message sent, or perhaps sent, since their last cancellation
        notice) is told it is cancelled, at the start they knew. Why here and not by an event
        kind: the change comes as a plain update, and the rows say who was told what."""
        others: dict[str, list[Any]] = defaultdict(list)
        for row in existing:
            if row.recipient == "patient" and row.recipient_ref != a.patient_ref:
                others[row.recipient_ref].append(row)
        given = False
        for ref, rows in others.items():
            for row in rows:  # their own cancellation notice, still unsent, stands
                if row.status == ReminderStatus.PENDING and row.kind != "cancelled":
                    self.cancel[row.id] = GIVEN_AWAY
                    given = True
            told = [r for r in rows
                    if r.status in (ReminderStatus.SENT, ReminderStatus.UNKNOWN) and r.kind != "cancelled"]
            last_told = max(told, key=attrgetter("version"), default=None)
            cancelled = max((r.version for r in rows if r.kind == "cancelled" and r.status != ReminderStatus.CANCELLED),
                            default=0)
            if last_told is not None and last_told.version > cancelled:
                key = f"a{a.id}:patient:cancelled:v{a.version}"
                if key not in self.rows and key not in self.known:
                    self._add(a, "patient", ref, "cancelled", None,
                              self.placer(a).notice(last_told.starts_at, a.timezone), self.now,
                              starts_at=last_told.starts_at)
                given = True
        return given

    def _start_known(self, told: list[PlanEvent]) -> datetime | None:
        """When the store learned the visit's current start: the last of this read's events that
        booked or moved it. A pass that runs late (the sync that stored the change died
        before planning, the planner failed for an hour) plans what fell due since then as
        due now, for the dispatcher to send while it is in time (its max_lateness), as if
        planning had run with the sync: without this it was `too late` at planning, though
        a dispatcher run then would have sent it."""
        setting = [e for e in told if e.kind in ("created", "rescheduled")
                   or (e.kind == "updated" and e.payload.get("reactivated"))]
        if not setting:
            return None
        known = event_time(self.connection, setting[-1].stored_at)
        return min(known, self.now) if known is not None else None

    def _replan(self, a: Any, booked: bool, pending: list[Any], existing: list[Any], announce: bool = True,
                since: datetime | None = None) -> None:
        for row in pending:
            if row.kind == "reminder" and row.starts_at != a.start_utc:
                self.cancel[row.id] = "appointment moved"
        notice_pending = any(r.kind in NOTICES for r in pending) if pending else False
        if announce and not notice_pending:  # not announced: recorded at go-live, reminders only
            if not booked:
                self._notice(a, "rescheduled")
            elif self.rules.confirms(a.type):
                self._notice(a, "confirmation")
        start, zone_name = a.start_utc, a.timezone
        covered = {r.offset for r in existing if r.recipient == "patient" and r.kind == "reminder"
                   and r.starts_at == start and r.status != ReminderStatus.CANCELLED} if existing else ()
        latest = start - self.rules.lead
        steps = self.rules.steps_for(a.type)
        # _add's row, written out for the offsets: three or four per appointment.
        rows, now, ref, version = self.rows, self.now, a.patient_ref, a.version
        head, tail = f"a{a.id}:patient:reminder:", f":v{version}"
        for (label, _, _), (due, (placed, reason, note)) in zip(
                steps, self.placer(a).at_steps(start, zone_name, steps, latest, since), strict=True):
            if label not in covered:
                key = head + label + tail
                rows[key] = (key, a.id, a.connector, "patient", ref, "reminder", label, version, start,
                             placed or due, PLANNED if placed else PLANNED_SKIPPED, reason, note, None, "", 0, now, now)

    def _notice(self, a: Any, kind: str) -> None:
        self._add(a, "patient", a.patient_ref, kind, None, self.placer(a).notice(a.start_utc, a.timezone), self.now)

    def _followup(self, a: Any) -> None:
        """Once per visit, ``after`` its end (outside quiet hours), until ``within`` after it."""
        followup = self.rules.notices.followup
        due = max(self.now, a.end_utc + _duration(followup.after))
        slot = place(due, now=self.now, latest=a.end_utc + _duration(followup.within), zone_name=a.timezone,
                     quiet=self.rules.quiet_of(a.connector))
        self._add(a, "patient", a.patient_ref, "followup", None, (slot.due, slot.reason, slot.note), due, version=0)

    def _same_day(self, a: Any, events: list[PlanEvent]) -> None:
        """A doctor's notice at once of a change to one of today's visits (``same_day_changes``).
        A visit given to another doctor is told to both: it left one schedule (``reassigned``,
        naming its old start) and joined another (``assigned``).

        The notice is the net change since the doctors last heard (the read's first change
        before, the visit now after): pushes can bring several changes of one visit between
        two planning passes, and telling only the last ("moved from 11:00", when the agenda
        said 10:00) would leave the doctor who first had it unaware that it left."""
        active = a.deleted_at is None and a.status in ACTIVE_STATUSES
        if any(e.kind == "created" for e in events):  # new since the last pass: nobody knew it
            if active and a.practitioner_ref and self._today_ahead(a.start_utc, a.timezone):
                self._tell(a, a.practitioner_ref, "confirmation")
            return
        before = next((e.payload["previous"] for e in events if e.payload.get("previous")), None)
        # A deletion carries no "previous": the row keeps the fields it had.
        old_start = datetime.fromisoformat(before["start"].replace("Z", "+00:00")) if before else a.start_utc
        old_doctor = before.get("practitioner") if before else a.practitioner_ref
        if (before["status"] if before else a.status) not in ACTIVE_STATUSES:
            return  # it was on no one's schedule (a reactivation is no same-day notice)
        if not active:  # cancelled or deleted; a no-show or a visit that began is no change to announce
            if old_doctor and {e.kind for e in events} & {"cancelled", "deleted"} and \
                    self._today_ahead(old_start, a.timezone):
                self._tell(a, old_doctor, "cancelled", old_start)
        elif old_doctor != a.practitioner_ref:
            if old_doctor and self._today_ahead(old_start, a.timezone):
                self._tell(a, old_doctor, "reassigned", old_start)
            if a.practitioner_ref and self._today_ahead(a.start_utc, a.timezone):
                self._tell(a, a.practitioner_ref, "assigned")
        elif a.practitioner_ref and old_start != a.start_utc and (
                self._today_ahead(old_start, a.timezone) or self._today_ahead(a.start_utc, a.timezone)):
            self._tell(a, a.practitioner_ref, "rescheduled")

    def _tell(self, a: Any, doctor: str, kind: str, starts_at: datetime | None = None) -> None:
        """A same-day notice to ``doctor``, due now (staff have no quiet hours)."""
        self._add(a, "practitioner", doctor, kind, None, (self.now, None, None), self.now, starts_at=starts_at)

    def _today_ahead(self, start: datetime, zone_name: str) -> bool:
        """``start`` is later today, in the visit's own zone."""
        place = zone(zone_name)
        return start > self.now and start.astimezone(place).date() == self.now.astimezone(place).date()

    def _add(self, a: Any, recipient: str, ref: str, kind: str, offset: str | None, slot: Fields,
             fallback_due: datetime, version: int | None = None, starts_at: datetime | None = None) -> None:
        """A row to insert: ``slot`` is where it lands (timing.Placer.fields: due or None,
        reason, note); a row with no due time is skipped and keeps ``fallback_due``;
        ``starts_at``: the start the row is about when not the visit's current one."""
        version = a.version if version is None else version
        # reminder_key(a.id, recipient, kind, offset, version), written out: once per row.
        key = f"a{a.id}:{recipient}:{kind}:{offset}:v{version}" if offset else f"a{a.id}:{recipient}:{kind}:v{version}"
        due, reason, note = slot
        now = self.now
        self.rows[key] = (key, a.id, a.connector, recipient, ref, kind, offset, version, starts_at or a.start_utc,
                          due or fallback_due, PLANNED if due else PLANNED_SKIPPED, reason, note, None, "", 0, now, now)


def placed_again(row: Any, a: Any, rules: Rules, now: datetime, offset: Offset | None) -> Slot | None:
    """Where a patient's pending ``row`` about ``a`` lands now, placed again from its intended
    time through the quiet hours, by the visit's zone: a reminder ``offset`` before the start
    (latest: min_lead before it), a notice now (latest: the start). None when it is left as it
    is: a reminder already due (the dispatcher's to judge), a notice due or waiting out a refused
    send's backoff (or the provider's Retry-After). Used when the plan's settings change
    (replan.py) and when the visit's zone does (:func:`_retime`)."""
    if row.kind == "reminder" and offset is not None:
        due = due_for_offset(a.start_utc, a.timezone, offset)
        if due < now:
            return None
        return place(due, now=now, latest=a.start_utc - rules.lead, zone_name=a.timezone,
                     quiet=rules.quiet_of(a.connector))
    if row.due_at > now and not is_retrying(row.reason):
        return place(now, now=now, latest=a.start_utc, zone_name=a.timezone,
                     quiet=rules.quiet_of(a.connector))
    return None


def _retime(connection: Connection, appointments: dict[int, Any], rules: Rules, now: datetime) -> None:
    """The pending patient rows of visits whose zone changed (same start: a zone fixed after
    go-live), placed again by the new zone's clock and quiet hours (else a 1-hour
    reminder planned by the wrong zone would go, or wait, inside the patient's night). One that
    finds no time left is skipped with the reason, as at planning."""
    if not appointments:
        return
    r = REMINDERS.c
    moved: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for row in connection.execute(select(r.id, r.appointment_id, r.kind, r.offset, r.starts_at, r.due_at, r.note,
                                         r.reason).where(r.appointment_id.in_(list(appointments)),
                                                         r.status == ReminderStatus.PENDING, r.recipient == "patient")):
        a = appointments[row.appointment_id]
        if row.kind == "reminder" and (row.starts_at != a.start_utc or not row.offset):
            continue  # planned for another start: that start's own planning handles it
        slot = placed_again(row, a, rules, now, Offset.parse(row.offset) if row.kind == "reminder" else None)
        if slot is None:
            continue
        if slot.due is None:
            skipped.append({"_id": row.id, "_reason": slot.reason or "too late"})
        elif slot.due != row.due_at or slot.note != row.note:
            moved.append({"_id": row.id, "_due": slot.due, "_note": slot.note})
    pending = and_(REMINDERS.c.id == bindparam("_id"), REMINDERS.c.status == ReminderStatus.PENDING)
    if moved:
        connection.execute(update(REMINDERS).where(pending).values(
            due_at=bindparam("_due"), note=bindparam("_note"), updated_at=now), moved)
    if skipped:
        connection.execute(update(REMINDERS).where(pending).values(
            status=ReminderStatus.SKIPPED, reason=bindparam("_reason"), updated_at=now), skipped)


def under_way_reason(status: str) -> str:
    """The reason on a patient's message cancelled because the visit is under way (a status word
    of the vocabulary, never patient data)."""
    return f"visit under way: {status}"


def appointment_key(appointment_id: int) -> str:
    return f"appointment:{appointment_id}"


def appointment_item(a: Any, stage: str = CONSUMER) -> Item:
    """The set-aside item of an appointment planning could not handle."""
    return Item(stage, appointment_key(a.id), a.id, a.connector)


def retry_set_aside(connection: Connection, rules: Rules, now: datetime, report: PlanReport) -> None:
    """Appointments staff asked to retry (after a fix): their events up to the offset are
    planned again (planning the same events twice plans nothing twice: keys are unique)."""
    items = [r for r in retry_items(connection, CONSUMER) if r.appointment_id is not None]
    if not items:
        return
    offset = claim_offset(connection, CONSUMER)
    c = EVENTS.c
    events = [PlanEvent(i, a, k, orjson.loads(p), at) for i, a, k, p, at in connection.execute(
        select(c.id, c.appointment_id, c.kind, c.payload, c.created_at)
        .where(c.appointment_id.in_([r.appointment_id for r in items]), c.id <= offset).order_by(c.id))]
    chunk = _Chunk(connection, rules, now)
    chunk.plan(events)
    report.cancelled += _cancel(connection, chunk.cancel, now)
    _restart(connection, chunk.restart, now)
    _retime(connection, chunk.retime, rules, now)
    insert_new(connection, chunk.rows, report, chunk.known, rules.texts)
    resolve(connection, CONSUMER, [r.item for r in items if r.item not in chunk.failed], now)


def _planned_last_for_another(a: Any, existing: list[Any]) -> bool:
    """Whether the latest pass that planned this visit's patient messages planned them for
    another patient (their cancellation notices aside: those go to one who lost it). Why
    beside :meth:`_Chunk._given_away`: a first patient whose messages were all cancelled (they
    declined before anything went) leaves nothing live to find, and the visit is still new to
    the patient who has it now."""
    planned = [r for r in existing if r.recipient == "patient" and r.kind != "cancelled"]
    if not planned:
        return False
    latest = max(r.version for r in planned)
    return all(r.recipient_ref != a.patient_ref for r in planned if r.version == latest)


def _status_change(event: PlanEvent, before: frozenset[str] | None, after: str) -> bool:
    """Did ``event`` change the status to ``after`` (from one of ``before``, when given)?"""
    change = event.payload.get("status")
    if not isinstance(change, list) or len(change) != 2:
        return False
    return change[1] == after and (before is None or change[0] in before)


def _known_keys(connection: Connection, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        known.update(connection.execute(
            select(REMINDERS.c.key).where(REMINDERS.c.key.in_(keys[start:start + 500]))).scalars())
    return known


def _statement(connection: Connection, absent: Sequence[bool] = ()) -> str | None:
    """A plain driver-level INSERT of COLUMNS, or None for a paramstyle not handled here. A
    column flagged in ``absent`` (NULL in every row of the call) is written as the literal
    NULL and takes no parameter. (SQLite has its own statement: :func:`_insert_sqlite`.)"""
    dialect = connection.dialect
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
    if mark is None:
        return None
    values = ", ".join("NULL" if absent and absent[at] else mark for at in range(len(COLUMNS)))
    return f"INSERT INTO {quoted(connection, REMINDERS.name)} ({_names(connection)}) VALUES ({values})"


def _names(connection: Connection) -> str:
    """COLUMNS quoted as the dialect quotes them ("offset" is a keyword), comma-separated."""
    return ", ".join(quoted(connection, c) for c in COLUMNS)


def insert_new(connection: Connection, rows: dict[str, tuple[Any, ...]], report: PlanReport,
                known: set[str] | None = None, texts: dict[datetime, str] | None = None) -> None:
    """Insert the rows whose key is not stored yet (``known``: the stored keys, when the caller
    has them), in key order of ``rows`` (ids follow it: the dispatcher breaks ties by id),
    with the datetimes converted up front (on SQLite through ``texts``, Rules.texts)."""
    if not rows:
        return
    if known is None:
        known = _known_keys(connection, list(rows))
    new = [row for key, row in rows.items() if key not in known] if known else list(rows.values())
    if not new:
        return
    if connection.dialect.name == "sqlite":
        _insert_sqlite(connection, new, {} if texts is None else texts)
    else:
        _insert_bound(connection, new)
    statuses = list(map(itemgetter(STATUS), new))  # counted in C: no generator frame per row
    report.planned += statuses.count(PLANNED)
    report.skipped += statuses.count(PLANNED_SKIPPED)


def _insert_bound(connection: Connection, new: list[tuple[Any, ...]]) -> None:
    """PostgreSQL and MariaDB: one driver executemany, a column NULL in every row written as
    the literal NULL (their drivers bind the rest cheaply); another paramstyle: Core's insert."""
    columns: list[Any] = list(zip(*new, strict=True))  # converted a column at a time: they repeat their values
    absent = [column.count(None) == len(new) for column in columns]  # NULL in every row: a literal NULL
    statement = _statement(connection, absent)
    if statement is None:
        connection.execute(insert(REMINDERS), [dict(zip(COLUMNS, row, strict=True)) for row in new])
        return
    for at in DATETIMES:
        if not absent[at]:
            columns[at] = bind_column(connection, REMINDERS.c[COLUMNS[at]], columns[at])
    connection.exec_driver_sql(statement, list(zip(*compress(columns, map(not_, absent)), strict=True)))


def _insert_sqlite(connection: Connection, new: list[tuple[Any, ...]], texts: dict[datetime, str]) -> None:
    """SQLite: the rows in multi-row ``INSERT … VALUES (…), (…), …`` statements of
    ROWS_PER_STATEMENT rows, a column with one value in every row written into the statement
    as a literal (:func:`_sqlite_column`). Why: the sqlite3 module binds each parameter under
    SQLite's mutex (a text copied each time) and runs each row of an ``executemany`` as a
    statement of its own; a first import's rows share their connector, recipient, kind,
    status and clock, so ~6 of 16 values per row are left to bind, and one statement inserts
    ROWS_PER_STATEMENT rows (prepared once per shape of the columns: the sqlite3 module
    caches it; compiling one costs ~7 M instructions, so the rows that do not fill one go
    in one a statement). The rows go in in order, so they get the ids one executemany gave them;
    each value is stored as binding it stored it (a literal takes the column's affinity too)."""
    count = len(new)
    values: list[str] = []
    bound: list[Iterable[Any]] = []
    for at, column in enumerate(zip(*new, strict=True)):
        sql, parameters = _sqlite_column(connection, at, column, texts)
        values.append(sql)
        if parameters is not None:
            bound.append(parameters)
    width = len(bound)  # the key at least: it is never a literal
    flat = tuple(chain.from_iterable(zip(*bound, strict=True)))  # row after row
    per = _rows_per_statement(connection, width)
    head = f"INSERT INTO {quoted(connection, REMINDERS.name)} ({_names(connection)}) VALUES "
    group = f"({', '.join(values)})"
    size, whole = per * width, count // per
    if whole:
        connection.exec_driver_sql(head + ", ".join([group] * per),
                                   [flat[at * size:(at + 1) * size] for at in range(whole)])
    if count > whole * per:  # the rest one row a statement: a statement of its own length would be compiled anew
        connection.exec_driver_sql(head + group, [flat[at:at + width] for at in range(whole * size, len(flat), width)])


def _rows_per_statement(connection: Connection, width: int) -> int:
    """ROWS_PER_STATEMENT, or fewer where the rows' parameters would pass the connection's
    limit (SQLITE_LIMIT_VARIABLE_NUMBER: 32,766 since SQLite 3.32, 999 before)."""
    driver: Any = connection.connection.driver_connection
    try:
        limit = int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):  # not the sqlite3 module's connection: the oldest default
        limit = 999
    return max(1, min(ROWS_PER_STATEMENT, limit // max(width, 1)))


def _sqlite_column(connection: Connection, at: int, column: tuple[Any, ...],
                   texts: dict[datetime, str]) -> tuple[str, Iterable[Any] | None]:
    """How COLUMNS[at] is written into an SQLite insert of ``column`` (its value in each row):
    (its SQL, the values to bind or None). One value in every row (the key aside) is a literal
    (:func:`_sqlite_literal`); a date-time column is bound as the column's text
    (:func:`clinicsync.sync.store.bulk.utc_time_table`); the rest is bound as it is (a None costs no failed look-up:
    ``bulk.bind_none_directly``)."""
    if at in DATETIMES:
        table = utc_time_table(connection, REMINDERS.c[COLUMNS[at]], column, texts)
        if len(table) == 1:
            literal = _sqlite_literal(next(iter(table.values())), ())
            if literal is not None:
                return literal, None
        return "?", map(table.__getitem__, column)
    first = column[0]
    if at != KEY and column.count(first) == len(column):  # equal to the first in every row
        literal = _sqlite_literal(first, column)
        if literal is not None:
            return literal, None
    return "?", column


LITERAL_TEXT_MAX = 200  # characters: longer shared texts are bound, not written into the statement


def _sqlite_literal(value: Any, column: Sequence[Any]) -> str | None:
    """``value`` as an SQLite literal that stores what binding it stores, or None where there
    is none: NULL; an int of 64 bits when every value of ``column`` is an int (``==`` lets
    True and 1.0 pass for 1; they bind otherwise); a str without NUL (a literal would end
    there) and at most LITERAL_TEXT_MAX long, its quotes doubled."""
    if value is None:
        return "NULL"
    if type(value) is str:  # a long text is bound: repeated in 200 rows it could pass SQLite's statement limit
        return None if "\x00" in value or len(value) > LITERAL_TEXT_MAX else "'" + value.replace("'", "''") + "'"
    if type(value) is int and -(2 ** 63) <= value < 2 ** 63 and set(map(type, column)) <= {int}:
        return str(value)
    return None


def _local_time_kept(event: PlanEvent) -> bool:
    """A zone correction's event: the visit's UTC start moved, its local time did not."""
    return event.kind == "rescheduled" and bool(event.payload.get("tz_rules") or event.payload.get("zone_setting"))


def _restart(connection: Connection, restart: dict[int, datetime], now: datetime) -> None:
    """:meth:`_Chunk._restart`'s rows: each one's start set to its visit's corrected start."""
    if restart:
        connection.execute(
            update(REMINDERS).where(REMINDERS.c.id == bindparam("_id"))
            .values(starts_at=bindparam("_start"), updated_at=now),
            [{"_id": i, "_start": start} for i, start in restart.items()])


def _cancel(connection: Connection, cancel: dict[int, str], now: datetime) -> int:
    if not cancel:
        return 0
    result = connection.execute(
        update(REMINDERS).where(and_(REMINDERS.c.id == bindparam("_id"), REMINDERS.c.status == ReminderStatus.PENDING))
        .values(status=ReminderStatus.CANCELLED, reason=bindparam("_reason"), updated_at=now),
        [{"_id": i, "_reason": reason} for i, reason in cancel.items()])
    return int(result.rowcount or 0)


def agenda_zones(settings: Settings) -> dict[str, list[str] | None]:
    """The zones whose days agendas are planned by, each with its sources: without `sites:`
    the clinic's zone for every source (None: no filter), with them each site's zone for its
    own sources (a doctor of a practice three zones west gets the agenda of their own day)."""
    if not settings.sites:
        return {settings.clinic.timezone: None}
    zones: dict[str, list[str]] = {}
    for config in settings.connectors:
        zones.setdefault(settings.clinic_for(config.name).timezone, []).append(config.name)
    return dict(zones)


def plan_agendas(connection: Connection, settings: Settings, now: datetime, report: PlanReport) -> None:
    """Each doctor with an email and appointments today or tomorrow (their site's time, else
    the clinic's) gets that day's agenda."""
    agenda = settings.reminders.agenda
    if not agenda.enabled:
        return
    # One planner at a time, as for the events (row lock / SQLite write lock): two runs that both
    # read an agenda's key as not stored both inserted it, and the second's stage failed.
    claim_offset(connection, CONSUMER)
    rows: dict[str, tuple[Any, ...]] = {}
    for clinic_zone, connectors in agenda_zones(settings).items():
        today = now.astimezone(zone(clinic_zone)).date()
        for day in (today, today + timedelta(days=1)):
            begin = wall_clock(day, datetime.min.time(), clinic_zone)
            end = wall_clock(day + timedelta(days=1), datetime.min.time(), clinic_zone)
            query = (
                select(APPOINTMENTS.c.connector, APPOINTMENTS.c.practitioner_ref).distinct()
                .join(PRACTITIONERS, and_(PRACTITIONERS.c.connector == APPOINTMENTS.c.connector,
                                          PRACTITIONERS.c.external_id == APPOINTMENTS.c.practitioner_ref))
                .where(APPOINTMENTS.c.start_utc >= begin, APPOINTMENTS.c.start_utc < end,
                       APPOINTMENTS.c.deleted_at.is_(None), APPOINTMENTS.c.status.in_(ACTIVE_STATUSES),
                       PRACTITIONERS.c.email.is_not(None)))
            if connectors is not None:
                query = query.where(APPOINTMENTS.c.connector.in_(connectors))
            due = wall_clock(day, agenda.at, clinic_zone)
            for connector, ref in connection.execute(query).all():
                key = agenda_key(connector, ref, day)
                rows[key] = (key, None, connector, "practitioner", ref, "agenda", day.isoformat(), 0, begin, due,
                             PLANNED, None, None, "email", "", 0, now, now)
    insert_new(connection, rows, report)


def plan_events(settings: Settings, store: Store, now: datetime, report: PlanReport,
                progress: Ticker = no_ticks) -> None:
    """Consume every unread event, then plan the doctors' agendas (the settings already followed:
    clinicsync.sync.reminders.stage runs this after re-planning). ``progress`` counts the events
    read, of those unread at the start (ids are sequential, so the newest id less the offset)."""
    rules = Rules.of(settings)
    with writer(store.engine) as connection:
        retry_set_aside(connection, rules, now, report)
    total: int | None = None
    while True:
        with writer(store.engine) as connection:
            offset = claim_offset(connection, CONSUMER)
            if total is None:
                total = max(0, (connection.execute(select(func.max(EVENTS.c.id))).scalar() or 0) - offset)
            # Not past an event another worker's import has yet to commit (sync/store/outbox.py).
            events = read_events(connection, offset, READ_LIMIT, settled(connection))
            if not events:
                break
            chunk = _Chunk(connection, rules, now)
            chunk.plan(events)
            report.cancelled += _cancel(connection, chunk.cancel, now)
            _restart(connection, chunk.restart, now)
            _retime(connection, chunk.retime, rules, now)
            insert_new(connection, chunk.rows, report, chunk.known, rules.texts)
            advance(connection, CONSUMER, events[-1].id)
            report.events += len(events)
        progress(report.events, max(total, report.events))
    with writer(store.engine) as connection:
        plan_agendas(connection, settings, now, report)
