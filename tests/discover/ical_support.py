"""Synthetic doctors' diaries kept as iCalendar text, as a CalDAV server stores them (one event
a row, the whole object in a text or blob column): the events of three doctors' calendars with
every form a client writes (a TZID's wall clock in the clinic's zone and in another, a UTC time
with a trailing Z and a DURATION, a floating time, a cancelled and a tentative one, attendees with
and without CN, one reached by phone, the doctor listed as chair), beside what must be set aside
(an all-day day off, a task), a weekly series with a date taken out, a moved and a cancelled
occurrence (a visit an occurrence), and what the store must then hold of each visit."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Berlin", "DE"
OTHER_ZONE = "Europe/London"
DOCTORS = [("principals/users/anna.weber", "Dr. Anna Weber", "anna.weber@praxis-mitte.example"),
           ("principals/users/jonas.keller", "Dr. Jonas Keller", "jonas.keller@praxis-mitte.example"),
           ("principals/users/mira.yilmaz", "Dr. Mira Yilmaz", "mira.yilmaz@praxis-mitte.example")]
GIVEN = ["Lena", "Paul", "Emma", "Felix", "Sofia", "Noah", "Mia", "Elias", "Hannah", "Luca", "Aylin", "Tom"]
FAMILY = ["Schneider", "Fischer", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Wolf", "Demir"]
ROOMS = ["Sprechzimmer 1", "Sprechzimmer 2", "Labor"]
VISITS = 50
PAST = 8


@dataclass
class Row:
    """One stored calendar object and the plain columns a CalDAV server keeps beside it."""

    id: int
    calendar: int
    text: str
    first: int | None
    last: int | None
    modified: int
    kind: str = "VEVENT"

    @property
    def uid(self) -> str:
        return f"{self.id:04d}-{uuid.UUID(int=self.id).hex[:12]}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _object(lines: list[str]) -> str:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//IDN nextcloud.com//Calendar app 4.7.6//EN",
            "CALSCALE:GREGORIAN", "BEGIN:VEVENT", *lines, "END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(body) + "\r\n"


def build(rng: random.Random | None = None) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """The rows and, per visit id (the row's key as text), every field the store must hold."""
    rng = rng or random.Random(5545)
    clinic, other = ZoneInfo(ZONE), ZoneInfo(OTHER_ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(clinic).date()
    rows: list[Row] = []
    truth: dict[str, dict[str, Any]] = {}
    for n in range(VISITS + PAST):
        past = n >= VISITS
        day = today + timedelta(days=(2 + n % 40) if not past else -(20 + n))
        calendar = 1 + n % 3
        uri, doctor_name, doctor_email = DOCTORS[calendar - 1]
        form = ("z" if n % 10 == 3 else "floating" if n % 10 == 5 else "other" if n % 10 == 7 else "tzid")
        zone = other if form == "other" else clinic
        local = datetime(day.year, day.month, day.day, 8 + n % 9, 15 * (n % 4), tzinfo=zone)
        length = (15, 20, 30, 45)[n % 4]
        end = local + timedelta(minutes=length)
        uid = f"{n:04d}-{uuid.UUID(int=n + 1).hex[:12]}"
        lines = [f"UID:{uid}", f"DTSTAMP:{_stamp(now)}", f"CREATED:{_stamp(now - timedelta(days=30))}",
                 f"LAST-MODIFIED:{_stamp(now - timedelta(days=n % 9))}", f"SEQUENCE:{n % 3}"]
        if form == "z":
            lines += [f"DTSTART:{_stamp(local)}", f"DURATION:PT{length}M"]
        elif form == "floating":
            lines += [f"DTSTART:{_wall(local)}", f"DTEND:{_wall(end)}"]
        else:
            lines += [f"DTSTART;TZID={zone.key}:{_wall(local)}", f"DTEND;TZID={zone.key}:{_wall(end)}"]
        word = "CANCELLED" if n % 12 == 4 else "TENTATIVE" if n % 9 == 2 else None if n % 5 == 1 else "CONFIRMED"
        if word:
            lines.append(f"STATUS:{word}")
        given, family = GIVEN[(n * 7) % len(GIVEN)], FAMILY[(n * 5) % len(FAMILY)]
        lines.append(f"SUMMARY:{given} {family} - Kontrolle")
        location = ROOMS[n % 3] if n % 4 != 1 else None
        if location:
            lines.append(f"LOCATION:{location}")
        lines.append(f"ORGANIZER;CN={doctor_name}:mailto:{doctor_email}")
        if n % 3 == 0:  # the calendar app lists the organizer too, as chair
            lines.append(f"ATTENDEE;CN={doctor_name};CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=CHAIR:"
                         f"mailto:{doctor_email}")
        email = phone = name = None
        if n == 20:  # a diary entry with no attendee: no patient
            pass
        elif n % 11 == 6:  # a patient reached by phone only
            phone = f"+49151{rng.randrange(10**7, 10**8)}"
            name = f"{given} {family}"
            lines.append(f"ATTENDEE;CN={name};CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT:tel:{phone}")
        else:
            email = f"{given.lower()}.{family.lower()}{n}@mail.example"
            name = f"{given} {family}" if n % 4 != 0 else None
            cn = f"CN={name};" if name else ""
            lines.append(f"ATTENDEE;{cn}CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:"
                         f"mailto:{email}")
        if n % 7 == 3:  # a room booked as a resource: never the patient
            lines.append("ATTENDEE;CN=Ultraschall;CUTYPE=RESOURCE;PARTSTAT=ACCEPTED:mailto:ultraschall@praxis.example")
        row_id = 100 + n
        rows.append(Row(row_id, calendar, _object(lines), int(local.timestamp()), int(end.timestamp()),
                        int((now - timedelta(days=n % 9)).timestamp())))
        if past:
            continue
        truth[str(row_id)] = {
            "start": local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": {"CANCELLED": "cancelled", "TENTATIVE": "pending"}.get(word or "", "booked"),
            "patient": email or phone, "name": name, "phone": phone, "email": email,
            "doctor": uri, "doctor_name": doctor_name, "doctor_email": doctor_email,
            "zone": OTHER_ZONE if form == "other" else ZONE, "location": location}
    others, series_truth = _set_aside(now, today, clinic, len(rows))
    rows += others
    truth.update(series_truth)
    return rows, truth


def _weekly(now: datetime, series: datetime, uid: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """A weekly series of six (COUNT) in the clinic's zone, the doctor's calendar its owner's: the
    third taken out (EXDATE), the fourth moved to the next day at 11:00 and the fifth cancelled
    (overrides by RECURRENCE-ID, in the same object as a calendar client stores them); and the
    truth of each occurrence, by its id (the UID and its original start in UTC)."""
    uri, doctor_name, doctor_email = DOCTORS[1]
    patient = ["LOCATION:Sprechzimmer 2", f"ORGANIZER;CN={doctor_name}:mailto:{doctor_email}",
               "ATTENDEE;CN=Karl Braun;PARTSTAT=ACCEPTED:mailto:karl.braun@mail.example"]
    week = [(series.replace(tzinfo=None) + timedelta(weeks=n)).replace(tzinfo=series.tzinfo) for n in range(6)]
    moved = week[3].replace(hour=11) + timedelta(days=1)
    master = [f"UID:{uid}", f"DTSTAMP:{_stamp(now)}", f"DTSTART;TZID={ZONE}:{_wall(series)}",
              f"DTEND;TZID={ZONE}:{_wall(series + timedelta(minutes=30))}", "RRULE:FREQ=WEEKLY;COUNT=6",
              f"EXDATE;TZID={ZONE}:{_wall(week[2])}", "SUMMARY:Physiotherapie Karl Braun", *patient]
    overrides = [[f"UID:{uid}", f"DTSTAMP:{_stamp(now)}", f"RECURRENCE-ID;TZID={ZONE}:{_wall(week[3])}",
                  f"DTSTART;TZID={ZONE}:{_wall(moved)}", f"DTEND;TZID={ZONE}:{_wall(moved + timedelta(minutes=30))}",
                  "SEQUENCE:1", "SUMMARY:Physiotherapie Karl Braun", *patient],
                 [f"UID:{uid}", f"DTSTAMP:{_stamp(now)}", f"RECURRENCE-ID;TZID={ZONE}:{_wall(week[4])}",
                  f"DTSTART;TZID={ZONE}:{_wall(week[4])}",
                  f"DTEND;TZID={ZONE}:{_wall(week[4] + timedelta(minutes=30))}", "STATUS:CANCELLED",
                  "SEQUENCE:1", "SUMMARY:Physiotherapie Karl Braun", *patient]]
    text = _object(master).replace("END:VCALENDAR\r\n", "".join(
        "BEGIN:VEVENT\r\n" + "\r\n".join(o) + "\r\nEND:VEVENT\r\n" for o in overrides) + "END:VCALENDAR\r\n")
    truth: dict[str, dict[str, Any]] = {}
    for n, original in enumerate(week):
        if n == 2:
            continue
        start = moved if n == 3 else original
        truth[f"{uid}/{_stamp(original)}"] = {
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(minutes=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "cancelled" if n == 4 else "booked", "patient": "karl.braun@mail.example",
            "name": "Karl Braun", "phone": None, "email": "karl.braun@mail.example", "doctor": uri,
            "doctor_name": doctor_name, "doctor_email": doctor_email, "zone": ZONE, "location": "Sprechzimmer 2"}
    return text, truth


def _set_aside(now: datetime, today: Any, clinic: ZoneInfo, count: int
               ) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """A day off (all-day) and a task, never a visit; a weekly series, a visit an occurrence."""
    off = today + timedelta(days=9)
    series = datetime(off.year, off.month, off.day, 7, 30, tzinfo=clinic)
    day_off = _object([f"UID:off-{count}", f"DTSTAMP:{_stamp(now)}", f"DTSTART;VALUE=DATE:{off:%Y%m%d}",
                       f"DTEND;VALUE=DATE:{off + timedelta(days=1):%Y%m%d}", "SUMMARY:Urlaub",
                       "TRANSP:TRANSPARENT"])
    weekly, truth = _weekly(now, series, f"series-{count}")
    task = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Nextcloud Tasks v0.16.1\r\nBEGIN:VTODO\r\n"
            f"UID:todo-{count}\r\nDTSTAMP:{_stamp(now)}\r\nSUMMARY:Befunde abzeichnen\r\nEND:VTODO\r\n"
            "END:VCALENDAR\r\n")
    midnight = int(datetime(off.year, off.month, off.day, tzinfo=clinic).timestamp())
    modified = int(now.timestamp())
    return [Row(900, 1, day_off, midnight, midnight + 86_400, modified),
            Row(901, 2, weekly, int(series.timestamp()), int((series + timedelta(weeks=5, minutes=30)).timestamp()),
                modified),
            Row(902, 3, task, None, None, modified, "VTODO")], truth


def etag(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def scores(found: dict[str, dict[str, Any]], truth: dict[str, dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(fields right, fields compared, the wrong ones as visit:field) over every field of every visit."""
    wrong = [f"{k}:{f}" for k, t in truth.items() for f, v in real.stored_fields(found.get(k)).items()
             if f in t and (k not in found or v != t[f])]  # a visit not stored has no field right
    total = sum(len(t) for t in truth.values())
    return total - len(wrong), total, wrong
