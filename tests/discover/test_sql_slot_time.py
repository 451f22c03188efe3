"""Classes a visit table that books a slot brings to `discover` (its real shape:
test_real_openmrs_apptsched.py), each on a small MariaDB schema of other names, with the
look-alike that must not be taken for it: the visit row holds no time, its start and end are on
the slot it books (the slot, the slot's session and a request for a visit, each with dates and
people of their own, are not the visits; who entered a row is no person the row is about); the
doctor is the practitioner row the slot's session names, whose name is on the person it refers
to in a names table (the request's practitioner is not the visit's); a word made of an ending
status and a task still to do, and a walk-in, read as what they are."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.statuses import status_word
from tests.discover import sql_support as data

ZONE = "Europe/Lisbon"
VISITS = 40
DDL = """
CREATE TABLE staff_logins (id INT PRIMARY KEY, login VARCHAR(30));
CREATE TABLE people (id INT PRIMARY KEY, born DATE);
CREATE TABLE people_names (id INT PRIMARY KEY, person_id INT NOT NULL, first_name VARCHAR(40), last_name VARCHAR(40),
  FOREIGN KEY (person_id) REFERENCES people (id));
CREATE TABLE practitioners (id INT PRIMARY KEY, person_id INT NULL, name VARCHAR(80) NULL,
  FOREIGN KEY (person_id) REFERENCES people (id));
CREATE TABLE clients (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(20));
CREATE TABLE sessions (id INT PRIMARY KEY, practitioner_id INT, opens DATETIME, closes DATETIME,
  created_by INT, FOREIGN KEY (practitioner_id) REFERENCES practitioners (id),
  FOREIGN KEY (created_by) REFERENCES staff_logins (id));
CREATE TABLE slots (id INT PRIMARY KEY, session_id INT NOT NULL, start_at DATETIME NOT NULL, end_at DATETIME NOT NULL,
  created_by INT, changed_by INT, FOREIGN KEY (session_id) REFERENCES sessions (id),
  FOREIGN KEY (created_by) REFERENCES staff_logins (id), FOREIGN KEY (changed_by) REFERENCES staff_logins (id));
CREATE TABLE booking_requests (id INT PRIMARY KEY, client_id INT NOT NULL, practitioner_id INT, asked_on DATETIME,
  status VARCHAR(20), FOREIGN KEY (client_id) REFERENCES clients (id),
  FOREIGN KEY (practitioner_id) REFERENCES practitioners (id));
CREATE TABLE bookings (id INT PRIMARY KEY, slot_id INT NOT NULL, client_id INT NOT NULL, status VARCHAR(40) NOT NULL,
  created_at DATETIME NOT NULL, changed_at DATETIME NULL,
  FOREIGN KEY (slot_id) REFERENCES slots (id), FOREIGN KEY (client_id) REFERENCES clients (id))
"""


def _fill(database: dict[str, Any], named: bool = True) -> None:
    """Three practitioners (named through their person's names row unless not ``named``), a
    slot per visit in its practitioner's session, one booking per slot."""
    now = datetime.now().replace(microsecond=0)
    connection = data.mysql(database)
    try:
        with connection.cursor() as cursor:
            for statement in DDL.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            cursor.executemany("INSERT INTO staff_logins VALUES (%s, %s)", [(1, "desk"), (2, "admin")])
            cursor.executemany("INSERT INTO people VALUES (%s, '1970-01-01')", [(h,) for h in range(1, 4)])
            cursor.executemany("INSERT INTO people_names VALUES (%s, %s, %s, %s)",
                               [(h, h, f"Ana{h}", f"Costa{h}") for h in range(1, 4)])
            cursor.executemany("INSERT INTO practitioners VALUES (%s, %s, NULL)",
                               [(d, d if named else None) for d in range(1, 4)])
            cursor.executemany("INSERT INTO clients VALUES (%s, %s, %s)",
                               [(c, f"Client {c}", f"91{c:07d}") for c in range(1, 21)])
            sessions, slots, bookings = [], [], []
            for n in range(1, VISITS + 1):
                start = now.replace(hour=9, minute=0, second=0) + timedelta(days=1 + n, minutes=20 * (n % 6))
                sessions.append((n, 1 + n % 3, start.replace(hour=8), start.replace(hour=18), 1))
                slots.append((n, n, start, start + timedelta(minutes=20), 1, 2))
                made = now - timedelta(hours=VISITS - n)
                bookings.append((n, n, 1 + n % 20, "booked", made, None))
            cursor.executemany("INSERT INTO sessions VALUES (%s, %s, %s, %s, %s)", sessions)
            cursor.executemany("INSERT INTO slots VALUES (%s, %s, %s, %s, %s, %s)", slots)
            cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s)", bookings)
            cursor.executemany("INSERT INTO booking_requests VALUES (%s, %s, %s, %s, 'open')",
                               [(r, 1 + r % 20, 1 + (r + 1) % 3, now - timedelta(days=r)) for r in range(1, 31)])
    finally:
        connection.close()


def _proposal(database: dict[str, Any]) -> Any:
    return discover_sql(str(database["url"]), name="slots", timezone=ZONE, region="PT", stored_times="local")


@pytest.mark.mariadb
def test_the_visits_are_the_rows_that_book_a_slot_and_their_doctor_the_sessions(
        mariadb_database: dict[str, Any]) -> None:
    _fill(mariadb_database)
    proposal = _proposal(mariadb_database)
    fields, query = proposal.mapping["fields"], proposal.connector["query"]
    assert "FROM bookings AS a" in query, query
    assert query.split(f" AS {fields['start']['from']}")[0].endswith(".start_at"), query  # the slot's start
    assert query.split(f" AS {fields['end']['from']}")[0].endswith(".end_at"), query
    # the session's practitioner, not the request's: its id, its name on its person's names row
    doctor = query.split(f".id AS {fields['practitioner.external_id']['from']}")[0].rsplit(" ", 1)[-1]
    assert f"JOIN practitioners AS {doctor} ON {doctor}.id = " in query and "JOIN sessions AS" in query, query
    assert "booking_requests" not in query
    assert fields["practitioner.name"] == {"concat": ["doctor_first_name", "doctor_last_name"]}
    assert "JOIN people_names AS" in query


@pytest.mark.mariadb
def test_a_practitioner_without_a_person_names_nobody(mariadb_database: dict[str, Any]) -> None:
    """Its empty name column is not placed, and no other table's practitioner stands in."""
    _fill(mariadb_database, named=False)
    proposal = _proposal(mariadb_database)
    assert "practitioner.name" not in proposal.mapping["fields"]
    assert "booking_requests" not in proposal.connector["query"]


@pytest.mark.parametrize(("word", "status"), [
    ("CANCELLED_AND_NEEDS_RESCHEDULE", "cancelled"), ("no show and rebook", "noshow"),
    ("WALKIN", "arrived"), ("Walk-In", "arrived"),
    ("booked and paid", None),  # a live booking and more: not an ending, not read
    ("rock and roll", None),
])
def test_status_words_of_an_ending_and_a_walk_in(word: str, status: str | None) -> None:
    assert status_word(word)[0] == status


def test_a_links_table_naming_the_visit_by_resource_id_books_no_slot(tmp_path: Path) -> None:
    """A table of two ids and a code (``"resourceId"`` -> the appointment, ``"targetId"`` -> its
    patient): "resource" names a bookable resource elsewhere, but a table named for the visits is
    no slot. The appointments are the visits, their patient followed through the links (the old
    reading took the links for the visits: no start, the visit id a patient's)."""
    path = tmp_path / "links.db"
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE appointment (id TEXT PRIMARY KEY, start_at DATETIME, end_at DATETIME, status TEXT);"
        'CREATE TABLE appointment_links ("resourceId" TEXT, "targetId" TEXT, code TEXT);'
        "CREATE TABLE patient (id TEXT PRIMARY KEY, name TEXT, phone TEXT);")
    patients = [str(uuid.uuid4()) for _ in range(10)]
    for n, pid in enumerate(patients):
        connection.execute("INSERT INTO patient VALUES (?, ?, ?)", (pid, f"Ana Ruiz{n}", f"(312) 555-{1000 + n}"))
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    for n in range(VISITS):
        visit, start = str(uuid.uuid4()), now + timedelta(days=1 + n % 20, hours=n % 7)
        connection.execute("INSERT INTO appointment VALUES (?, ?, ?, 'booked')",
                           (visit, str(start), str(start + timedelta(minutes=30))))
        connection.execute("INSERT INTO appointment_links VALUES (?, ?, 'patient')", (visit, patients[n % 10]))
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{path}", stored_times="local", clinic_zone=ZONE, region="PT")
    fields = (proposal.mapping or {})["fields"]
    assert fields["start"] == {"from": "start_at"} and fields["external_id"] == {"from": "id"}, fields
    assert "FROM appointment AS a" in proposal.connector["query"], proposal.connector["query"]
