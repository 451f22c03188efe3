"""Rows as WebCalendar writes them (tests/fixtures/ehr/webcalendar, with its SOURCE note), for the
test of `discover` on its real shape: a family practice in Boston keeping its appointment book in
WebCalendar. Every person is a ``webcal_user`` row (the doctors, the front desk, and each patient
given a login so the desk can invite them: name, ``cal_telephone`` as the desk typed it, email);
a visit is a ``webcal_entry`` row whose start is kept as two whole numbers, ``cal_date``
YYYYMMDD and ``cal_time`` HHMMSS, both in GMT (``gmdate('Ymd')``/``gmdate('His')`` in
edit_entry_handler.php: 9:05 GMT is 90500, no leading zero), ``cal_time`` -1 for an untimed
entry, ``cal_duration`` minutes, ``cal_create_by`` the login that typed it; its participants
``webcal_entry_user`` rows (the doctor and the patient; ``cal_status`` A accepted, W waiting, R
declined, D deleted: a deleted event keeps its rows, every participant set to D). Beside the
visits: untimed reminders to call a patient back, and two weekly series (``cal_type`` 'M' with a
``webcal_entry_repeats`` row)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.discover import real_ehr_support as real

ZONE, REGION = "America/New_York", "US"
FIXTURE = real.FIXTURES / "webcalendar" / "schema.sql"
DOCTORS = [("rpatel", "Ravi", "Patel"), ("skim", "Sarah", "Kim"), ("dnguyen", "David", "Nguyen")]
GIVEN = ["Emily", "James", "Olivia", "Michael", "Ava", "William", "Sophia", "Daniel", "Grace", "Henry", "Chloe",
         "Lucas"]
FAMILY = ["Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Wilson", "Anderson", "Thomas",
          "Moore", "Jackson", "Martin", "Lee"]
REASONS = ["Follow-up", "Annual physical", "Flu shot", "Lab review", "New patient visit", "BP check"]
ROOMS = ["Exam Room 1", "Exam Room 2", "Exam Room 3"]
STATUS = {"A": "booked", "W": "pending", "R": "cancelled", "D": "cancelled"}
PATIENTS, VISITS = 45, 96


def _typed(e164: str, n: int) -> str:
    """A US number as a front desk types it."""
    area, mid, end = e164[2:5], e164[5:8], e164[8:]
    return (f"({area}) {mid}-{end}", f"{area}-{mid}-{end}", f"{area}.{mid}.{end}", f"+1 {area} {mid} {end}",
            f"{area}{mid}{end}")[n % 5]


def _gmt(moment: datetime) -> tuple[int, int]:
    """``cal_date`` and ``cal_time`` of an instant, as PHP's gmdate('Ymd') and gmdate('His')."""
    utc = moment.astimezone(UTC)
    return int(utc.strftime("%Y%m%d")), int(utc.strftime("%H%M%S"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(cursor: Any) -> dict[str, dict[str, Any]]:
    """The schema from the fixture, filled; per visit ahead (keyed by its UTC start) every field
    the store must hold."""
    real.run_ddl(cursor, FIXTURE)
    rng = random.Random(2207)
    clinic = ZoneInfo(ZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    mod_date, mod_time = _gmt(now - timedelta(days=2))
    doctors = {}
    staff = [("admin", "Office", "Admin", "Y"), ("frontdesk", "Front", "Desk", "N")]
    for login, given, family, admin in [*staff, *((d, g, f, "N") for d, g, f in DOCTORS)]:
        email = f"{login}@riversidefp.example"
        real.insert_row(cursor, "webcal_user", {"cal_login": login, "cal_passwd": "$2y$10$" + "x" * 53,
                                        "cal_firstname": given, "cal_lastname": family, "cal_is_admin": admin,
                                        "cal_email": email, "cal_enabled": "Y", "cal_telephone": "617-555-0100",
                                        "cal_title": "MD" if login not in ("admin", "frontdesk") else None})
        doctors[login] = (f"{given} {family}", email)
    patients = []
    for p in range(PATIENTS):
        given, family = GIVEN[p % len(GIVEN)], FAMILY[(p * 5) % len(FAMILY)]
        login = f"{given[0].lower()}{family.lower()}{p}"
        e164 = real.valid_number(rng, "+1617", 12) if p % 8 != 3 else None
        email = f"{given.lower()}.{family.lower()}{p}@mail.example" if p % 3 else None
        real.insert_row(cursor, "webcal_user", {"cal_login": login, "cal_passwd": None, "cal_firstname": given,
                                        "cal_lastname": family, "cal_is_admin": "N", "cal_email": email,
                                        "cal_enabled": "Y", "cal_telephone": _typed(e164, p) if e164 else None,
                                        "cal_birthday": int(f"19{50 + p}0{1 + p % 9}1{p % 9}")})
        patients.append((login, f"{given} {family}", e164, email))
    truth: dict[str, dict[str, Any]] = {}
    today = now.astimezone(clinic).date()
    cal_id = 0

    def entry(creator: str, start: datetime, minutes: int, name: str, location: str | None, kind: str = "E",
              untimed: bool = False) -> int:
        nonlocal cal_id
        cal_id += 1
        day, clock = _gmt(start)
        real.insert_row(cursor, "webcal_entry", {
            "cal_id": cal_id, "cal_create_by": creator, "cal_date": day if not untimed else int(
                start.strftime("%Y%m%d")), "cal_time": clock if not untimed else -1, "cal_mod_date": mod_date,
            "cal_mod_time": mod_time, "cal_duration": minutes, "cal_priority": 5, "cal_type": kind,
            "cal_access": "P" if cal_id % 7 else "R", "cal_name": name, "cal_location": location,
            "cal_description": "Please arrive 10 minutes early."})
        return cal_id

    def takes_part(event: int, login: str, status: str) -> None:
        real.insert_row(cursor, "webcal_entry_user", {"cal_id": event, "cal_login": login, "cal_status": status,
                                              "cal_category": None, "cal_percent": 0})

    for n in range(VISITS):
        doctor = DOCTORS[n % 3][0]
        past = n % 6 == 5
        day = today + timedelta(days=1 + n // 4) if not past else today - timedelta(days=3 + n // 3)
        start = datetime(day.year, day.month, day.day, 8 + (n % 4) * 2 + n % 3 // 2, (0, 15, 30, 45)[n % 4],
                         tzinfo=clinic)
        minutes = (15, 20, 30)[n % 3]
        login, name, e164, email = patients[(n * 7) % PATIENTS]
        location = ROOMS[n % 3] if n % 5 else None
        event = entry("frontdesk" if n % 4 else doctor, start, minutes, REASONS[n % len(REASONS)], location)
        patient_status = "R" if n % 13 == 6 else "W" if n % 11 == 2 else "A"
        deleted = n % 17 == 9
        takes_part(event, doctor, "D" if deleted else "A")
        takes_part(event, login, "D" if deleted else patient_status)
        if past:
            continue
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=minutes)), "status": STATUS["D" if deleted else patient_status],
            "patient": login, "name": name, "phone": e164, "email": email, "doctor": doctor,
            "doctor_name": doctors[doctor][0], "doctor_email": doctors[doctor][1], "zone": ZONE,
            "location": location}
    for n in range(5):  # untimed: a reminder to call a patient back on a day, no time of day
        day = today + timedelta(days=2 + 3 * n)
        event = entry("frontdesk", datetime(day.year, day.month, day.day, tzinfo=clinic), 0,
                      "Call back re: lab results", None, untimed=True)
        takes_part(event, DOCTORS[n % 3][0], "A")
        takes_part(event, patients[n * 4][0], "A")
    for s, (doctor, hour) in enumerate((("skim", 16), ("dnguyen", 17))):  # weekly series of four
        first = today + timedelta(days=2 + s)
        start = datetime(first.year, first.month, first.day, hour, 30, tzinfo=clinic)
        login, name, e164, email = patients[10 + s]
        event = entry("frontdesk", start, 30, "Physical therapy", "Exam Room 3", kind="M")
        real.insert_row(cursor, "webcal_entry_repeats", {"cal_id": event, "cal_type": "weekly", "cal_frequency": 1,
                                                 "cal_count": 4, "cal_byday": ("MO", "TU", "WE", "TH", "FR",
                                                                               "SA", "SU")[first.weekday()]})
        takes_part(event, doctor, "A")
        takes_part(event, login, "A")
        truth[_iso(start)] = {
            "end": _iso(start + timedelta(minutes=30)), "status": "booked", "patient": login, "name": name,
            "phone": e164, "email": email, "doctor": doctor, "doctor_name": doctors[doctor][0],
            "doctor_email": doctors[doctor][1], "zone": ZONE, "location": "Exam Room 3"}
    return truth
