"""A visit's people as participant rows that refer to a users table and also carry a guest's own
name and email columns, empty for every user (not any product's tables): ``session_people``
(``session_id``, ``person_id`` -> ``people``, ``name``/``email`` NULL unless the guest has no
account, ``invited``). Read as attendee rows by their own columns, every patient had no name and
no email; the rows refer to people with names, so they are read as links to them
(attendees.py): the therapist on each session is staff (the doctor), the other person the
patient, whose name and email come from the people table. On PostgreSQL and MariaDB:
discover --write, sync --once, every visit's patient and doctor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server  # the fixture: an empty database in each of the two servers

DDL = """
CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
  mail VARCHAR(80) NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, title VARCHAR(60), room VARCHAR(40), starts_at {TS} NOT NULL,
  ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL);
CREATE TABLE session_people (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),
  person_id INTEGER REFERENCES people(id), name VARCHAR(80), email VARCHAR(80), invited {BOOL});
"""
GIVEN = ["Ana", "Luis", "Marta", "Jonas", "Eva", "Karim", "Nadia", "Paul", "Sara", "Tomas", "Ines"]
FAMILY = ["Diaz", "Rey", "Novak", "Berg", "Costa", "Haddad", "Ivanova", "Moreau", "Lind"]
STAFF = {1: ("Helen", "Okafor"), 2: ("Pierre", "Lambert"), 3: ("Yuki", "Sato")}


def _fill(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, DDL)
    people = [(s, first, last, f"{first}.{last}@clinic.example".lower()) for s, (first, last) in STAFF.items()]
    people += [(p, GIVEN[p % 11], FAMILY[p % 9], f"{GIVEN[p % 11]}{p}@mail.example".lower()) for p in range(10, 50)]
    cursor.executemany("INSERT INTO people VALUES (%s, %s, %s, %s)", people)
    sessions, links, want = [], [], {}
    true = ehr.TYPES[dialect]["FALSE"] == "false"
    for n, start in enumerate(follow.slots(60, seed=14)):
        staff, p = 1 + n % 3, 10 + (n * 7) % 40
        sessions.append((n + 1, "Therapy", f"Room {staff}", start, start + timedelta(minutes=45), "booked"))
        links += [(2 * n + 1, n + 1, staff, None, None, True if true else 1),
                  (2 * n + 2, n + 1, p, None, None, True if true else 1)]
        first, last = STAFF[staff]
        want[str(n + 1)] = {"status": "booked", "patient": str(p), "name": f"{GIVEN[p % 11]} {FAMILY[p % 9]}",
                            "email": f"{GIVEN[p % 11]}{p}@mail.example".lower(), "doctor": str(staff),
                            "doctor_name": f"{first} {last}", "doctor_email": f"{first}.{last}@clinic.example".lower()}
    cursor.executemany("INSERT INTO sessions VALUES (%s, %s, %s, %s, %s, %s)", sessions)
    cursor.executemany("INSERT INTO session_people VALUES (%s, %s, %s, %s, %s, %s)", links)
    return want


def test_the_person_a_participant_row_names_is_the_patient(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    want, _, found = follow.built_and_synced(server, _fill, tmp_path, cli)
    assert follow.wrong(found, want, ["status", "patient", "name", "email", "doctor", "doctor_name",
                                      "doctor_email"]) == {}
