"""A visit booked into a doctor's session, on a schema built here (no product's tables): the
session row holds the day, its opening and closing times and the doctor (a number with no
declared key, naming a row of the system's users); the visit row holds only its own time of day
and a cancelled flag. Patients keep a landline and a mobile under names that say neither.

What discover must read: the start as the session's day at the visit's own time (never the
session's opening time, and no end from the session's closing time), as the clinic's wall clock
without asking (a day and a clock kept apart are a diary's); the doctor as the user the session
names (a few small numbers, matched by values to the one users table that names people); the
cancelled flag as the visit's status (cancelled when set, else booked: no status column says
otherwise); the mobile before the landline."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

ZONE = "Europe/London"
DDL = """
CREATE TABLE users (user_id INTEGER PRIMARY KEY, user_login VARCHAR(20) NOT NULL, user_first_name VARCHAR(50),
  user_last_name VARCHAR(50) NOT NULL, user_email VARCHAR(100));
CREATE TABLE user_settings (user_id INTEGER PRIMARY KEY, theme VARCHAR(20), rows_per_page INTEGER);
CREATE TABLE patients (patient_id INTEGER PRIMARY KEY, surname VARCHAR(60) NOT NULL, forename VARCHAR(60) NOT NULL,
  phone_1 VARCHAR(20), phone_2 VARCHAR(20), email VARCHAR(100));
CREATE TABLE clinic_sessions (session_id INTEGER PRIMARY KEY, practitioner_id INTEGER NOT NULL,
  session_date DATE NOT NULL, start_time TIME NOT NULL, end_time TIME NOT NULL, label VARCHAR(40));
CREATE TABLE visits (visit_id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES clinic_sessions (session_id),
  patient_id INTEGER NOT NULL REFERENCES patients (patient_id), visit_time TIME NOT NULL, reason VARCHAR(100),
  cancelled INTEGER NOT NULL DEFAULT 0);
"""


def build(path: Path) -> str:
    today = date.today()
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL)
        connection.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                               [(n, f"login{n}", f"Given{n}", f"Family{n}", f"doctor{n}@practice.example")
                                for n in (2, 3, 4)] + [(9, "reception", "Front", "Desk", "desk@practice.example")])
        connection.executemany("INSERT INTO user_settings VALUES (?, 'light', 20)", [(n,) for n in (2, 3, 4, 9)])
        connection.executemany(
            "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?)",
            [(p, f"Surname{p}", f"Forename{p}", f"020 7946 0{p:03d}", None if p % 9 == 0 else f"07911 {123000 + p}",
              f"p{p}@example.org") for p in range(1, 41)])
        visit = 0
        for day in range(-2, 14):
            for doctor in (2, 3, 4):
                session = (day + 2) * 3 + doctor
                connection.execute("INSERT INTO clinic_sessions VALUES (?, ?, ?, '09:00:00', '12:00:00', 'Clinic')",
                                   (session, doctor, (today + timedelta(days=day)).isoformat()))
                for slot in range(8):
                    visit += 1
                    at = f"{9 + slot * 20 // 60:02d}:{slot * 20 % 60:02d}:00"
                    connection.execute("INSERT INTO visits VALUES (?, ?, ?, ?, 'Review', ?)",
                                       (visit, session, 1 + visit % 40, at, 1 if visit % 10 == 0 else 0))
    return f"sqlite:///{path}"


def test_a_visit_in_a_doctors_session(tmp_path: Path) -> None:
    proposal = discover_sql(build(tmp_path / "practice.db"), name="practice", clinic_zone=ZONE, region="GB")
    fields = (proposal.mapping or {})["fields"]
    assert fields["start"] == {"date": "clinic_session_session_date", "time": "visit_time"} or \
        fields["start"]["time"] == "visit_time", fields["start"]
    assert "end" not in fields, fields.get("end")
    assert proposal.connector.get("stored_times", "local") == "local"
    assert any("a day" in n and "time of day" in n for n in proposal.notes), proposal.notes
    assert "users" in proposal.connector["query"] and "user_settings" not in proposal.connector["query"]
    assert fields["practitioner.name"]["concat"][0].endswith("user_first_name"), fields["practitioner.name"]
    assert "THEN 'booked' ELSE 'cancelled' END AS status" in proposal.connector["query"], proposal.connector["query"]
    assert fields["status"] == {"from": "status"}, fields.get("status")
    assert fields["patient.phone"]["from"][0].endswith("phone_2"), fields["patient.phone"]

    assert fields["patient.name"] == {"concat": ["patient_forename", "patient_surname"]}, fields["patient.name"]
