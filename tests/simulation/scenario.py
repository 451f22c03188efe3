"""The seeded scenario: a clinic in Europe/Madrid, its doctors and patients, and what its three
sources say day by day. ``random.Random(seed)`` is the only source of chance, so a seed
replays the same months exactly (the practice database's changes draw from a stream of their
own, ``random.Random(f"pm/{seed}")``, so that adding that source left the other two as they were).

Everything happens on the scenario's ticks (every 30 minutes from 06:00 to 21:00 local time,
plus the go-live moment): the clinic's changes land at a tick, before that tick's
`sync --once`, which runs before that tick's `remind --once`. The driver and the oracle both
read the ticks from here, as cron and the clinic would share a wall clock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from tests.simulation.faults import Fault

ZONE = "Europe/Madrid"
TZ = ZoneInfo(ZONE)
TICK = timedelta(minutes=30)
FIRST_TICK, LAST_TICK = time(6, 0), time(21, 0)
WORK_FROM, WORK_UNTIL = time(9, 0), time(18, 30)  # the front desk's changes, and the visits' slots
Source = Literal["front", "web", "pm"]  # the CSV drop (snapshot), the REST API, the SQL source (incremental)
# SOURCE_RENAMED: the CSV source's name in the settings after the rename, and the scenario's
# name for a connector the store names (the oracles judge by the scenario's names).
RENAMED_FRONT = "desk"


def scenario_source(connector: str) -> str:
    return "front" if connector == RENAMED_FRONT else connector
Kind = Literal["book", "move", "cancel", "delete"]


def local(day: date, at: time) -> datetime:
    """A local wall-clock time as UTC (the scenario only uses times that exist)."""
    return datetime.combine(day, at, TZ).astimezone(UTC)


@dataclass(frozen=True)
class Patient:
    id: str
    name: str
    phone: str  # E.164
    email: str
    language: str
    channel: Literal["sms", "email"]


@dataclass(frozen=True)
class Doctor:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class Version:
    """One appointment as its source holds it after a change."""

    source: Source
    external_id: str
    patient: str
    doctor: str
    start: datetime  # UTC
    status: Literal["booked", "cancelled"]
    word: str  # the CSV's status word (scheduled, confirmada, cancelled)
    deleted: bool
    updated_at: datetime  # pm: the row's stamp (its naive local wall clock in the practice DB)
    booked_at: datetime  # when the clinic took the booking (before go-live for the baseline's)


@dataclass(frozen=True)
class Change:
    at: datetime  # the tick the source says it (pm: the tick its row is visible in the practice DB)
    kind: Kind
    version: Version


@dataclass(frozen=True)
class Delivery:
    """A push of the REST API: the first delivery of a version, a repeat, or an older one late."""

    at: datetime
    version: Version
    first: bool


@dataclass(frozen=True)
class Reply:
    """A patient texts the clinic's number at a tick, after that tick's sync (PATIENT_REPLIES).
    Which visit it answers is the oracle's to work out, as clinicsync must."""

    at: datetime
    patient: str
    text: str  # C, Sí or Yes (confirm); X or No (cancel): keyword replies of docs/responses.md
    sid: str  # the provider's message id (a repeat changes nothing)


@dataclass(frozen=True)
class DeskAct:
    """The front desk on one visit at a tick, after that tick's sync and replies (DESK): its
    ``steps`` pressed one after the other on the page as drawn then (``undo``: the Undo of the
    step before). ``race``: a second desk presses the first step on the same page at once;
    ``stale``: the page was drawn before the tick's sync, which changed the visit. Whether each
    step is recorded is the oracle's to work out, as clinicsync must."""

    at: datetime
    source: Source
    external_id: str
    steps: tuple[str, ...]
    reason: str = "patient_asked"  # a cancel's reason (the confirm step's choice)
    race: bool = False
    stale: bool = False


# What the desk presses before a visit's start, and at it (DESK); "undo" takes the step before back.
DESK_BEFORE: tuple[tuple[str, ...], ...] = (
    ("confirmed_by_phone",), ("left_message",), ("cancel",), ("cancel", "undo"), ("cancel", "undo", "cancel"),
    ("confirmed_by_phone", "undo"), ("left_message", "confirmed_by_phone"), ("cancel", "confirmed_by_phone"),
    ("reschedule_handled",), ("no_show",), ("cancel", "undo-later"), ("confirmed_by_phone", "undo-later"))
DESK_AT: tuple[tuple[str, ...], ...] = (("no_show",), ("arrived",), ("no_show", "undo", "arrived"), ("cancel",))
# "undo-later": the Undo pressed DESK_UNDO_LATER after the step before, at a moment of its own
# (a tick with no other change), once the dispatcher has sent what the step planned.
DESK_UNDO_LATER = timedelta(minutes=5)
DESK_REASONS = ("patient_asked", "patient_ill", "moved", "doctor_unavailable", "duplicate", "other")


REPLY_TEXTS = {"C": "confirm", "Sí": "confirm", "Yes": "confirm", "X": "decline", "No": "decline"}


@dataclass
class Scenario:
    seed: int
    days: int
    faults: frozenset[Fault]
    first_day: date
    golive: datetime
    doctors: list[Doctor]
    patients: list[Patient]
    changes: list[Change] = field(default_factory=list)  # in time order, go-live's included
    deliveries: list[Delivery] = field(default_factory=list)  # the web source's pushes
    replies: list[Reply] = field(default_factory=list)  # patients' SMS replies, in time order
    poison_at: datetime | None = None
    settings_change_at: datetime | None = None
    down: tuple[datetime, datetime] | None = None  # the dispatcher is down in [from, until)
    cron_elsewhere_at: datetime | None = None
    mapping_fix_at: datetime | None = None
    kill_plan_at: datetime | None = None
    kill_push_at: datetime | None = None
    kill_calendar_at: datetime | None = None  # a tick with a change: the calendar has a file to write
    second_worker: tuple[datetime, datetime] | None = None
    provider_down: tuple[datetime, datetime] | None = None  # every send refused (retryable) in [from, until)
    night_ticks: tuple[datetime, ...] = ()  # FALL_BACK_NIGHT: ticks in both passes of 02:00-03:00
    throttled: tuple[tuple[datetime, datetime], ...] = ()  # PROVIDER_THROTTLED: 429 + Retry-After in each
    throttle_ticks: tuple[datetime, ...] = ()  # PROVIDER_THROTTLED: the dispatcher every 2 minutes around them
    source_down: tuple[datetime, datetime] | None = None  # SOURCE_DOWN: pm unreachable in [from, until)
    source_renamed: tuple[datetime, datetime] | None = None  # SOURCE_RENAMED: (in the settings, `source rename`)
    overlap: Change | None = None  # OVERLAPPING_SYNC: the cancellation the second, overlapping run imports
    overlap_import: Delivery | None = None  # OVERLAPPING_IMPORT: the push made while the tick's import is open
    desk: list[DeskAct] = field(default_factory=list)  # DESK: the front desk's actions, in time order

    @property
    def end(self) -> datetime:
        return local(self.first_day + timedelta(days=self.days), FIRST_TICK)

    def ticks(self) -> list[datetime]:
        later = (a.at + DESK_UNDO_LATER for a in self.desk if "undo-later" in a.steps)
        out = {self.golive, *(t for t in (*self.night_ticks, *self.throttle_ticks, *later) if t > self.golive)}
        for n in range(self.days):
            day = self.first_day + timedelta(days=n)
            moment = local(day, FIRST_TICK)
            while moment <= local(day, LAST_TICK):
                if moment > self.golive:
                    out.add(moment)
                moment += TICK
        return sorted(out)

    def sync_ticks(self) -> set[datetime]:
        """The ticks `sync --once` finds something at (cron runs it every 5 minutes; the runs
        between find nothing new and plan nothing, so the simulation skips them), plus 06:00
        each day, when that day's and the next day's agendas are planned at the latest."""
        out = {self.golive, *(c.at for c in self.changes if c.at > self.golive), *(d.at for d in self.deliveries)}
        out |= {local(self.first_day + timedelta(days=n), FIRST_TICK) for n in range(self.days)}
        out |= {t for t in (self.poison_at, self.settings_change_at, self.cron_elsewhere_at, self.mapping_fix_at,
                            self.kill_plan_at, self.kill_calendar_at) if t is not None}
        if self.source_down is not None:
            out.add(self.source_down[1])  # cron's first run that reaches the practice database again
        if self.source_renamed is not None:
            out |= set(self.source_renamed)  # the new name's refused first run, the run after the rename
        if self.overlap is not None:
            out.add(self.overlap.at + TICK)  # cron's next run after the two that overlapped
        killed = killed_delivery(self)
        if killed is not None:
            out.add(killed.at + TICK)
        for kill in (self.kill_plan_at, self.kill_calendar_at):
            if kill is not None:
                out.add(kill + TICK)  # cron's next run after the killed one
        return {t for t in out if t >= self.golive}

    def describe(self) -> str:
        faults = ",".join(sorted(self.faults)) or "none"
        return (f"seed={self.seed} days={self.days} faults={faults} first_day={self.first_day} "
                f"golive={self.golive.astimezone(TZ):%Y-%m-%d %H:%M} local")


FIRST = ["Ana", "Ben", "Carla", "Dev", "Elif", "Farid", "Gwen", "Hugo", "Ines", "Jon", "Kemal", "Lena",
         "Marta", "Nuno", "Olga", "Pau"]
LAST = ["Ruiz", "Okafor", "Tran", "Novak", "Haddad", "Silva", "Berg", "Moreau"]


def _people(rng: random.Random) -> tuple[list[Doctor], list[Patient]]:
    doctors = [Doctor(f"D{n}", f"Dr. {name}", f"{name.lower()}@clinic.example.org")
               for n, name in enumerate(("Okafor", "Ortega", "Chen"), start=1)]
    patients = []
    for n in range(rng.randint(14, 22)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        patients.append(Patient(f"P{n:02d}", f"{first} {last}", f"+3461{n:07d}",
                                f"{first.lower()}.{last.lower()}{n}@example.org",
                                rng.choice(["es", "es", "en"]), rng.choice(["sms", "email"])))
    return doctors, patients


def _slot(rng: random.Random, today: date, soon: bool) -> datetime:
    ahead = 1 if soon else rng.randint(1, 20)
    steps = int((datetime.combine(today, WORK_UNTIL) - datetime.combine(today, WORK_FROM)) / TICK)
    at = (datetime.combine(today, WORK_FROM) + TICK * rng.randint(0, steps)).time()
    return local(today + timedelta(days=ahead), at)


class _Generator:
    def __init__(self, seed: int, days: int, faults: frozenset[Fault]) -> None:
        self.rng = random.Random(seed)
        self.faults = faults
        rng = self.rng
        first_day = date(2027, 3, 1) + timedelta(days=rng.randint(0, 19))  # every window crosses 28 March
        if Fault.FALL_BACK_NIGHT in faults:  # a run without the October night starts a few days before it
            night = fall_back_day(first_day.year)
            if not first_day < night < first_day + timedelta(days=days):
                first_day = night - timedelta(days=max(1, min(3, days - 1)))
        golive = local(first_day, time(23, 43) if Fault.LATE_GOLIVE in faults else FIRST_TICK)
        doctors, patients = _people(rng)
        self.s = Scenario(seed, days, faults, first_day, golive, doctors, patients)
        self.current: dict[tuple[Source, str], Version] = {}
        self.serial = 0
        self.pm_rng = random.Random(f"pm/{seed}")  # the practice database's own stream (module docstring)
        self.pm_serial = 0
        self.throttle_day = self.first_day = first_day  # PROVIDER_THROTTLED's busy morning (busy_morning)

    def version(self, source: Source, at: datetime, start: datetime, booked_at: datetime) -> Version:
        self.serial += 1
        word = "confirmada" if source == "front" and self.rng.random() < 0.3 else "scheduled"
        return Version(source, f"{'F' if source == 'front' else 'W'}{self.serial:05d}",
                       self.rng.choice(self.s.patients).id, self.rng.choice(self.s.doctors).id, start, "booked",
                       word, False, at, booked_at)

    def add(self, at: datetime, kind: Kind, version: Version) -> None:
        self.current[(version.source, version.external_id)] = version
        self.s.changes.append(Change(at, kind, version))

    def baseline(self) -> None:
        """What the front desk's export already holds at go-live: bookings from go-live's day on."""
        rng, s = self.rng, self.s
        for _ in range(rng.randint(8, 14)):
            booked = s.golive - timedelta(days=rng.randint(1, 30))
            start = _slot(rng, s.first_day - timedelta(days=1), soon=False)
            self.add(booked, "book", self.version("front", booked, start, booked))
        if Fault.LATE_GOLIVE in self.faults:  # a visit of go-live's day, over by the time it goes live
            self.add(s.golive - timedelta(days=3), "book",
                     self.version("front", s.golive - timedelta(days=3), local(s.first_day, time(10, 0)),
                                  s.golive - timedelta(days=3)))
        s.changes.sort(key=lambda c: c.at)

    def day(self, n: int) -> None:
        rng, s = self.rng, self.s
        today = s.first_day + timedelta(days=n)
        steps = int((datetime.combine(today, WORK_UNTIL) - datetime.combine(today, WORK_FROM)) / TICK)
        moments = sorted({local(today, WORK_FROM) + TICK * rng.randint(0, steps) for _ in range(rng.randint(1, 4))})
        touched: set[tuple[Source, str]] = set()  # one change per appointment per tick
        for at in moments:
            if at <= s.golive:
                continue
            source: Source = "web" if rng.random() < 0.3 else "front"
            roll = rng.random()
            ahead = [v for key, v in self.current.items() if key[0] == source and key not in touched
                     and v.status == "booked" and not v.deleted and v.start > at + timedelta(hours=3)]
            if roll < 0.55 or not ahead:
                version = self.version(source, at, _slot(rng, today, soon=rng.random() < 0.25), at)
                self.add(at, "book", version)
            elif roll < 0.75:
                old = rng.choice(ahead)
                if Fault.DOCTOR_CHANGES in self.faults and rng.random() < 0.3:  # same time, another doctor
                    doctor = rng.choice([d.id for d in s.doctors if d.id != old.doctor])
                    self.add(at, "move", replace(old, doctor=doctor, updated_at=at))
                elif Fault.PATIENT_CHANGES in self.faults and rng.random() < 0.3:  # same time, another patient
                    patient = rng.choice([p.id for p in s.patients if p.id != old.patient])
                    self.add(at, "move", replace(old, patient=patient, updated_at=at))
                else:
                    self.add(at, "move", replace(old, start=_slot(rng, today, soon=rng.random() < 0.25), updated_at=at))
            elif roll < 0.9 or source == "web" or Fault.SOURCE_DELETES not in self.faults:
                old = rng.choice(ahead)
                self.add(at, "cancel", replace(old, status="cancelled", word="cancelled", updated_at=at))
            else:
                old = rng.choice(ahead)
                self.add(at, "delete", replace(old, deleted=True, updated_at=at))
            touched.add((source, s.changes[-1].version.external_id))

    # -- the practice-management database (pm): the SQL connector reads it incrementally --
    def pm_version(self, stamp: datetime, start: datetime) -> Version:
        """A new row of the practice database, stamped (``updated_at``) at ``stamp``."""
        rng, s = self.pm_rng, self.s
        self.pm_serial += 1
        return Version("pm", f"M{self.pm_serial:05d}", rng.choice(s.patients).id, rng.choice(s.doctors).id, start,
                       "booked", "scheduled", False, stamp, stamp)

    def pm_stamp(self, at: datetime, lo: int = 5, hi: int = 600) -> datetime:
        """When the desk saved a change the practice database shows at tick ``at``: a few
        seconds to ten minutes before it (stamps grow with the ticks, as a DB clock's do)."""
        return at - timedelta(seconds=self.pm_rng.randint(lo, hi))

    def pm_baseline(self) -> None:
        """What the practice database holds at go-live (read by its first sync: a baseline)."""
        rng, s = self.pm_rng, self.s
        for _ in range(rng.randint(3, 6)):
            stamp = s.golive - timedelta(days=rng.randint(1, 30), seconds=rng.randint(0, 86_399))
            self.add(stamp, "book", self.pm_version(stamp, _slot(rng, s.first_day - timedelta(days=1), soon=False)))

    def pm_day(self, n: int) -> None:
        """The desk's changes in the practice database on day ``n``: 0-2, at ticks where the
        day's other changes land (the desk works through its day: no sync is added, so the
        suite's months stay about as fast), bookings, moves, cancellations (status) and deleted
        rows, each stamped before its tick."""
        rng, s = self.pm_rng, self.s
        today = s.first_day + timedelta(days=n)
        busy = sorted({c.at for c in s.changes if c.at > s.golive and c.at.astimezone(TZ).date() == today})
        for at in sorted(rng.sample(busy, min(len(busy), rng.choice((0, 1, 1, 2))))):
            stamp, roll = self.pm_stamp(at), rng.random()
            ahead = sorted((v for key, v in self.current.items() if key[0] == "pm" and v.status == "booked"
                            and not v.deleted and v.start > at + timedelta(hours=3)), key=lambda v: v.external_id)
            if roll < 0.5 or not ahead:
                self.add(at, "book", self.pm_version(stamp, _slot(rng, today, soon=rng.random() < 0.25)))
            elif roll < 0.7:
                old = rng.choice(ahead)
                self.add(at, "move", replace(old, start=_slot(rng, today, soon=rng.random() < 0.25), updated_at=stamp))
            elif roll < 0.85:
                old = rng.choice(ahead)
                self.add(at, "cancel", replace(old, status="cancelled", word="cancelled", updated_at=stamp))
            else:  # the row deleted (Easy!Appointments deletes a booking its patient cancels)
                self.add(at, "delete", replace(rng.choice(ahead), deleted=True, updated_at=stamp))

    def late_commit(self) -> None:
        """LATE_COMMIT: at a working-day tick T the practice database shows a booking stamped
        s, the tick's last stamp; a second booking, stamped 1-9 seconds before s, is committed
        late: it shows only at T + 30 minutes, after the sync of T read s (a long write
        transaction)."""
        rng, s = self.pm_rng, self.s
        day = s.first_day + timedelta(days=rng.randint(1, max(1, s.days - 2)))
        at = local(day, WORK_FROM) + TICK * rng.randint(0, 17)  # 09:00-17:30: T + 30 minutes is a tick too
        read = self.pm_version(self.pm_stamp(at, 1, 4), _slot(rng, day, soon=False))  # the tick's last stamp
        self.add(at, "book", read)
        late = self.pm_version(read.updated_at - timedelta(seconds=rng.randint(1, 9)), _slot(rng, day, soon=True))
        self.add(at + TICK, "book", late)

    def fall_back_night(self) -> None:
        """FALL_BACK_NIGHT: on the night clocks go back (03:00 CEST -> 02:00 CET), the clinic's
        online booking tool writes rows stamped in naive local time in both passes of 02:00-03:00:
        ticks at 02:00 and 02:30 of each pass and at 03:00 CET, rows landing (and a sync) at each
        but the first. The second pass's stamps are lower, as wall clock, than the first pass's
        last one."""
        rng, s = self.pm_rng, self.s
        night = fall_back_day(s.first_day.year)
        if not s.first_day < night < s.first_day + timedelta(days=s.days):
            return  # a run with no fall-back night (only a run of one day)
        first = datetime.combine(night, time(2, 0), TZ).astimezone(UTC)  # 02:00 CEST
        second = datetime.combine(night, time(2, 0, fold=1), TZ).astimezone(UTC)  # 02:00 CET
        s.night_ticks = (first, first + TICK, second, second + TICK, second + 2 * TICK)
        today = night - timedelta(days=1)  # a slot from 1 to 20 days after the night
        book = self.pm_version(self.pm_stamp(first + TICK, 60, 600), _slot(rng, today, soon=False))
        self.add(first + TICK, "book", book)  # 02:20-02:29 CEST
        self.add(second, "book", self.pm_version(self.pm_stamp(second, 5, 300), _slot(rng, today, soon=False)))
        for _ in range(rng.randint(1, 2)):  # 02:05-02:28 CET: below the first pass's last stamp
            self.add(second + TICK, "book", self.pm_version(self.pm_stamp(second + TICK, 120, 1500),
                                                            _slot(rng, today, soon=False)))
        self.add(second + 2 * TICK, "move", replace(book, start=_slot(rng, today, soon=False),  # 02:35-02:50 CET
                                                    updated_at=self.pm_stamp(second + 2 * TICK, 600, 1500)))

    def deliveries(self) -> None:
        """Each web version pushed when it happens; with LATE_WEBHOOKS also repeated, and the
        version before a change delivered again after it (older updated_at: it must lose)."""
        rng, s = self.rng, self.s
        previous: dict[str, Version] = {}
        for change in s.changes:
            v = change.version
            if v.source != "web":
                continue
            s.deliveries.append(Delivery(change.at, v, first=True))
            if Fault.LATE_WEBHOOKS in self.faults:
                if rng.random() < 0.4:
                    s.deliveries.append(Delivery(change.at + TICK * rng.randint(0, 4), v, first=False))
                if v.external_id in previous and rng.random() < 0.6:
                    s.deliveries.append(Delivery(change.at + TICK * rng.randint(1, 4), previous[v.external_id],
                                                 first=False))
            previous[v.external_id] = v
        s.deliveries.sort(key=lambda d: (d.at, not d.first))

    def someday(self, at: time, lo: int = 1) -> datetime:
        """A day anywhere in the run but its last two: a fault after months of history (a
        second DST change, a store with a long past) can find what one in the first weeks cannot."""
        s = self.s
        return local(s.first_day + timedelta(days=self.rng.randint(lo, max(lo, max(s.days, 4) - 2))), at)

    def faults_at(self) -> None:
        s, someday = self.s, self.someday
        if Fault.POISON in self.faults:
            s.poison_at = someday(time(10, 0))
        if Fault.SETTINGS_CHANGE in self.faults:
            s.settings_change_at = someday(time(12, 0), lo=2)
        if Fault.DISPATCH_DOWN in self.faults:
            began = someday(WORK_FROM, lo=2)
            s.down = (began, began + timedelta(hours=11, minutes=30))
        if Fault.DISPATCH_LONG_DOWN in self.faults:  # drawn only with it: other scenarios stay as they were
            began = someday(WORK_FROM, lo=2)
            s.down = (began, began + timedelta(hours=self.rng.randint(47, 50)))
        if Fault.CRON_ELSEWHERE in self.faults:
            s.cron_elsewhere_at = someday(time(8, 0), lo=2)
        if Fault.MAPPING_FIX in self.faults:
            s.mapping_fix_at = local(s.first_day + timedelta(days=2), time(10, 0))
        if Fault.KILLED_MID_STAGE in self.faults:
            s.kill_plan_at = someday(time(11, 0))
        if Fault.KILLED_PUSH in self.faults:
            s.kill_push_at = local(s.first_day + timedelta(days=1), time(6, 0))
        if Fault.SECOND_WORKER in self.faults:
            began = someday(FIRST_TICK)
            s.second_worker = (began, began + timedelta(days=2))
        if Fault.KILLED_CALENDAR_WRITE in self.faults:
            after = someday(WORK_FROM)
            s.kill_calendar_at = next((c.at for c in s.changes if c.at >= after), None)
        if Fault.SOURCE_RENAMED in self.faults:  # drawn last: the other faults' days stay as they were
            evening = someday(LAST_TICK, lo=1)
            s.source_renamed = (evening, local(evening.astimezone(TZ).date() + timedelta(days=1), FIRST_TICK))

    def replies(self) -> None:
        """PATIENT_REPLIES: on about half the days one or two patients who take texts answer,
        at a tick of the working day. Drawn last, so that other scenarios stay as they were."""
        rng, s = self.rng, self.s
        texting = [p for p in s.patients if p.channel == "sms"] or s.patients
        steps = int((datetime.combine(s.first_day, WORK_UNTIL) - datetime.combine(s.first_day, WORK_FROM)) / TICK)
        for n in range(s.days):
            if rng.random() < 0.5:
                continue
            day = s.first_day + timedelta(days=n)
            for _ in range(rng.randint(1, 2)):
                at = local(day, WORK_FROM) + TICK * rng.randint(0, steps)
                patient = rng.choice(texting)
                text = rng.choice(["C", "Sí" if patient.language == "es" else "Yes", "X", "No"])
                if at > s.golive:
                    s.replies.append(Reply(at, patient.id, text, f"SIM{len(s.replies):04d}"))
        s.replies.sort(key=lambda r: r.at)

    def provider_outage(self) -> None:
        """PROVIDER_DOWN: from a tick between 06:00 and 20:00 (so before the agendas of 07:00
        and into the quiet hours at the latest), for 1 to 5 hours, the outbox's provider refuses
        every send. Drawn after everything else, so that other scenarios stay as they were."""
        began = self.someday(FIRST_TICK) + TICK * self.rng.randint(0, 28)
        self.s.provider_down = (began, began + timedelta(hours=self.rng.randint(1, 5)))


    def busy_morning(self) -> None:
        """PROVIDER_THROTTLED, the clinic's side: one morning the desk books five to nine
        visits at each of 09:00 and 10:00 (the phones' first hours), so that many messages are
        due at one dispatcher run when the provider throttles."""
        rng = self.rng
        self.throttle_day = self.someday(FIRST_TICK).astimezone(TZ).date()
        for hour in (9, 10):
            at = local(self.throttle_day, time(hour, 0))
            for _ in range(rng.randint(5, 9)):
                self.add(at, "book", self.version("front", at, _slot(rng, self.throttle_day,
                                                                     soon=rng.random() < 0.5), at))

    def throttle(self) -> None:
        """PROVIDER_THROTTLED: on the busy morning, at each full hour from 07:00 (the agendas)
        to 12:00 (08:00: what the quiet hours held goes; 09:00 and 10:00: the bookings'
        confirmations), the provider answers every request 429 with Retry-After:
        THROTTLE_RETRY_AFTER for one or two of the dispatcher's 2-minute runs. Two at most: the
        backoff of a message refused twice (2 minutes) is still the Retry-After, so each waits
        exactly that (the oracle needs no attempt count)."""
        rng = self.rng
        bursts, ticks = [], []
        for hour in range(7, 13):
            began = local(self.throttle_day, time(hour, 0))
            bursts.append((began, began + THROTTLE_RETRY_AFTER * rng.randint(1, 2)))
            ticks += [began + THROTTLE_RETRY_AFTER * k for k in range(1, 8)]  # 2-14 minutes after
        self.s.throttled, self.s.throttle_ticks = tuple(bursts), tuple(ticks)

    def source_outage(self) -> None:
        """SOURCE_DOWN: from a working-day tick, for 2 to 6 hours, clinicsync cannot reach the
        practice database (pm); the desk keeps saving in it: one to three bookings land meanwhile,
        some for the next day (their reminders must still go)."""
        rng, s = self.pm_rng, self.s
        day = s.first_day + timedelta(days=rng.randint(1, max(1, s.days - 2)))
        began = local(day, WORK_FROM) + TICK * rng.randint(0, 8)
        until = began + timedelta(hours=rng.randint(2, 6))
        s.source_down = (began, until)
        for _ in range(rng.randint(1, 3)):
            at = began + TICK * rng.randint(0, int((until - began) / TICK) - 1)
            self.add(at, "book", self.pm_version(self.pm_stamp(at), _slot(rng, day, soon=rng.random() < 0.5)))


    def forgetful(self) -> None:
        """FORGETFUL (store.patient_data_days: 30), what reaches clinicsync about visits it may
        have forgotten. Drawn last, so that other scenarios stay as they were:

        - the website re-sends the last version of about half its visits 32 to 40 days after
          them (a replayed webhook queue): unchanged, nothing to import or tell;
        - the desk cancels about one front visit in eight 32 to 45 days after it ended (tidying
          the book): a change of a past visit, nobody is told, its calendar event left alone;
        - on about a fifth of the days a patient who takes texts answers late: a visit ahead
          (booked since) takes the answer, else none does.
        Each at a working-day tick of the run."""
        rng, s = self.rng, self.s

        def tick_after(moment: datetime, lo: int, hi: int) -> datetime | None:
            day = moment.astimezone(TZ).date() + timedelta(days=rng.randint(lo, hi))
            at = local(day, WORK_FROM) + TICK * rng.randint(0, 18)
            return at if s.golive < at < s.end - timedelta(days=1) else None

        last: dict[tuple[Source, str], tuple[datetime, Version]] = {}
        for change in s.changes:
            last[(change.version.source, change.version.external_id)] = (change.at, change.version)
        for (source, _), (_, v) in sorted(last.items()):
            if source != "web" or v.deleted or rng.random() < 0.5:
                continue
            at = tick_after(v.start, 32, 40)
            if at is not None:
                s.deliveries.append(Delivery(at, v, first=False))
        s.deliveries.sort(key=lambda d: (d.at, not d.first))
        for (source, _), (changed, v) in sorted(last.items()):
            if source != "front" or v.status != "booked" or v.deleted or rng.random() >= 0.125:
                continue
            at = tick_after(v.start + timedelta(minutes=30), 32, 45)
            if at is not None and at > changed:
                s.changes.append(Change(at, "cancel", replace(v, status="cancelled", word="cancelled",
                                                              updated_at=at)))
        s.changes.sort(key=lambda c: c.at)
        texting = [p for p in s.patients if p.channel == "sms"] or s.patients
        for n in range(s.days):
            if rng.random() < 0.8:
                continue
            at = local(s.first_day + timedelta(days=n), WORK_FROM) + TICK * rng.randint(0, 18)
            patient = rng.choice(texting)
            if at > s.golive:
                s.replies.append(Reply(at, patient.id, rng.choice(["C", "X"]), f"LATE{n:04d}"))
        s.replies.sort(key=lambda r: r.at)


    def _drawn_last(self, *more: datetime | None) -> tuple[set[datetime], dict[str, tuple[datetime, Version]]]:
        """For a fault drawn last: the ticks other faults use (``more`` too) and the tick after
        each, and each front visit's last change (its tick and version)."""
        s = self.s
        taken = {t for t in (s.poison_at, s.settings_change_at, s.cron_elsewhere_at, s.mapping_fix_at,
                             s.kill_plan_at, s.kill_calendar_at, *(s.source_renamed or ()), *(s.source_down or ()),
                             *more) if t is not None}
        taken |= {t + TICK for t in taken}
        last: dict[str, tuple[datetime, Version]] = {}
        for change in s.changes:
            if change.version.source == "front":
                last[change.version.external_id] = (change.at, change.version)
        return taken, last

    def overlapping_sync(self) -> None:
        """OVERLAPPING_SYNC: at the first working-day tick from a day drawn on (else from
        go-live) where the desk changes a front visit of a doctor who has another front visit
        booked ahead (its last change before that tick), that other visit is cancelled at the
        same tick: saved while the tick's run writes the doctor's file, imported by the
        overlapping run (run.py). Drawn last, and never at another fault's tick, so that other
        scenarios stay as they were. None in a run too short to hold such a tick."""
        rng, s = self.rng, self.s
        taken, last = self._drawn_last()
        after = self.someday(WORK_FROM)
        for change in [c for c in s.changes if c.at >= after] + [c for c in s.changes if c.at < after]:
            at, p = change.at, change.version  # from the day drawn on, else from go-live
            if at <= s.golive or at in taken or p.source != "front" or at >= s.end - timedelta(days=1):
                continue
            ahead = sorted(v.external_id for changed, v in last.values()
                           if changed < at and v.doctor == p.doctor and v.external_id != p.external_id
                           and v.status == "booked" and not v.deleted and v.start > at + timedelta(hours=3))
            if ahead:
                _, old = last[rng.choice(ahead)]
                self.add(at, "cancel", replace(old, status="cancelled", word="cancelled", updated_at=at))
                s.overlap = s.changes[-1]
                s.changes.sort(key=lambda c: c.at)  # stable: after the tick's other changes
                return

    def overlapping_import(self) -> None:
        """OVERLAPPING_IMPORT: at the first tick from a day drawn on (else from go-live) where
        the website pushes a new version of a visit ahead, the desk also moves a front visit
        booked ahead (its last change before that tick) to two days later: the tick's
        `sync --once` imports the move while the service takes the push and plans (run.py).
        Drawn last, never at another fault's tick nor one with another front change, so that
        other scenarios stay as they were."""
        rng, s = self.rng, self.s
        taken, last = self._drawn_last(s.kill_push_at, s.overlap.at if s.overlap is not None else None)
        taken |= {c.at for c in s.changes if c.version.source == "front"}
        after = self.someday(WORK_FROM)
        for d in [d for d in s.deliveries if d.at >= after] + [d for d in s.deliveries if d.at < after]:
            at, v = d.at, d.version
            if (not d.first or at <= s.golive or at in taken or v.deleted or v.status != "booked"
                    or v.start < at + timedelta(days=1) or at >= s.end - timedelta(days=2)):
                continue
            ahead = sorted(w.external_id for changed, w in last.values()
                           if changed < at and w.status == "booked" and not w.deleted
                           and w.start > at + timedelta(days=2))
            if ahead:
                _, old = last[rng.choice(ahead)]
                # two days ahead: its reminders (a day and an hour before) fall inside the run
                start = _slot(rng, at.astimezone(TZ).date() + timedelta(days=1), soon=True)
                self.add(at, "move", replace(old, start=start, updated_at=at))
                s.changes.sort(key=lambda c: c.at)
                s.overlap_import = d
                return


    def desk(self) -> None:
        """DESK: on about two days in three the desk acts on one to three visits, at working-day
        ticks: before a visit's start (DESK_BEFORE), or in the three days after it (DESK_AT); a
        fifth of the first steps pressed by two desks at once; on about one day in four, a page
        drawn before the tick's sync moved or cancelled the visit it acts on. From a stream of
        its own, drawn last, never at the overlapping faults' ticks: other scenarios stay as
        they were."""
        s = self.s
        rng = random.Random(f"desk/{s.seed}")
        avoid = {t for t in (s.overlap.at if s.overlap else None, s.overlap_import.at if s.overlap_import else None)
                 if t is not None}
        changed = [c for c in s.changes if c.kind in ("move", "cancel") and s.golive < c.at < s.end and
                   c.at not in avoid and WORK_FROM <= c.at.astimezone(TZ).time() <= WORK_UNTIL]
        for n in range(s.days):
            day = s.first_day + timedelta(days=n)
            if rng.random() < 0.25:
                today = [c for c in changed if c.at.astimezone(TZ).date() == day]
                if today:
                    c = rng.choice(today)
                    s.desk.append(DeskAct(c.at, c.version.source, c.version.external_id,
                                          (rng.choice(("cancel", "confirmed_by_phone")),),
                                          rng.choice(DESK_REASONS), stale=True))
            if rng.random() < 0.33:
                continue
            for _ in range(rng.randint(1, 3)):
                at = local(day, WORK_FROM) + TICK * rng.randint(0, 18)
                if at <= s.golive or at in avoid:
                    continue
                held = self._held_at(at)
                started = sorted(k for k, v in held.items() if at - timedelta(days=3) < v.start <= at)
                ahead = sorted(k for k, v in held.items() if v.start > at + timedelta(hours=1))
                if started and (rng.random() < 0.25 or not ahead):
                    key, steps = rng.choice(started), rng.choice(DESK_AT)
                elif ahead:
                    key, steps = rng.choice(ahead), rng.choice(DESK_BEFORE)
                else:
                    continue
                s.desk.append(DeskAct(at, key[0], key[1], steps, rng.choice(DESK_REASONS), race=rng.random() < 0.2))
        self._desk_after_declines(avoid)
        s.desk.sort(key=lambda a: a.at)

    def _desk_after_declines(self, avoid: set[datetime]) -> None:
        """DESK after PATIENT_REPLIES: for about half the patients' SMS declines, the desk cancels
        the visit the decline is likely about (the patient's earliest visit ahead) in that tick or
        the next two and takes the cancel back (at once, a second cancel after it, or once its
        notices went): the Undo must put back the patient's own decline. From a stream of its own,
        drawn after the other desk acts: the scenarios without declines stay as they were."""
        s = self.s
        rng = random.Random(f"desk-declines/{s.seed}")
        for reply in s.replies:
            if REPLY_TEXTS[reply.text] != "decline" or rng.random() < 0.5:
                continue
            at = reply.at + TICK * rng.randint(0, 2)
            steps = rng.choice((("cancel", "undo"), ("cancel", "undo", "cancel"), ("cancel", "undo-later")))
            if at in avoid or at >= s.end or at.astimezone(TZ).time() > WORK_UNTIL:
                continue
            ahead = sorted((v.start, k) for k, v in self._held_at(at).items()
                           if v.patient == reply.patient and v.start > at + timedelta(hours=1))
            if ahead:
                key = ahead[0][1]
                s.desk.append(DeskAct(at, key[0], key[1], steps, rng.choice(DESK_REASONS)))

    def _held_at(self, at: datetime) -> dict[tuple[Source, str], Version]:
        """The visits the sources hold booked just before ``at`` (their last change before it)."""
        held: dict[tuple[Source, str], Version] = {}
        for c in self.s.changes:
            if c.at >= at:
                break
            held[(c.version.source, c.version.external_id)] = c.version
        return {k: v for k, v in held.items() if v.status == "booked" and not v.deleted}


THROTTLE_RETRY_AFTER = timedelta(minutes=2)  # the provider's Retry-After under PROVIDER_THROTTLED


def fall_back_day(year: int) -> date:
    """The last Sunday of October: the clinic's clocks go back (03:00 CEST -> 02:00 CET)."""
    last = date(year, 10, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def generate(seed: int, days: int, faults: frozenset[Fault] = frozenset()) -> Scenario:
    g = _Generator(seed, days, faults)
    g.baseline()
    g.pm_baseline()
    for n in range(days):
        g.day(n)
        g.pm_day(n)
    if Fault.LATE_COMMIT in faults:
        g.late_commit()
    if Fault.FALL_BACK_NIGHT in faults:
        g.fall_back_night()
    if Fault.SOURCE_DOWN in faults:
        g.source_outage()
    if Fault.PROVIDER_THROTTLED in faults:
        g.busy_morning()
    g.s.changes.sort(key=lambda c: c.at)  # stable: a tick's changes keep the order they were made in
    g.deliveries()
    g.faults_at()
    if Fault.PATIENT_REPLIES in faults:
        g.replies()
    if Fault.PROVIDER_DOWN in faults:
        g.provider_outage()
    if Fault.PROVIDER_THROTTLED in faults:
        g.throttle()
    if Fault.FORGETFUL in faults:
        g.forgetful()
    if Fault.OVERLAPPING_SYNC in faults:
        g.overlapping_sync()
    if Fault.OVERLAPPING_IMPORT in faults:
        g.overlapping_import()
    if Fault.DESK in faults:
        g.desk()
    return g.s


def killed_delivery(scenario: Scenario) -> Delivery | None:
    """KILLED_PUSH: the first push at or after the kill moment dies in its transaction; the
    sender gets no answer and delivers it again at the next tick."""
    if scenario.kill_push_at is None:
        return None
    return next((d for d in scenario.deliveries if d.first and d.at >= scenario.kill_push_at), None)
