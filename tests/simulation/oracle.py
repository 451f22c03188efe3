"""What every patient and doctor should receive, and when, worked out from the scenario alone.

Independent code: it never calls the planner, the dispatcher or clinicsync's time helpers; it
reads the rules of docs/reminders.md and replays the scenario's ticks against a model of the
store. Each tick, in the order the driver runs them: the source's changes land, planning
(settings followed first, then the changes, then the agendas), then dispatch.

The rules, as read here (where the docs leave room, the reading is written down):

- Go-live: the first sync (at go-live) of the front desk's export and of the practice database
  (pm) is a baseline: what they hold gets its
  reminders still ahead and nothing else. After it, a booking is announced (a confirmation)
  only if the clinic *took* it after go-live (issue 28: go-live is a boundary), whenever
  clinicsync first stores it — so rows held in quarantine at go-live and imported after a
  mapping fix are not announced. The REST API has no baseline: each booking pushed is new.
- The practice database's rows (pm) are read by the sync of the tick they become visible at
  (committed), whatever their `updated_at` stamp says; a deleted row is deleted by that sync's
  delete sweep (the clinic's sweeps every sync). It moves a visit by a successor row (the old
  row kept as `rescheduled`, a new row naming it): that is one move of the visit like any other,
  one reschedule notice, never a cancellation and a confirmation.
- A bad record (the poison row) is no appointment: nobody hears of it, nobody else is affected.
- Reminders at the offsets: ``d`` is the same local wall-clock time days earlier (DST kept;
  a time that exists twice takes the first, one in the gap moves forward), ``h``/``m``
  elapsed. None is planned whose time has passed when planned, or that is later than
  ``min_lead`` (15 min) before the visit. Quiet hours (21:00-08:00, the visit's local time)
  move a message to the nearest of their end and the minute before they begin that is not
  past and before the latest useful time; else it is skipped.
- A move cancels the reminders for the old start and plans the offsets for the new one; the
  patient gets a reschedule notice unless a confirmation or notice is still unsent. A
  cancellation or a deletion at the source cancels every unsent message and sends one
  cancellation notice. Notices are due when planned, and go while the visit is ahead.
- Dispatch: a reminder more than its lateness bound past its time is skipped (a quarter of
  the offset), and so is one for which a later reminder of the same start (a smaller
  offset) is due and within its own bound, or has gone (superseded). An unsent confirmation
  is skipped (superseded) when a reminder for the visit's current start is due and within its
  bound and before ``min_lead``, or has gone.
- Settings change (offsets): pending reminders of a removed offset are cancelled; an added
  offset is planned for each visit ahead whose new reminder time has not passed, a visit its
  patient declined included (docs/responses.md: "an offset added by a settings change — is
  skipped when due, reason the patient declined"): a reminder due while the visit's answer is
  a decline is skipped, and one due after the desk confirmed by phone goes.
- A visit given to another doctor at the same time (DOCTOR_CHANGES) is a change the patient
  is told of (a reschedule notice, unless a notice is still unsent); the patient's answer
  stands, and, a move in docs/reminders.md's table ("start, end or doctor changed": the offsets
  planned for the new start), each offset with no reminder pending or sent for that start is
  planned again: those a decline dropped come back, to go if the answer is no longer a decline
  when due (seed 8812: declined by SMS, confirmed by phone, given to another doctor: its 1-day
  reminder went, as did the 2-hour one the settings change had added while it was declined).
- A visit given to another patient at the same time (PATIENT_CHANGES: the source corrects a
  booking made under the wrong patient) is cancelled for the one who had it and booked for the
  one who has it now: every unsent message of the first is dropped, and the first gets one
  cancellation notice (at the start they knew) only if a message about the visit went to them
  since their last cancellation notice, and nothing else about it; the new patient gets a
  confirmation and the reminders at the offsets still ahead, as a new booking after go-live;
  the answer is cleared (it was the first patient's). A notice already due to the first stands
  whatever the visit does next, unless the visit is given back to them before it went: then
  it is dropped and they get no second confirmation (nothing changed for them).
- Patients' replies (PATIENT_REPLIES, docs/responses.md), after the tick's sync: a reply
  answers the patient's nearest upcoming active visit (any source; at one start, by source and
  id) that awaits an answer (none given since it was last moved); none: nothing happens. A confirmation makes an unsent
  confirmation request moot (skipped). A cancellation drops every unsent message to the patient
  and tells the doctor at once by email (``declined``; staff get no quiet hours), while the visit
  is ahead and still booked; a reminder planned for it afterwards (a settings change, another
  doctor) is skipped when due while the decline stands, though the source still holds it. A move
  to another start clears the answer (it was for the old time): the visit then gets its
  reminders and the reschedule notice as any move does, and a doctor's ``declined`` email not
  sent yet is not sent (it would name the new time).
- The front desk (DESK, docs/status-page.md), after the tick's replies: an action is recorded
  when it fits the visit now (the visit held booked, not closed by a standing cancel, no-show or
  came in; confirm, message, request handled and cancel before the start, came in and no-show
  from it for three days) and the page it was pressed on shows the visit as it is (a page drawn
  before the tick's sync changed the visit, or its answer, is refused; of two desks pressing on
  one page the second is refused). Confirmed by phone is the patient's confirmation (an unsent
  confirmation request moot); when the doctor's last word on this version says declined, that
  notice is withdrawn while unsent, else the doctor is told at once that the visit is on again
  (a ``confirmation``), and its Undo puts the doctor's word back (the withdrawn decline pending
  again; the "on again" withdrawn while unsent, else the decline told again). A decline (the
  patient's or the desk's) withdraws an unsent "on again" and, the doctor's last word then being
  the decline they heard, plans nothing more. A cancel is the patient's decline, by the desk:
  every unsent message to the patient dropped, the doctor told at once (``declined``) unless
  their last word on this version already says so. Undo (at once, the Undo on the "Recorded"
  line) restores the answer as it was and the patient's messages the cancel dropped (the
  dispatcher judges them as any other), and withdraws the doctor's unsent notice, or, once it
  went (an Undo pressed a few minutes later, ``undo-later``), tells the doctor the visit is on
  again (a ``confirmation``); a cancel taken again tells the doctor again, so cancel, undo,
  cancel gives the doctor one notice. Every step recorded is one desk_action row, undone or not,
  and each confirm or cancel one answer row of the desk: ``desk_record``.
- Agendas: each doctor with an email and an appointment (of that source) today or tomorrow
  in the store at a planning pass gets that day's agenda at 07:00 clinic time, if at send
  time the day still holds one of theirs. Reading for issue 28 obs 4 ("every message has a
  deadline"): an agenda goes at most AGENDA_MAX_LATENESS after 07:00, or not at all.
- Same-day notices (SAME_DAY_NOTICES, ``agenda.same_day_changes``): a doctor is told at once,
  by email (no quiet hours), when one of their visits of today (clinic time) still ahead is
  booked after go-live (``confirmation``), moved from or to today (``rescheduled``), or
  cancelled or deleted (``cancelled``). A visit given to another doctor is told to both
  (reading for the doctors' side, not in the docs before): the one who had it, if its old
  start is today and ahead (``reassigned``: it left their schedule), and the one who has it
  now, if its start is today and ahead (``assigned``). Such a notice goes while the time it
  names is ahead (a cancellation's and a reassignment's: the old start).
- Provider outage (PROVIDER_DOWN, docs/operations.md "Provider faults"): in the window every
  message the dispatcher would send is refused instead (agendas and doctors' emails too) and
  is taken up again ``backoff(attempts)`` later (reminders.retry_backoff, 1m, doubled per
  attempt, at most retry_backoff_max, 1h; no Retry-After), at the first dispatch tick at or
  after that; every rule above is then applied afresh, its lateness still measured from the
  message's own due time (a reminder's bound, the visit's start, the agenda's 2 hours), so an
  outage delays a message, or it ends too late (unsent), and no attempt count ends it. A
  retry waiting to be taken up neither supersedes nor stands in for another message (the
  dispatcher only weighs rows due now), and one that wakes in the quiet hours waits for their
  end as any patient's message does.
- Provider throttled (PROVIDER_THROTTLED): in a burst every message the dispatcher would send
  is refused as by PROVIDER_DOWN, and waits the provider's Retry-After (2 minutes) or the
  backoff if longer; the dispatcher runs every 2 minutes then (the scenario's extra ticks). The
  provider's side is the driver's to judge: no request inside a Retry-After it gave, but one
  per worker in flight as it is given (run.py, clinic.ThrottledProvider).
- Source down (SOURCE_DOWN): the practice database's rows saved while clinicsync cannot reach
  it are read, each as last saved, by the sync at the outage's end (a row booked and changed
  meanwhile is one new row); the driver checks that find_stalls (`status`) names pm from 30
  minutes into the outage and no longer once it is read again.
- A patient's notice (confirmation, rescheduled, cancelled) goes at most notices.max_lateness
  (a day) after it was planned, moved out of the quiet hours as planning moves it, or is
  skipped (DISPATCH_LONG_DOWN: a dispatcher down two nights and the day between).
- Tolerance: a message may go up to one tick (TOLERANCE) after the oracle's moment: a worker
  killed mid-stage, or a push the sender repeats, delays its work by one tick. A run that dies
  after its import committed and before reminder planning is modelled too: planning killed
  mid-stage (KILLED_MID_STAGE), and a run killed writing the calendar files
  (KILLED_CALENDAR_WRITE: the calendar stage runs before the reminders stage, which that run
  never reaches). The versions its tick imported are planned at cron's next run, where what is
  due then decides (a confirmation superseded by a reminder due with it); a reminder whose time
  came between the import and that run is planned as already due (docs/reminders.md), so the
  dispatcher judges it as any late one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from tests.simulation.clinic import OFFSETS, OFFSETS_AFTER_CHANGE
from tests.simulation.faults import Fault
from tests.simulation.mailbag import Identity, Sent
from tests.simulation.scenario import (
    DESK_UNDO_LATER,
    REPLY_TEXTS,
    THROTTLE_RETRY_AFTER,
    TICK,
    TZ,
    DeskAct,
    Reply,
    Scenario,
    Version,
    killed_delivery,
)

MIN_LEAD = timedelta(minutes=15)
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
AGENDA_AT = time(7, 0)
AGENDA_MAX_LATENESS = timedelta(hours=2)
TOLERANCE = TICK
RETRY_BACKOFF, RETRY_BACKOFF_MAX = timedelta(minutes=1), timedelta(hours=1)
NOTICES = frozenset({"confirmation", "rescheduled", "cancelled"})
NOTICE_MAX_LATENESS = timedelta(days=1)  # reminders.notices.max_lateness (its default)
DESK_GRACE = timedelta(days=3)  # came in and no-show are recorded up to this long after the start
DESK_CLOSING = ("cancel", "no_show", "arrived")
DESK_AT_VISIT = ("arrived", "no_show")
DESK_ANSWERS = {"confirmed_by_phone": "confirm", "cancel": "decline"}
DESK_BY_PHONE = ("confirmed_by_phone", "left_message")  # the desk's steps that are a phone call


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th refused send: reminders.retry_backoff (1m) doubled per
    attempt, at most retry_backoff_max (1h); the outbox's refusals carry no Retry-After."""
    return min(RETRY_BACKOFF * 2 ** (attempts - 1), RETRY_BACKOFF_MAX)


def offset_length(label: str) -> timedelta:
    amount, unit = int(label[:-1]), label[-1]
    return {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]


def offset_time(label: str, start: datetime) -> datetime:
    if label.endswith("d"):
        wall = start.astimezone(TZ).replace(tzinfo=None) - timedelta(days=int(label[:-1]))
        return wall.replace(tzinfo=TZ, fold=0).astimezone(UTC)  # the first of a repeated time
    return start - offset_length(label)


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, TZ).astimezone(UTC)


def quiet_period(moment: datetime) -> tuple[datetime, datetime] | None:
    """The quiet hours [began, ends) around ``moment`` (clinic and visits share one zone)."""
    wall = moment.astimezone(TZ)
    if wall.time() >= QUIET_FROM:
        return _local(wall.date(), QUIET_FROM), _local(wall.date() + timedelta(days=1), QUIET_UNTIL)
    if wall.time() < QUIET_UNTIL:
        return _local(wall.date() - timedelta(days=1), QUIET_FROM), _local(wall.date(), QUIET_UNTIL)
    return None


def fit(due: datetime, now: datetime, latest: datetime) -> datetime | None:
    """When a message due at ``due`` may go, or None (skipped)."""
    if due < now or due > latest:
        return None
    quiet = quiet_period(due)
    if quiet is None:
        return due
    began, ends = quiet
    # The end of the quiet hours only when it leaves a pass 5 minutes of room before ``latest``
    # (timing.SEND_ROOM: at 08:00 for an 08:15 visit it could go at 08:00:00 alone).
    options = [c for c in (ends, began - timedelta(minutes=1))
               if now <= c <= latest and (c != ends or c + timedelta(minutes=5) <= latest)]
    return min(options, key=lambda c: abs(c - due)) if options else None


@dataclass
class Pending:
    kind: str
    offset: str | None
    start: datetime
    due: datetime
    recipient: str = "patient"  # or "doctor" (a patient's cancellation, a same-day change)
    doctor: str | None = None  # a same-day notice's doctor (the one who had the visit, for reassigned)
    patient: str | None = None  # a notice to a patient who no longer has the visit (PATIENT_CHANGES)
    # When the dispatcher takes it up again: after a refused send (PROVIDER_DOWN), or at the
    # end of the quiet hours it woke in. ``due`` stays what its lateness is measured from.
    retry_at: datetime | None = None
    attempts: int = 0  # sends the provider refused
    planned: datetime | None = None  # a patient's notice: the tick it was planned (its deadline counts from it)

    def ready(self, now: datetime) -> bool:
        return (self.retry_at or self.due) <= now

    @property
    def own(self) -> bool:
        """A message to the patient who has the visit now."""
        return self.recipient == "patient" and self.patient is None


@dataclass
class Visit:
    version: Version
    pending: list[Pending] = field(default_factory=list)
    sent_reminders: set[tuple[str, datetime]] = field(default_factory=set)
    answer: str | None = None  # the patient's reply standing for the current start: confirm | decline
    # PATIENT_CHANGES: whether a message about the visit went to a patient since their last
    # cancellation notice, and the reminders each patient who had the visit was sent.
    told: dict[str, bool] = field(default_factory=dict)
    sent_by: dict[str, set[tuple[str, datetime]]] = field(default_factory=dict)
    doctor_declined: bool = False  # the doctor's last word on this version says declined (sent or not)
    declined_notice: Pending | None = None  # the notice that said so
    on_again: Pending | None = None  # the doctor's notice that the visit is on again after a decline they heard
    desk: list[list[object]] = field(default_factory=list)  # DESK: [action, undone] of each recorded step
    story: list[list[object]] = field(default_factory=list)  # [actor, action, how, undone]: History (DESK)

    @property
    def active(self) -> bool:
        return self.version.status == "booked" and not self.version.deleted


class Oracle:
    def __init__(self, scenario: Scenario, given_away: dict[tuple[str, datetime], datetime] | None = None) -> None:
        self.s = scenario
        # WAITLIST: (external id, start) of a freed time -> when the waiting list first gave it
        # away (an offer sent, or the slot taken): a desk cancel of it is no longer undone then.
        # The waitlist oracle (waitlist_messages.py) checks each of those offers on its own.
        self.given_away = given_away or {}
        self.visits: dict[tuple[str, str], Visit] = {}
        self.agendas: dict[tuple[str, str, date], datetime] = {}  # pending: (source, doctor, day) -> due
        self.agenda_retries: dict[tuple[str, str, date], tuple[datetime, int]] = {}  # -> (retry at, attempts)
        self.agendas_done: set[tuple[str, str, date]] = set()
        self.offsets = list(OFFSETS)
        self.expected: list[Sent] = []
        # Each visit's answer as it changed: (tick, 0 in the sync or 1 after it, answer or None).
        self.answers: dict[tuple[str, str], list[tuple[datetime, int, str | None]]] = defaultdict(list)
        # DESK: the Undo pressed a few minutes after its step, by the moment it is pressed
        self.later: dict[datetime, list[tuple[tuple[str, str], Visit,
                                              tuple[str, str | None, Pending | None, list[Pending]]]]] = {}

    # -- what the store sees, tick by tick --
    def visible(self) -> dict[datetime, list[Version]]:
        """Each tick's new versions as the store holds them after that tick's sync."""
        s = self.s
        out: dict[datetime, list[Version]] = defaultdict(list)
        fix = s.mapping_fix_at if Fault.MAPPING_FIX in s.faults else None
        held: dict[str, Version] = {}  # rows quarantined until the mapping is fixed, as they last read
        unread: dict[str, Version] = {}  # SOURCE_DOWN: pm rows saved while it is unreachable, as last saved
        for change in s.changes:  # in time order
            v = change.version
            if v.source == "pm" and s.source_down is not None and s.source_down[0] <= change.at < s.source_down[1]:
                unread.pop(v.external_id, None)
                unread[v.external_id] = v
            elif v.source == "pm":  # read by the sync of the tick its row became visible at
                out[max(change.at, s.golive)].append(v)
            if v.source != "front":
                continue
            at = max(change.at, s.golive)
            if fix is not None and at >= fix and held:  # the fix releases what it held, as it then read,
                out[fix].extend(held.values())          # whatever the row does afterwards
                held.clear()
            if fix is not None and at < fix and v.word == "confirmada":
                held[v.external_id] = v
                continue
            held.pop(v.external_id, None)
            out[at].append(v)
        if fix is not None:
            out[fix].extend(held.values())
        if s.source_down is not None:  # read by the first sync that reaches it again
            out[s.source_down[1]] = list(unread.values()) + out[s.source_down[1]]
        killed = killed_delivery(s)
        for d in s.deliveries:
            if d.first:
                out[d.at + TICK if d is killed else d.at].append(d.version)
        return out

    # -- planning --
    def _notice(self, visit: Visit, kind: str, now: datetime) -> None:
        due = fit(now, now, visit.version.start)
        if due is not None:
            visit.pending.append(Pending(kind, None, visit.version.start, due, planned=now))

    def _reminders(self, visit: Visit, now: datetime, offsets: list[str], known: datetime | None = None) -> None:
        """The offsets' reminders for the visit's start. ``known``: when the store learned that
        start, if planning runs later (a run killed before it): a reminder whose time came in
        [known, now) is kept at that time, already due, for the dispatcher to judge as late (its
        bound, the quiet hours then), as if planning had run with the import."""
        start = visit.version.start
        for label in offsets:
            at = offset_time(label, start)
            late_plan = known is not None and known <= at < now <= start - MIN_LEAD
            due = at if late_plan else fit(at, now, start - MIN_LEAD)
            if due is not None:
                visit.pending.append(Pending("reminder", label, start, due))

    def _today_ahead(self, start: datetime, now: datetime) -> bool:
        return start > now and start.astimezone(TZ).date() == now.astimezone(TZ).date()

    def _same_day(self, visit: Visit, old: Version | None, now: datetime) -> None:
        """The doctors' same-day notices of a change (module docstring), if the run asks for them."""
        if Fault.SAME_DAY_NOTICES not in self.s.faults:
            return
        v = visit.version
        notices: list[tuple[str, str, datetime]] = []  # (kind, doctor, the start it names)
        if old is None:
            if self._today_ahead(v.start, now):
                notices.append(("confirmation", v.doctor, v.start))
        elif not visit.active:
            if self._today_ahead(old.start, now):
                notices.append(("cancelled", old.doctor, old.start))
        elif v.doctor != old.doctor:
            if self._today_ahead(old.start, now):
                notices.append(("reassigned", old.doctor, old.start))
            if self._today_ahead(v.start, now):
                notices.append(("assigned", v.doctor, v.start))
        elif v.start != old.start and (self._today_ahead(old.start, now) or self._today_ahead(v.start, now)):
            notices.append(("rescheduled", v.doctor, v.start))
        for kind, doctor, start in notices:
            visit.pending.append(Pending(kind, None, start, now, recipient="doctor", doctor=doctor))

    def _land(self, v: Version, now: datetime, baseline: bool, known: datetime | None = None) -> None:
        """``v`` stored and planned at ``now``; ``known``: the tick it was stored at, when
        planning runs later (a run killed before it)."""
        key = (v.source, v.external_id)
        visit = self.visits.get(key)
        if visit is None:
            if v.deleted:
                return
            visit = self.visits[key] = Visit(v)
            if visit.active:
                if not baseline and v.booked_at > self.s.golive:
                    self._notice(visit, "confirmation", now)
                    self._same_day(visit, None, now)
                self._reminders(visit, now, self.offsets, known)
            return
        was_active, old = visit.active, visit.version
        visit.version = v
        visit.doctor_declined, visit.declined_notice = False, None  # a new version: notices were of the old one
        visit.on_again = None
        if not was_active:
            return
        if not baseline:
            self._same_day(visit, old, now)
        if not visit.active:
            visit.pending = [p for p in visit.pending if not p.own]  # a same-day notice goes
            if not baseline:
                self._notice(visit, "cancelled", now)
        elif v.patient != old.patient:
            self._give(key, visit, old, now, known)
        elif v.start == old.start and v.doctor != old.doctor:  # another doctor, same time: told, answer kept
            if not baseline and not any(p.own and p.kind != "reminder" for p in visit.pending):
                self._notice(visit, "rescheduled", now)
            covered = {p.offset for p in visit.pending if p.kind == "reminder" and p.start == v.start}
            covered |= {o for o, at in visit.sent_reminders if at == v.start}
            self._reminders(visit, now, [o for o in self.offsets if o not in covered], known)
        elif v.start != old.start:
            visit.pending = [p for p in visit.pending if p.kind != "reminder"]
            if visit.answer is not None:  # it was for the old time
                visit.answer = None
                self.answers[key].append((now, 0, None))
                visit.pending = [p for p in visit.pending if p.kind != "declined"]  # unsent: moot
            if not baseline and not any(p.own for p in visit.pending):  # no notice unsent
                self._notice(visit, "rescheduled", now)
            self._reminders(visit, now, self.offsets, known)

    def _give(self, key: tuple[str, str], visit: Visit, old: Version, now: datetime,
              known: datetime | None = None) -> None:
        """The visit given to another patient at the same time (PATIENT_CHANGES, module docstring)."""
        first = old.patient
        visit.pending = [p for p in visit.pending if not p.own]
        if visit.told.get(first):
            visit.told[first] = False
            due = fit(now, now, old.start)
            if due is not None:
                visit.pending.append(Pending("cancelled", None, old.start, due, patient=first, planned=now))
        visit.sent_by[first] = visit.sent_reminders
        new = visit.version.patient
        visit.sent_reminders = visit.sent_by.pop(new, set())
        if visit.answer is not None:  # the first patient's
            visit.answer = None
            self.answers[key].append((now, 0, None))
            visit.pending = [p for p in visit.pending if p.kind != "declined"]  # unsent: moot
        # Given back to a patient whose cancellation notice has not gone: they never heard it
        # had ended, so the notice is dropped and they get no second confirmation.
        unsent = [p for p in visit.pending if p.patient == new and p.kind == "cancelled"]
        if unsent:
            visit.pending = [p for p in visit.pending if p not in unsent]
            visit.told[new] = True
        else:
            self._notice(visit, "confirmation", now)
        self._reminders(visit, now, self.offsets, known)

    def _settings_change(self, now: datetime) -> None:
        new = list(OFFSETS_AFTER_CHANGE)
        added = [o for o in new if o not in self.offsets]
        self.offsets = new
        for visit in self.visits.values():
            visit.pending = [p for p in visit.pending if p.kind != "reminder" or p.offset in new]
            if visit.active and visit.version.start > now:  # a declined one's skipped when due
                self._reminders(visit, now, added)

    def _plan_agendas(self, now: datetime) -> None:
        today = now.astimezone(TZ).date()
        for day in (today, today + timedelta(days=1)):
            for source, doctor in self._doctors_on(day):
                key = (source, doctor, day)
                if key not in self.agendas and key not in self.agendas_done:
                    self.agendas[key] = _local(day, AGENDA_AT)

    def _doctors_on(self, day: date) -> set[tuple[str, str]]:
        return {(v.version.source, v.version.doctor) for v in self.visits.values()
                if v.active and v.version.start.astimezone(TZ).date() == day}

    # -- replies --
    def _reply(self, reply: Reply, now: datetime) -> None:
        waiting = [(key, visit) for key, visit in self.visits.items() if visit.version.patient == reply.patient
                   and visit.active and visit.version.start > now and visit.answer is None]
        if not waiting:
            return
        # a tie (one patient at one time in two sources): by source, then id (responses/record.py)
        key, visit = min(waiting, key=lambda kv: (kv[1].version.start, kv[1].version.source,
                                                  kv[1].version.external_id))
        visit.answer = REPLY_TEXTS[reply.text]
        self.answers[key].append((now, 1, visit.answer))
        visit.story.append(["patient", visit.answer, "by SMS reply", False])
        if visit.answer == "decline":
            visit.pending = [p for p in visit.pending if not p.own]
            self._doctor_off(visit, now)

    @staticmethod
    def _doctor_off(visit: Visit, now: datetime) -> Pending | None:
        """A decline (the patient's, or the desk's cancel): an unsent "on again" notice is
        withdrawn, which leaves the doctor's last word the decline they heard; else the doctor
        is told at once unless their last word on this version already says declined. The
        notice planned, if any."""
        if visit.on_again is not None and visit.on_again in visit.pending:
            visit.pending.remove(visit.on_again)
            visit.on_again, visit.doctor_declined = None, True
        if visit.doctor_declined:
            return None
        visit.doctor_declined = True
        visit.declined_notice = Pending("declined", None, visit.version.start, now, recipient="doctor")
        visit.pending.append(visit.declined_notice)
        return visit.declined_notice

    @staticmethod
    def _doctor_on(visit: Visit, now: datetime) -> tuple[Pending | None, list[Pending]]:
        """A phone confirmation by the desk: a decline the doctor was told of is withdrawn while
        unsent (returned, for the undo), else the doctor is told the visit is on again (the
        notice returned)."""
        if not visit.doctor_declined:
            return None, []
        visit.doctor_declined = False
        if visit.declined_notice is not None and visit.declined_notice in visit.pending:
            visit.pending.remove(visit.declined_notice)
            return None, [visit.declined_notice]
        visit.on_again = Pending("confirmation", None, visit.version.start, now, recipient="doctor")
        visit.pending.append(visit.on_again)
        return visit.on_again, []

    # -- the front desk --
    @staticmethod
    def _fits(action: str, visit: Visit | None, now: datetime) -> bool:
        """Whether the desk's ``action`` is recorded on the visit now (sync/desk/actions.py's why_not)."""
        if visit is None or not visit.active:
            return False
        if any(a in DESK_CLOSING and not undone for a, undone in visit.desk):
            return False
        start = visit.version.start
        if action in DESK_AT_VISIT:
            return start <= now <= start + DESK_GRACE
        return now < start

    def _desk(self, act: DeskAct, now: datetime, changed: set[tuple[str, str]]) -> None:
        key = (act.source, act.external_id)
        visit = self.visits.get(key)
        if visit is None or visit.version.deleted:
            return  # no such visit in the store: the page has no row to press on
        if act.stale and key in changed:
            return  # the page was drawn before the visit changed: refused, nothing recorded
        last: tuple[str, str | None, Pending | None, list[Pending]] | None = None
        for step in act.steps:
            if step == "undo-later":
                if last is not None:
                    self.later.setdefault(now + DESK_UNDO_LATER, []).append((key, visit, last))
                continue
            if step == "undo":
                if last is not None:
                    self._desk_undo(key, visit, last, now)
                last = None
                continue
            if not self._fits(step, visit, now):
                last = None
                continue
            visit.desk.append([step, False])
            visit.story.append(["front desk", step, "by phone" if step in DESK_BY_PHONE else "", False])
            changed.add(key)  # a page drawn before this step is stale now
            prior, notice, dropped = visit.answer, None, []
            answer = DESK_ANSWERS.get(step)
            if answer is not None:
                visit.answer = answer
                self.answers[key].append((now, 1, answer))
            if step == "cancel":
                dropped = [p for p in visit.pending if p.own]
                visit.pending = [p for p in visit.pending if not p.own]
                notice = self._doctor_off(visit, now)
            elif step == "confirmed_by_phone":
                notice, dropped = self._doctor_on(visit, now)
            last = (step, prior, notice, dropped)

    def _desk_undo(self, key: tuple[str, str], visit: Visit, last: tuple[str, str | None, Pending | None,
                   list[Pending]], now: datetime) -> None:
        step, prior, notice, dropped = last
        away = self.given_away.get((key[1], visit.version.start))
        # Given away *before* now: at a tick the desk's steps come before the waiting list's cycle
        # (run.py: the desk acts, then the waitlist actors run the stage and patients accept), so
        # a time freed by a cancel and offered at the tick of its Undo went out after the Undo
        # (seed 7303: cancel, Undo, cancel at 13:00, the slot offered and taken at 13:00 after
        # them; the Undo stood). The sync's own waitlist stage, earlier in the tick, cannot offer
        # a time the desk frees later in that tick.
        if step == "cancel" and prior != "decline" and away is not None and away < now:
            return  # the time went out to a waiting patient: the page offers no Undo, the cancel stands
        visit.desk[-1][1] = visit.story[-1][3] = True
        if step not in DESK_ANSWERS:
            return
        visit.answer = prior
        self.answers[key].append((now, 1, prior))
        if step == "confirmed_by_phone":
            # The doctor's word goes back to the decline: the one withdrawn pending again, the
            # "on again" withdrawn while unsent, or, once it went, the decline told again.
            if dropped:
                visit.pending += dropped
                visit.declined_notice, visit.doctor_declined = dropped[0], True
            elif notice is not None:
                if notice in visit.pending:
                    visit.pending.remove(notice)
                else:
                    visit.declined_notice = Pending("declined", None, visit.version.start, now, recipient="doctor")
                    visit.pending.append(visit.declined_notice)
                visit.on_again, visit.doctor_declined = None, True
        if step == "cancel":
            visit.pending += dropped
            if notice is not None and notice in visit.pending:
                # This cancel's own notice, unsent, is withdrawn whatever answer is put back (the
                # patient's own decline too): the doctor's last word is as before the cancel,
                # which planned it because that word was not a decline.
                visit.pending.remove(notice)
                visit.doctor_declined, visit.declined_notice = False, None
                return
            # The doctor's last word on this version: off (this cancel's notice, sent, or the
            # patient's own before a phone confirmation the doctor never heard of). Unsent, it is
            # withdrawn; once it went, the doctor is told the visit is on again. Nothing when the
            # answer put back is the patient's own decline, which stands.
            last_word = notice or visit.declined_notice
            if prior != "decline" and visit.doctor_declined:
                if last_word is not None and last_word in visit.pending:
                    visit.pending.remove(last_word)
                else:
                    visit.on_again = Pending("confirmation", None, visit.version.start, now, recipient="doctor")
                    visit.pending.append(visit.on_again)
                visit.doctor_declined = False

    def desk_record(self) -> dict[tuple[str, str], list[tuple[str, str, str, bool]]]:
        """DESK: the History of each visit the desk acted on as it must read at the end, oldest
        first: (actor, action, how, undone), the patient's replies and the desk's steps; "by
        phone" only where the desk says it phoned (never a phone call read into a cancel)."""
        return {key: [(str(w), str(a), str(h), bool(u)) for w, a, h, u in visit.story]
                for key, visit in self.visits.items() if visit.desk}

    # -- dispatch --
    def _refused(self, now: datetime) -> bool:
        """PROVIDER_DOWN: the provider refuses every send now; PROVIDER_THROTTLED: it answers 429."""
        down = self.s.provider_down
        return (down is not None and down[0] <= now < down[1]) or self._throttled(now)

    def _throttled(self, now: datetime) -> bool:
        return any(began <= now < until for began, until in self.s.throttled)

    def _wait(self, attempts: int, now: datetime) -> timedelta:
        """The wait after a refusal: the backoff, or the provider's Retry-After if longer."""
        return max(backoff(attempts), THROTTLE_RETRY_AFTER) if self._throttled(now) else backoff(attempts)

    def _attempt(self, p: Pending, now: datetime) -> bool:
        """Whether a message the dispatcher sends now goes out; if the provider refuses it, it is
        retried after the backoff of its attempts (still judged by its own due time then)."""
        if not self._refused(now):
            return True
        p.attempts += 1
        p.retry_at = now + self._wait(p.attempts, now)
        return False

    @staticmethod
    def _notice_late(p: Pending, now: datetime) -> bool:
        """A patient's notice more than notices.max_lateness after it was planned (moved out of
        the quiet hours) is skipped (DISPATCH_LONG_DOWN)."""
        if p.kind not in NOTICES or p.planned is None:
            return False
        placed = fit(p.planned, p.planned, p.planned + timedelta(days=2)) or p.planned
        return now > max(p.planned, placed) + NOTICE_MAX_LATENESS

    def _dispatch(self, now: datetime) -> None:
        for (source, external_id), visit in self.visits.items():
            due = [p for p in visit.pending if p.ready(now)]
            if not due:
                continue
            v = visit.version
            for p in [p for p in due if p.recipient == "doctor"]:  # staff: no quiet hours
                due.remove(p)
                names_old_time = p.kind in ("cancelled", "reassigned")
                if (visit.active or names_old_time) and now < (p.start if names_old_time else v.start):
                    if self._attempt(p, now):
                        visit.pending.remove(p)
                        self._send(p.doctor or v.doctor, f"{source}/{external_id}", p.kind, "", now)
                else:
                    visit.pending.remove(p)
            if not due:
                continue
            quiet = quiet_period(now)
            if quiet is not None:  # woke inside the quiet hours: back to their end
                for p in due:
                    p.retry_at = quiet[1]
                continue
            reminders = [p for p in due if p.kind == "reminder"]
            # A confirmation is superseded by a reminder for the current start that goes now
            # (within its bound, before min_lead) or has gone (issue 30, obs 12).
            stand_in = any(q.start == v.start and now <= q.due + offset_length(q.offset or "0m") / 4
                           and now < v.start - MIN_LEAD for q in reminders) or any(
                s == v.start for _, s in visit.sent_reminders)
            for p in due:
                if p.kind != "reminder":
                    moot = p.kind == "confirmation" and (stand_in or visit.answer is not None)
                    if self._notice_late(p, now):
                        visit.pending.remove(p)
                    elif (now < p.start) if p.patient else (now < v.start and not moot):
                        if self._attempt(p, now):
                            visit.pending.remove(p)
                            self._send(p.patient or v.patient, f"{source}/{external_id}", p.kind, "", now)
                            visit.told[p.patient or v.patient] = p.kind != "cancelled"
                    else:
                        visit.pending.remove(p)
            for p in reminders:
                if visit.answer == "decline":  # planned while declined, or since: skipped when due
                    visit.pending.remove(p)
                    continue
                length = offset_length(p.offset or "0m")
                late = now > p.due + length / 4 or now > p.start - MIN_LEAD
                superseded = any(
                    offset_length(q.offset or "0m") < length
                    and (now <= q.due + offset_length(q.offset or "0m") / 4)
                    for q in reminders if q is not p) or any(
                    s == p.start and offset_length(o) < length for o, s in visit.sent_reminders)
                if late or superseded:
                    visit.pending.remove(p)
                elif self._attempt(p, now):
                    visit.pending.remove(p)
                    visit.sent_reminders.add((p.offset or "", p.start))
                    visit.told[v.patient] = True
                    self._send(v.patient, f"{source}/{external_id}", "reminder",
                               f"{p.offset} for {p.start.astimezone(UTC):%Y-%m-%d %H:%M}Z", now)
        for key, agenda_due in list(self.agendas.items()):
            retry_at, attempts = self.agenda_retries.get(key, (agenda_due, 0))
            if retry_at > now:
                continue
            source, doctor, day = key
            if now <= agenda_due + AGENDA_MAX_LATENESS and (source, doctor) in self._doctors_on(day):
                if self._refused(now):
                    self.agenda_retries[key] = (now + self._wait(attempts + 1, now), attempts + 1)
                    continue
                self._send(doctor, f"{source}/{day.isoformat()}", "agenda", "", now)
            del self.agendas[key]
            self.agenda_retries.pop(key, None)
            self.agendas_done.add(key)

    def _send(self, person: str, subject: str, kind: str, detail: str, now: datetime) -> None:
        self.expected.append(Sent(Identity(person, subject, kind, detail), now))

    def run(self) -> list[Sent]:
        s = self.s
        visible = self.visible()
        syncs = s.sync_ticks()
        replies: dict[datetime, list[Reply]] = defaultdict(list)
        for reply in s.replies:
            replies[reply.at].append(reply)
        desk: dict[datetime, list[DeskAct]] = defaultdict(list)
        for act in s.desk:
            desk[act.at].append(act)
        # A run killed before planning: (version, baseline, the tick it was stored at), not yet planned
        deferred: list[tuple[Version, bool, datetime]] = []
        for now in s.ticks():
            if s.settings_change_at is not None and now == s.settings_change_at:
                self._settings_change(now)
            landing = [(v, now == s.golive and v.source in ("front", "pm"), now) for v in visible.get(now, [])]
            if now in syncs:  # cron's next run, not a tick of the dispatcher alone (a throttled minute's)
                landing, deferred = deferred + landing, []
            if now in (s.kill_plan_at, s.kill_calendar_at):
                # The run dies after the tick's import committed and before planning committed
                # (in planning, or in the calendar stage, which runs before it): cron's next run
                # plans these versions, at its own moment. Not only later by a tick: a
                # confirmation planned when the visit's first reminder is due too is superseded
                # by it (seed 549, planning killed: a visit booked at 11:00 for 11:30 the next
                # day got its 1-day reminder at 11:30 and, rightly, no confirmation; seed 5's
                # twelve days, the calendar write killed at 09:00: the same for a visit booked
                # then for 09:30 the next day). A reminder whose time came since the import is
                # planned as already due (seed 5's month: booked at 09:00 for 09:00 the next
                # day, its 1-day reminder went at the next run, 09:30, and no confirmation).
                deferred, landing = landing, []
            for v, baseline, stored in landing:
                self._land(v, now, baseline=baseline, known=stored if stored < now else None)
            if now in syncs:
                self._plan_agendas(now)
            for reply in replies.get(now, []):
                self._reply(reply, now)
            for key, visit, last in self.later.pop(now, []):  # the step still the visit's latest
                if visit.desk and visit.desk[-1] == [last[0], False] and self.visits.get(key) is visit:
                    self._desk_undo(key, visit, last, now)
            if now in desk:  # a visit changed since a page drawn before the sync: by the source or an answer
                changed = {(v.source, v.external_id) for v in visible.get(now, [])}
                changed |= {key for key, steps in self.answers.items() if any(at == now for at, _, _ in steps)}
                for act in desk[now]:
                    self._desk(act, now, changed)
            if s.down is None or not s.down[0] <= now < s.down[1]:
                self._dispatch(now)
        return self.expected


def expected_messages(scenario: Scenario) -> list[Sent]:
    return Oracle(scenario).run()
