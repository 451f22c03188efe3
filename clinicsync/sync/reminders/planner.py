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

The cases above are one decision per appointment (``_Chunk``) and stay in this file, so a
change to one is read beside the others. How the planned rows are written is planned_rows.py;
the doctors' agendas are agenda_plan.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, and_, bindparam, func, select, update

from clinicsync.common.timeutil import parse_duration as _duration
from clinicsync.common.timeutil import zone
from clinicsync.common.vocabulary import ACTIVE_STATUSES, UNDER_WAY_STATUSES, ReminderStatus
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.reminders import Offset, QuietHours, RemindersSettings
from clinicsync.sync.reminders.agenda_plan import plan_agendas
from clinicsync.sync.reminders.planned_rows import (
    PLANNED,
    PLANNED_SKIPPED,
    PlanReport,
    insert_new,
)
from clinicsync.sync.reminders.rows import PlanEvent, event_time, read_appointments, read_events, read_planned
from clinicsync.sync.reminders.timing import Fields, Placer, Slot, Step, due_for_offset, place, steps
from clinicsync.sync.reminders.txn import writer
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.runs.setaside import Item, isolated_parts, resolve, retry_items
from clinicsync.sync.store.outbox import EVENTS, advance, claim_offset, settled
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import REMINDERS, REMINDERS_CONSUMER, is_retrying

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
TEXTS_KEPT = 200_000  # Rules.texts is emptied past this many (~40 MB): a bound on a very large first run
log = structlog.get_logger("clinicsync.reminders")


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
