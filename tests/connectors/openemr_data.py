"""OpenEMR's real table definitions (tests/fixtures/third_party/openemr) loaded
into a MariaDB test database, plus a small clinic: appointments of every apptstat
status, provider and clinic blocks that are not appointments, and patients without a
phone or without consent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import pymysql
import sqlparse

SCHEMA = Path("openemr") / "openemr_appointment_schema.sql"
STATUS_CODES = ["-", "*", "+", "x", "?", "@", "~", "!", "#", "<", ">", "$", "%", "^", "AVM", "SMS", "EMAIL",
                "CALL"]
EXPECTED_STATUS = {
    "-": "booked", "*": "booked", "+": "booked", "x": "cancelled", "?": "noshow", "@": "arrived",
    "~": "arrived", "!": "noshow", "#": "booked", "<": "checked-in", ">": "fulfilled", "$": "fulfilled",
    "%": "cancelled", "^": "pending", "AVM": "booked", "SMS": "booked", "EMAIL": "booked", "CALL": "booked",
}
# Categories (pc_catid) of the fixture: 5 Office Visit, 9 Established Patient, 10 New Patient
# (pc_cattype 0); 2 In Office, 3 Out Of Office, 4 Vacation, 8 Lunch, 11 Reserved (1: provider);
# 6 Holidays, 7 Closed (2: clinic); 15 Group Therapy (3).
PATIENT_CATEGORIES = (5, 9, 10)
BLOCK_CATEGORIES = (2, 3, 4, 8, 11, 6, 7, 15)


@dataclass(frozen=True)
class Appointment:
    eid: int
    pid: int
    aid: int
    day: date
    start: time
    end: time | None
    duration: int  # seconds
    status: str
    category: int
    facility: int = 3


def connect(database: dict[str, Any]) -> pymysql.Connection:  # type: ignore[type-arg]
    return pymysql.connect(host=database["host"], port=database["port"], user=database["user"],
                           password=database["password"], database=database["database"], autocommit=True)


def load_schema(connection: pymysql.Connection, shared_fixtures: Path) -> None:  # type: ignore[type-arg]
    """Run OpenEMR's own DDL and INSERTs statement by statement."""
    text = (shared_fixtures / SCHEMA).read_text(encoding="utf-8")
    with connection.cursor() as cursor:
        for statement in sqlparse.split(text):
            if sqlparse.format(statement, strip_comments=True).strip():
                cursor.execute(statement)


def clinic_appointments(year: int) -> list[Appointment]:
    """One appointment per apptstat code, in summer (EDT) and winter (EST) of ``year``."""
    out = []
    for index, code in enumerate(STATUS_CODES):
        summer = index % 2 == 0
        day = date(year, 7, 6 + index) if summer else date(year, 1, 6 + index)
        start = time(9 + index % 8, 30 if index % 3 else 0)
        end = None if index == 5 else time(start.hour, start.minute + 20)  # one relies on pc_duration
        out.append(Appointment(eid=100 + index, pid=1 + index % 4, aid=5 + index % 2, day=day, start=start,
                               end=end, duration=1200, status=code,
                               category=PATIENT_CATEGORIES[index % 3], facility=0 if index == 7 else 3))
    return out


def insert_clinic(connection: pymysql.Connection, year: int) -> list[Appointment]:  # type: ignore[type-arg]
    appointments = clinic_appointments(year)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO facility (id, name) VALUES (3, 'Main Street Clinic')")
        cursor.executemany(
            "INSERT INTO users (id, username, fname, lname, email, authorized, calendar) "
            "VALUES (%s, %s, %s, %s, %s, 1, 1)",
            [(5, "alovelace", "Ada", "Lovelace", "ada@clinic.example"),
             (6, "bhopper", "Grace", "Hopper", "grace@clinic.example")])
        cursor.executemany(
            "INSERT INTO patient_data (pid, pubpid, fname, lname, phone_cell, email, language, hipaa_allowsms, "
            "hipaa_allowemail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(1, "1", "Alice", "Arden", "(617) 253-1000", "alice@example.org", "spanish", "YES", "YES"),
             (2, "2", "Bruno", "Bell", "", "bruno@example.org", "", "NO", "YES"),   # no phone
             (3, "3", "Chen", "Cruz", "(212) 555-0142", "", "declne_to_specfy", "NO", "NO"),  # no consent
             (4, "4", "Dana", "Diaz", "none", "", "english", "YES", "NO")])  # unusable phone
        rows = [(a.eid, a.category, str(a.aid), str(a.pid), "visit", a.day, a.duration, a.start, a.end,
                 a.status, a.facility, 0) for a in appointments]
        day = date(year, 7, 1)
        # Blocks carry no patient ('' or '0') — except one whose category was changed to a
        # provider block after it was booked for patient 1: the category alone decides.
        blocks = [(200 + i, category, "5", ("1", "", "0")[min(i, 1 + i % 2)], "block", day, 3600, time(12),
                   time(13), "-", 3, 0) for i, category in enumerate(BLOCK_CATEGORIES)]
        old = [(300, 5, "5", "1", "long ago", date(year - 3, 7, 1), 900, time(9), time(9, 15), ">", 3, 0)]
        recurring = [(301, 5, "5", "2", "weekly", date(year, 7, 2), 900, time(9), time(9, 15), "-", 3, 1)]
        cursor.executemany(
            "INSERT INTO openemr_postcalendar_events (pc_eid, pc_catid, pc_aid, pc_pid, pc_title, pc_eventDate, "
            "pc_duration, pc_startTime, pc_endTime, pc_apptstatus, pc_facility, pc_recurrtype, pc_multiple, "
            "pc_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, NOW())",
            rows + blocks + old + recurring)
    return appointments
