"""The doctors' calendars (provider `ics`) against the scenario alone.

Independent code: it reads the `.ics` files with icalendar and compares them with what the
scenario says each appointment is at that moment (the versions the store should hold after a
tick's sync, ``Oracle.visible``: a late, older webhook loses, a row quarantined until the
mapping fix is not there yet, the poison row is no appointment). Never clinicsync's store.

The rules, as read from docs/calendar.md (default settings: ``cancelled_action: delete``,
``patient_cancelled: mark``, ``past_days: 30``):

- An appointment booked at the source whose end is at most ``past_days`` ago, or ahead, is
  exactly one VEVENT in its doctor's file (named after the doctor's email), with its
  connector and external id as ``X-CLINICSYNC-*``, ``DTSTART``/``DTEND`` its start and start
  + 30 minutes (UTC compared), ``STATUS:CONFIRMED``, and the title of the default template,
  ``Consulta (A.R.)`` (the visit type and the patient's initials), or after SETTINGS_CHANGE
  the changed one's, ``Consulta with A.R.``: every event is rendered again.
- One cancelled or deleted at the source is absent or ``STATUS:CANCELLED`` (the `.ics`
  provider keeps a removed event as cancelled, so subscribers remove it).
- No event of an appointment the scenario does not have (the poison row, a stranger), none
  in another doctor's file unless cancelled, no UID live twice across the files and none twice
  in one file. A visit given to another doctor (DOCTOR_CHANGES) keeps its UID: live in the new
  doctor's file, CANCELLED in the old one's (how an `.ics` subscriber learns it is gone).
  A visit given to another patient (PATIENT_CHANGES) keeps its UID, its doctor and its time;
  its title (initials only, docs/calendar.md "privacy by default") becomes the new patient's,
  and a cancellation by the first patient's reply no longer marks it (the answer is cleared).
- Appointments that ended longer ago than the window (less a day of margin) are not judged:
  "left alone"; once they ended longer ago than the window and the margin, their events must
  not change (FORGETFUL: a forgotten visit re-read, re-sent or cancelled late), or only go.
- A visit whose patient cancelled by SMS (PATIENT_REPLIES: the oracle of messages works out
  which visit a reply answers) while the source still holds it booked is
  ``STATUS:TENTATIVE`` titled ``Cancelled by patient: <title>`` from the first sync after the
  reply; a move to another start clears that (the answer was for the old time): CONFIRMED again.

It is checked after each tick whose `sync --once` completed (the calendar stage runs in it);
a problem is reported once, at the first tick it is seen, by ids only (no PHI)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icalendar import Calendar

from tests.simulation.oracle import Oracle
from tests.simulation.scenario import Scenario, Version, scenario_source

DECLINED_PREFIX = "Cancelled by patient: "  # calendar.patient_cancelled: mark (the default)
DURATION = timedelta(minutes=30)  # what both sources say (clinic.py)
PAST_DAYS = timedelta(days=30)  # calendar.past_days' default
MARGIN = timedelta(days=1)  # around the window's edge, which the stage's own clock decides


@dataclass(frozen=True)
class Seen:
    """One VEVENT as read from a file."""

    doctor: str  # the pseudo-id of the doctor whose file holds it (or the file's name)
    uid: str
    connector: str
    external_id: str
    start: datetime  # UTC
    end: datetime
    status: str
    summary: str


def split_events(text: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """The file's lines outside its VEVENTs (the calendar and its VTIMEZONEs) less its last
    line, that line (END:VCALENDAR), and each VEVENT's lines: a folded line's continuation starts with a space, so no
    VEVENT boundary is mistaken."""
    outside: list[bytes] = []
    events: list[bytes] = []
    current: list[bytes] | None = None
    for line in text.splitlines(keepends=True):
        if current is None and line.rstrip(b"\r\n") == b"BEGIN:VEVENT":
            current = [line]
        elif current is not None:
            current.append(line)
            if line.rstrip(b"\r\n") == b"END:VEVENT":
                events.append(b"".join(current))
                current = None
        else:
            outside.append(line)
    if current is not None or not outside or outside[-1].rstrip(b"\r\n") != b"END:VCALENDAR":
        return text, b"", []  # not the shape expected: parsed whole
    return b"".join(outside[:-1]), outside[-1], events


def read_file(text: bytes, owner: str) -> list[Seen]:
    out: list[Seen] = []
    for event in Calendar.from_ical(text).walk("VEVENT"):
        out.append(Seen(owner, str(event.get("UID")), scenario_source(str(event.get("X-CLINICSYNC-CONNECTOR", ""))),
                        str(event.get("X-CLINICSYNC-EXTERNAL-ID", "")),
                        event.decoded("DTSTART").astimezone(UTC), event.decoded("DTEND").astimezone(UTC),
                        str(event.get("STATUS", "")).upper(), str(event.get("SUMMARY", ""))))
    return out


class Files:
    """The directory's files as read, each parsed again only when its bytes changed (reading
    is cheap, parsing is not): most syncs change one file or none."""

    def __init__(self, directory: Path, doctor_by_email: dict[str, str]) -> None:
        self.directory = directory
        self.doctor_by_email = doctor_by_email
        self._read: dict[Path, tuple[bytes, list[Seen]]] = {}
        # (owner, the file's lines outside its VEVENTs, one VEVENT) -> what it reads as: a
        # changed file is parsed again only in its changed events (icalendar parses ~5 ms an
        # event; a sync changes a few of a file's dozens). Same parser, same calendar context.
        self._events: dict[tuple[str, bytes, bytes], list[Seen]] = {}

    def _parse(self, text: bytes, owner: str) -> list[Seen]:
        outside, end, events = split_events(text)
        if not events:
            return read_file(text, owner)
        out: list[Seen] = []
        for event in events:
            key = (owner, outside, event)
            seen = self._events.get(key)
            if seen is None:
                if len(self._events) >= 50_000:  # a year's soak: forget, parse again
                    self._events.clear()
                seen = self._events[key] = read_file(outside + event + end, owner)
            out += seen
        return out

    def events(self) -> list[Seen]:
        out: list[Seen] = []
        paths = sorted(self.directory.glob("*.ics")) if self.directory.exists() else []
        for path in paths:
            text = path.read_bytes()
            known = self._read.get(path)
            if known is None or known[0] != text:
                known = self._read[path] = (text, self._parse(text, self.doctor_by_email.get(path.stem, path.name)))
            out += known[1]
        return out


class CalendarOracle:
    def __init__(self, scenario: Scenario, directory: Path) -> None:
        self.s = scenario
        self.files = Files(directory, {d.email: d.id for d in scenario.doctors})
        messages = Oracle(scenario)
        self.visible = messages.visible()
        messages.run()
        self.answers = messages.answers  # each visit's answer over time, as clinicsync must work it out
        self.away: dict[tuple[str, datetime], datetime] = {}
        self.landed: set[datetime] = set()
        self.truth: dict[tuple[str, str], Version] = {}
        self.initials = {p.id: "".join(f"{part[0]}." for part in (p.name.split()[0], p.name.split()[-1]))
                         for p in scenario.patients}
        self.checks = 0
        self.problems: list[tuple[datetime, str]] = []
        self._reported: set[str] = set()
        self.frozen: dict[tuple[str, str], list[tuple[str, str, datetime, datetime, str, str]]] = {}

    def learn_given_away(self, away: dict[tuple[str, datetime], datetime]) -> None:
        """WAITLIST: the freed times the waiting list gave away so far, as the store holds them.
        A desk cancel whose time went out to a waiting patient is not undone (the desk page
        offers no Undo then), so the cancel's decline stands and the event stays marked: the
        answers are worked out again with what the messages oracle is given after the run
        (``Oracle(scenario, given_away)``). Built without it, the answers would hold an Undo
        the desk was never offered and expect the event booked again."""
        if away == self.away:
            return
        self.away = dict(away)
        messages = Oracle(self.s, self.away)
        messages.run()
        self.answers = messages.answers

    def _advance(self, now: datetime) -> None:
        for at in sorted(t for t in self.visible if t <= now and t not in self.landed):
            self.landed.add(at)
            for v in self.visible[at]:
                key = (v.source, v.external_id)
                if v.deleted and key not in self.truth:
                    continue
                self.truth[key] = v

    def _problem(self, now: datetime, key: str, text: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.problems.append((now, f"calendar: {text}"))

    def check(self, now: datetime) -> None:
        """The files as they are after this tick's sync, against the scenario at ``now``."""
        self._advance(now)
        self.checks += 1
        events = self.files.events()
        uids: dict[str, int] = defaultdict(int)  # live events by UID, across the files
        in_file: dict[tuple[str, str], int] = defaultdict(int)  # every event by (file, UID)
        by_key: dict[tuple[str, str], list[Seen]] = defaultdict(list)
        for e in events:
            uids[e.uid] += e.status != "CANCELLED"
            in_file[(e.doctor, e.uid)] += 1
            by_key[(e.connector, e.external_id)].append(e)
        for uid, count in uids.items():
            if count > 1:
                self._problem(now, f"uid {uid}", f"UID {uid} appears {count} times")
        for (doctor, uid), count in in_file.items():
            if count > 1:
                self._problem(now, f"uid {uid} {doctor}", f"UID {uid} appears {count} times in {doctor}'s file")
        judged_from = now - PAST_DAYS + MARGIN
        for key in sorted(set(self.truth) | set(by_key)):
            name = f"{key[0]}/{key[1]}"
            v = self.truth.get(key)
            seen = by_key.get(key, [])
            live = [e for e in seen if e.status != "CANCELLED"]
            if v is None:
                if live:
                    self._problem(now, f"stranger {name}", f"{name} is no appointment of the scenario, "
                                  f"got {len(live)} live event(s) ({', '.join(e.doctor for e in live)})")
                continue
            if v.start + DURATION < judged_from:
                self._left_alone(now, key, name, v, seen)
                continue  # ended before the window: left alone
            active = v.status == "booked" and not v.deleted
            if not active:
                if live:
                    why = "deleted" if v.deleted else "cancelled"
                    self._problem(now, f"gone {name} {v.updated_at}",
                                  f"{name} ({v.doctor}) {why} at the source, expected absent or CANCELLED, "
                                  f"got {live[0].status or 'no STATUS'} at {_when(live[0].start)} in {live[0].doctor}")
                continue
            mine = [e for e in seen if e.doctor == v.doctor]
            elsewhere = [e for e in live if e.doctor != v.doctor]
            if elsewhere:
                self._problem(now, f"elsewhere {name}", f"{name} ({v.doctor}) also live in "
                              f"{', '.join(e.doctor for e in elsewhere)}'s calendar")
            if len(mine) != 1:
                self._problem(now, f"count {name} {v.updated_at}",
                              f"{name} ({v.doctor}) booked for {_when(v.start)}, expected 1 event, got {len(mine)}")
                continue
            e = mine[0]
            declined = self.declined(key, now)
            status = "TENTATIVE" if declined else "CONFIRMED"
            if (e.start, e.end) != (v.start, v.start + DURATION) or e.status != status:
                self._problem(now, f"wrong {name} {v.updated_at} {declined}",
                              f"{name} ({v.doctor}) booked for {_when(v.start)}-{_when(v.start + DURATION)}"
                              f"{', cancelled by the patient' if declined else ''}, got "
                              f"{_when(e.start)}-{_when(e.end)} {e.status or 'no STATUS'}")
            expected_title = f"{DECLINED_PREFIX}{self.title(v, now)}" if declined else self.title(v, now)
            if e.summary != expected_title:  # the title holds initials only: shown by template
                changed = self.s.settings_change_at is not None and now >= self.s.settings_change_at
                self._problem(now, f"title {name} {changed} {declined}",
                              f"{name} ({v.doctor}) title not of the {'changed' if changed else 'default'} "
                              f"template ({'SUMMARY_AFTER_CHANGE' if changed else 'DEFAULT_SUMMARY'})"
                              f"{' marked cancelled by the patient' if declined else ''}")

    def _left_alone(self, now: datetime, key: tuple[str, str], name: str, v: Version, seen: list[Seen]) -> None:
        """An event of a visit that ended more than the window and its margin ago is never
        written again (FORGETFUL: its visit forgotten, re-read, cancelled late): what the files
        hold of it then stays, or goes (calendar.ics.keep_past_days retires it)."""
        if v.start + DURATION >= now - PAST_DAYS - MARGIN:
            return
        shown = sorted((e.doctor, e.uid, e.start, e.end, e.status, e.summary) for e in seen)
        first = self.frozen.setdefault(key, shown)
        # Each file retires its past events on its own day (a visit given to another doctor has a
        # copy in two files): a copy may go before the other; none may change or come back.
        if not set(shown) <= set(first):
            self._problem(now, f"frozen {name}", f"{name} ({v.doctor}) ended {_when(v.start + DURATION)}, "
                          "before the window, and its event was written again")

    def declined(self, key: tuple[str, str], now: datetime) -> bool:
        """Whether the patient's cancellation stands for this visit in the store the calendar
        stage read at ``now``'s sync: replies come after their tick's sync, clears in it."""
        seen = [answer for at, phase, answer in self.answers.get(key, ()) if at < now or (at == now and phase == 0)]
        return bool(seen) and seen[-1] == "decline"

    def title(self, v: Version, now: datetime) -> str:
        initials = self.initials[v.patient]
        if self.s.settings_change_at is not None and now >= self.s.settings_change_at:
            return f"Consulta with {initials}"
        return f"Consulta ({initials})"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
