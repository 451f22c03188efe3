"""Visits whose times are kept as NUMBERS, schemas built here from each class (not a product's
tables), in both servers:

- a day written as the digits YYYYMMDD and a clock as HHMMSS in two INTEGER columns, -1 for an
  entry with no time of day: the start read from both (``time_unit: hhmmss``), the window on the
  day's digits, the untimed rows left out of the query (never imported at midnight);
- a start and an end as Unix seconds in INTEGER columns: the window on the seconds themselves
  (binds in UTC, made seconds), so rows long past are never read;
- a repeating booking kept as a series row and one row per occurrence naming it (``repeat_id``),
  booked in a room that owns the calendar: the occurrences are the visits (never the series'
  first starts), the room's email is the doctor's and its area the place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow
from tests.discover import sql_support as data

server = ehr.server

PEOPLE = """
CREATE TABLE patient (patient_no INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  cell_phone VARCHAR(30), email VARCHAR(80));
CREATE TABLE doctor (doctor_no INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), email VARCHAR(80));
"""
DOCTORS = {7: ("Ana", "Ruiz", "a.ruiz@clinic.example.org"), 8: ("Ben", "Okoro", "b.okoro@clinic.example.org")}


def _people(cursor: Any) -> None:
    for number, (first, last, email) in DOCTORS.items():
        cursor.execute("INSERT INTO doctor VALUES (%s, %s, %s, %s)", (number, first, last, email))
    for p in range(1, 31):
        cursor.execute("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                       (p, f"Given{p}", f"Family{p}", f"+1 917 555 {p:04d}", f"given{p}@mail.example.org"))


def _want(n: int, patient: int, doctor: int, status: str) -> dict[str, Any]:
    first, last, email = DOCTORS[doctor]
    return {"status": status, "patient": str(patient), "name": f"Given{patient} Family{patient}",
            "phone": f"+1917555{patient:04d}", "email": f"given{patient}@mail.example.org",
            "doctor": str(doctor), "doctor_name": f"{first} {last}", "doctor_email": email}


def _digits(cursor: Any, dialect: str) -> tuple[follow.Want, dict[str, str]]:
    follow.create(cursor, dialect, PEOPLE + """;
CREATE TABLE visit (visit_no INTEGER PRIMARY KEY, visit_date INTEGER NOT NULL, visit_time INTEGER,
  duration INTEGER NOT NULL, patient_no INTEGER, doctor_no INTEGER, status VARCHAR(12))""")
    _people(cursor)
    want, starts = {}, {}
    for n, start in enumerate(follow.slots(60, seed=41), 1):
        patient, doctor = 1 + (n * 7) % 30, 7 + n % 2
        status = "cancelled" if n % 9 == 0 else "booked"
        cursor.execute("INSERT INTO visit VALUES (%s, %s, %s, 20, %s, %s, %s)",
                       (n, int(start.strftime("%Y%m%d")), int(start.strftime("%H%M%S")), patient, doctor, status))
        want[str(n)] = _want(n, patient, doctor, status)
        starts[str(n)] = data.utc(start, follow.ZONE)
    for n in range(61, 66):  # a day with no time: a call to return, a note on the day
        day = datetime.now().date() + timedelta(days=n - 55)
        cursor.execute("INSERT INTO visit VALUES (%s, %s, -1, 0, %s, 7, 'booked')", (n, int(f"{day:%Y%m%d}"), n - 60))
    return want, starts


def test_a_day_as_yyyymmdd_and_a_clock_as_hhmmss(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    (want, starts), fields, found = follow.built_and_synced(server, _digits, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert fields["start"] == {"date": "visit_date", "time": "visit_time", "time_unit": "hhmmss"}, fields
    assert "a.visit_date BETWEEN CAST(EXTRACT(YEAR FROM" in connector["query"], connector["query"]
    assert "a.visit_time >= 0" in connector["query"], connector["query"]
    assert set(found) == set(want), sorted(set(found) ^ set(want))  # no untimed row at midnight
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}
    assert {k: v["start"] for k, v in found.items()} == starts


def _seconds(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, PEOPLE + """;
CREATE TABLE booking (booking_id INTEGER PRIMARY KEY, start_time INTEGER NOT NULL, end_time INTEGER NOT NULL,
  patient_no INTEGER, doctor_no INTEGER, status VARCHAR(12))""")
    _people(cursor)
    zone, want = ZoneInfo(follow.ZONE), {}
    for n, start in enumerate(follow.slots(40, seed=43), 1):
        patient, doctor = 1 + (n * 7) % 30, 7 + n % 2
        begin = int(start.replace(tzinfo=zone).timestamp())
        cursor.execute("INSERT INTO booking VALUES (%s, %s, %s, %s, %s, 'booked')",
                       (n, begin, begin + 1800, patient, doctor))
        want[str(n)] = _want(n, patient, doctor, "booked")
    long_ago = int((datetime.now(UTC) - timedelta(days=400)).timestamp())
    for n in range(41, 81):  # a year's bookings past: outside the window, never read
        cursor.execute("INSERT INTO booking VALUES (%s, %s, %s, %s, 7, 'booked')",
                       (n, long_ago + 3600 * n, long_ago + 3600 * n + 1800, 1 + n % 30))
    return want


def test_unix_seconds_are_windowed(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, fields, found = follow.built_and_synced(server, _seconds, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert fields["start"] == {"from": "start_time", "type": "unix_seconds"}, fields
    assert "a.start_time BETWEEN " in connector["query"] and connector["window"] == {"timezone": "UTC"}, connector
    assert set(found) == set(want), sorted(set(found) ^ set(want))[:5]
    assert follow.wrong(found, want, follow.PEOPLE_FIELDS) == {}


def _series(cursor: Any, dialect: str) -> tuple[follow.Want, set[str]]:
    follow.create(cursor, dialect, """
CREATE TABLE patient (patient_no INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  cell_phone VARCHAR(30), email VARCHAR(80));
CREATE TABLE area (area_id INTEGER PRIMARY KEY, area_name VARCHAR(60) NOT NULL);
CREATE TABLE room (room_id INTEGER PRIMARY KEY, area_id INTEGER NOT NULL REFERENCES area(area_id),
  room_name VARCHAR(60) NOT NULL, contact VARCHAR(80));
CREATE TABLE repeat_rule (repeat_id INTEGER PRIMARY KEY, start_at {TS} NOT NULL, end_at {TS} NOT NULL,
  repeat_kind VARCHAR(10) NOT NULL, last_day DATE, room_id INTEGER NOT NULL REFERENCES room(room_id),
  patient_no INTEGER NOT NULL REFERENCES patient(patient_no), status VARCHAR(12));
CREATE TABLE entry (entry_id INTEGER PRIMARY KEY, start_at {TS} NOT NULL, end_at {TS} NOT NULL,
  repeat_id INTEGER REFERENCES repeat_rule(repeat_id), room_id INTEGER NOT NULL REFERENCES room(room_id),
  patient_no INTEGER NOT NULL REFERENCES patient(patient_no), status VARCHAR(12))""")
    for p in range(1, 31):
        cursor.execute("INSERT INTO patient VALUES (%s, %s, %s, %s, %s)",
                       (p, f"Given{p}", f"Family{p}", f"+1 917 555 {p:04d}", f"given{p}@mail.example.org"))
    cursor.execute("INSERT INTO area VALUES (1, 'Riverside Health Center')")
    rooms = {1: ("Dr. Ana Ruiz", "a.ruiz@clinic.example.org"), 2: ("Dr. Ben Okoro", "b.okoro@clinic.example.org")}
    for room, (name, email) in rooms.items():
        cursor.execute("INSERT INTO room VALUES (%s, 1, %s, %s)", (room, name, email))
    want: follow.Want = {}
    booking = 0
    slots = follow.slots(36, seed=47)
    for s in range(6):  # six weekly series of three sessions (every session a booking row)
        first, room, patient = slots[s], 1 + s % 2, 1 + s
        cursor.execute("INSERT INTO repeat_rule VALUES (%s, %s, %s, 'weekly', %s, %s, %s, 'booked')",
                       (s + 1, first, first + timedelta(minutes=30), (first + timedelta(weeks=2)).date(), room,
                        patient))
        for week in range(3):
            booking += 1
            at = first + timedelta(weeks=week)
            cursor.execute("INSERT INTO entry VALUES (%s, %s, %s, %s, %s, %s, 'booked')",
                           (booking, at, at + timedelta(minutes=30), s + 1, room, patient))
            want[str(booking)] = {"status": "booked", "patient": str(patient), "doctor": str(room),
                                  "doctor_name": rooms[room][0], "doctor_email": rooms[room][1]}
    for start in slots[6:]:  # single bookings
        booking += 1
        room, patient = 1 + booking % 2, 1 + booking % 30
        cursor.execute("INSERT INTO entry VALUES (%s, %s, %s, NULL, %s, %s, 'booked')",
                       (booking, start, start + timedelta(minutes=20), room, patient))
        want[str(booking)] = {"status": "booked", "patient": str(patient), "doctor": str(room),
                              "doctor_name": rooms[room][0], "doctor_email": rooms[room][1]}
    return want, set(want)


def test_a_series_row_gives_way_to_its_occurrences_booked_in_a_room(server: ehr.Server, tmp_path: Path,
                                                                     cli: Any) -> None:
    (want, ids), fields, found = follow.built_and_synced(server, _series, tmp_path, cli)
    connector = yaml.safe_load((tmp_path / "settings.yaml").read_text(encoding="utf-8"))["connectors"][0]
    assert "FROM entry AS a" in connector["query"], connector["query"]
    assert set(found) == ids, sorted(set(found) ^ ids)[:5]
    assert follow.wrong(found, want, ("status", "patient", "doctor", "doctor_name", "doctor_email")) == {}
    assert {v["location"] for v in found.values()} == {"Riverside Health Center"}, fields
