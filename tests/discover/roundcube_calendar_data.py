"""Rows as Roundcube's calendar plugin writes them with its database driver
(tests/fixtures/ehr/roundcube_calendar, with its SOURCE note), for the test of `discover` on its
real shape: a family practice in Utrecht keeping its appointment book in the webmail's calendar.
Every doctor and the desk are Roundcube ``users`` (the login an email address) with their
``identities`` row (name, email, ``standard`` 1); each doctor has a calendar (``calendars.user_id``
the owner); a visit is an ``events`` row in it: ``start``/``end`` DATETIME in the server's zone
(``DB_DATE_FORMAT``), ``title`` the reason, ``location`` the room, ``status`` the iCalendar word
(or ''), ``attendees`` PHP's ``json_encode`` of the attendee list (the doctor as ORGANIZER, the
patient a REQ-PARTICIPANT with name and email, ``rsvp`` true), ``uid`` a UUID, ``sequence``
raised on a move. Beside the visits: the desk's staff meetings (its own calendar, the doctors as
attendees), doctors' days off (``all_day``, no attendee), a weekly lunch series (``recurrence``),
past visits, and the desk's address book (``contacts``, a vCard each)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "Europe/Amsterdam", "NL"
FIXTURE = real.FIXTURES / "roundcube_calendar" / "schema.sql"
DOCTORS = [("a.visser", "Anouk Visser"), ("m.bakker", "Maarten Bakker"), ("s.elamrani", "Samira El Amrani")]
GIVEN = ["Daan", "Sanne", "Lucas", "Emma", "Bram", "Julia", "Noah", "Fleur", "Sem", "Lotte", "Milan", "Yara"]
FAMILY = ["de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Smit", "Meijer", "de Boer", "Mulder",
          "Bos", "Yilmaz", "Peters"]
REASONS = ["Consult", "Controle bloeddruk", "Griepprik", "Uitslag bespreken", "Kennismaking", "Wondcontrole"]
ROOMS = ["Spreekkamer 1", "Spreekkamer 2", "Behandelkamer"]
STATUS = {"CONFIRMED": "booked", "TENTATIVE": "booked", "": "booked", "CANCELLED": "cancelled"}
DOMAIN = "huisartsen-oost.example"
PATIENTS, VISITS = 44, 84


def _local(moment: datetime) -> str:
    """As the driver writes a date: the server's zone (the clinic's), ``Y-m-d H:i:s``."""
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _attendees(people: list[dict[str, Any]]) -> str:
    """PHP's ``json_encode`` of the list: '/' escaped, non-ASCII as \\u escapes."""
    return json.dumps(people, separators=(",", ":")).replace("/", "\\/")


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(9031)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = _local(now - timedelta(days=300))
    users: dict[str, tuple[int, str, str]] = {}  # login: user id, name, email
    for login, name in (("balie", "Balie Huisartsen Oost"), *DOCTORS):
        email = f"{login}@{DOMAIN}"
        uid = real.insert_row(cursor, "users", {"username": email, "mail_host": "localhost", "created": stamp,
                                        "last_login": _local(now - timedelta(hours=5)), "language": "nl_NL",
                                        "preferences": 'a:1:{s:8:"timezone";s:16:"Europe/Amsterdam";}'})
        real.insert_row(cursor, "identities", {"user_id": uid, "changed": stamp, "del": 0, "standard": 1, "name": name,
                                       "organization": "Huisartsen Oost", "email": email,
                                       "signature": f"{name}\nHuisartsen Oost"})
        users[login] = (uid, name, email)
    calendars = {login: real.insert_row(cursor, "calendars", {"user_id": users[login][0], "name": f"Agenda {name}",
                                                      "color": "cc0000", "showalarms": 1})
                 for login, name in DOCTORS}
    desk = real.insert_row(cursor, "calendars", {"user_id": users["balie"][0], "name": "Praktijk", "color": "0088cc",
                                         "showalarms": 0})
    patients = []
    for p in range(PATIENTS):
        name = f"{GIVEN[p % len(GIVEN)]} {FAMILY[(p * 5) % len(FAMILY)]}"
        email = f"{name.lower().replace(' ', '.')}{p}@mail.example"
        patients.append((name, email))
        if p % 2 == 0:  # the desk's address book: some patients, their mobile in the vCard
            mobile = real.valid_number(rng, "+316", 12)
            real.insert_row(cursor, "contacts", {
                "changed": stamp, "del": 0, "name": name, "email": email, "firstname": name.split(" ", 1)[0],
                "surname": name.split(" ", 1)[1], "user_id": users["balie"][0],
                "vcard": f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{name.split(' ', 1)[1]};{name.split(' ', 1)[0]};;;\r\n"
                         f"FN:{name}\r\nEMAIL;TYPE=INTERNET:{email}\r\nTEL;TYPE=CELL:{mobile}\r\nEND:VCARD",
                "words": f" {name.lower()} {email}"})

    def event(calendar: int, start: datetime, end: datetime, title: str, people: list[dict[str, Any]],
              status: str = "CONFIRMED", location: str = "", all_day: int = 0, recurrence: str | None = None,
              sequence: int = 0) -> int:
        return real.insert_row(cursor, "events", {
            "calendar_id": calendar, "uid": real.seeded_uuid(rng).upper(), "created": _local(now - timedelta(days=20)),
            "changed": _local(now - timedelta(days=2)), "sequence": sequence, "start": _local(start),
            "end": _local(end), "recurrence": recurrence, "title": title, "description": "", "location": location,
            "categories": "", "url": "", "all_day": all_day, "free_busy": 1, "priority": 0, "sensitivity": 0,
            "status": status, "attendees": _attendees(people) if people else "",
            "notifyat": _local(start - timedelta(minutes=15)) if start > now else None})

    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    for n in range(VISITS):
        login, _ = DOCTORS[n % 3]
        _, doctor, doctor_email = users[login]
        past = n % 8 == 7
        day = today + timedelta(days=1 + n // 4) if not past else today - timedelta(days=2 + n // 4)
        start = datetime(day.year, day.month, day.day, 8 + (n % 4) * 2 + n % 3 // 2, (0, 10, 20, 40)[n % 4],
                         tzinfo=clinic)
        minutes = (10, 20, 30)[n % 3]
        name, email = patients[(n * 7) % PATIENTS]
        status = "CANCELLED" if n % 13 == 4 else "TENTATIVE" if n % 17 == 3 else "" if n % 9 == 5 else "CONFIRMED"
        location = ROOMS[n % 3]
        people = [{"name": doctor, "email": doctor_email, "role": "ORGANIZER", "status": "ACCEPTED"},
                  {"name": name, "email": email, "role": "REQ-PARTICIPANT",
                   "status": "ACCEPTED" if n % 3 == 0 else "NEEDS-ACTION", "rsvp": True}]
        event(calendars[login], start, start + timedelta(minutes=minutes), REASONS[n % len(REASONS)], people, status,
              location, sequence=n % 4 // 3)
        if past:
            continue
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=minutes)), "status": STATUS[status], "name": name, "email": email,
            "doctor_name": doctor, "doctor_email": doctor_email, "zone": ZONE, "location": location}
    organizer = {"name": users["balie"][1], "email": users["balie"][2], "role": "ORGANIZER", "status": "ACCEPTED"}
    for w in range(5):  # the desk's staff meeting, every doctor invited (no patient)
        day = today + timedelta(days=7 * w + (1 - today.weekday()) % 7)
        start = datetime(day.year, day.month, day.day, 12, 45, tzinfo=clinic)
        event(desk, start, start + timedelta(minutes=45), "Werkoverleg", [organizer, *(
            {"name": users[d][1], "email": users[d][2], "role": "REQ-PARTICIPANT", "status": "ACCEPTED"}
            for d, _ in DOCTORS)], location="Kantine")
    for d, (login, _) in enumerate(DOCTORS):  # a day off, all day, nobody invited
        day = today + timedelta(days=9 + 4 * d)
        midnight = datetime(day.year, day.month, day.day, tzinfo=clinic)
        event(calendars[login], midnight, midnight + timedelta(hours=23, minutes=59), "Vrij", [], all_day=1)
    first = today + timedelta(days=1)  # the weekly lunch series, nobody invited
    start = datetime(first.year, first.month, first.day, 12, 0, tzinfo=clinic)
    event(desk, start, start + timedelta(minutes=30), "Lunchpauze", [], recurrence="FREQ=WEEKLY;INTERVAL=1;COUNT=8")
    return truth
