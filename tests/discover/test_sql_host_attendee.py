"""A groupware event's attendee rows, built here on the real PostgreSQL and MariaDB: the host (the
doctor whose calendar it is) is an attendee row of every event too, written first (a lower key
than the patient's), marked by a flag (BOOLEAN, TINYINT(1)) whose name says nothing discover knows (``is_lead``);
each attendee row carries a ``last_modified`` text stamp; the doctor is the calendar's user,
whose row holds a ``sort_name`` preference ('first_name') beside the ``display_name``. The patient
must be the first attendee that is no host, named by its own name (never with the stamp), and the
doctor named by the display name (never the preference)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server
DDL = """
CREATE TABLE app_users (user_id INTEGER PRIMARY KEY, login VARCHAR(40) NOT NULL, display_name VARCHAR(80) NOT NULL,
  sort_name VARCHAR(20) NOT NULL, email VARCHAR(80) NOT NULL);
CREATE TABLE diaries (diary_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES app_users(user_id),
  title VARCHAR(80));
CREATE TABLE entries (entry_id INTEGER PRIMARY KEY, diary_id INTEGER NOT NULL REFERENCES diaries(diary_id),
  begins {TS} NOT NULL, finishes {TS} NOT NULL, state VARCHAR(20) NOT NULL, created {TS} NOT NULL);
CREATE TABLE entry_attendees (attendee_id INTEGER PRIMARY KEY,
  entry_id INTEGER NOT NULL REFERENCES entries(entry_id), name VARCHAR(80), email VARCHAR(80),
  is_lead {BOOL} NOT NULL DEFAULT {FALSE}, last_modified VARCHAR(20) NOT NULL DEFAULT '')
"""
DOCTORS = {1: ("Dr. Sara Lind", "lind@clinic.example.org"), 2: ("Dr. Omar Haddad", "haddad@clinic.example.org")}


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    stamp = follow.stamp()
    for user, (name, email) in DOCTORS.items():
        cursor.execute("INSERT INTO app_users VALUES (%s, %s, %s, 'first_name', %s)",
                       (user, name.split()[-1].lower(), name, email))
        cursor.execute("INSERT INTO diaries VALUES (%s, %s, %s)", (user, user, name))
    want: follow.Want = {}
    attendee = 0
    for n, start in enumerate(follow.slots(50, seed=41), 1):
        doctor = 1 + n % 2
        cursor.execute("INSERT INTO entries VALUES (%s, %s, %s, %s, %s, %s)",
                       (n, doctor, start, start + timedelta(minutes=30), "confirmed", stamp))
        name, email = DOCTORS[doctor]
        attendee += 1
        cursor.execute("INSERT INTO entry_attendees VALUES (%s, %s, %s, %s, %s, %s)",
                       (attendee, n, name, email, True, "20261101T080000Z"))
        patient = 1 + (n * 7) % 23
        attendee += 1
        cursor.execute("INSERT INTO entry_attendees VALUES (%s, %s, %s, %s, %s, %s)",
                       (attendee, n, f"Ana Kim{patient}", f"ana.kim{patient}@mail.example.org", False,
                        "20261101T080000Z"))
        want[str(n)] = {"name": f"Ana Kim{patient}", "email": f"ana.kim{patient}@mail.example.org",
                        "doctor_name": name, "doctor_email": email}
    return want


def test_the_host_attendee_is_not_the_patient(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, _, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert follow.wrong(found, want, ["name", "email", "doctor_name", "doctor_email"]) == {}
