"""An activity linked to its people by role, on a schema built here (no product's tables): one
link table holds, per activity, the member of staff it is assigned to (role 1: three people on
every activity), who entered it (role 2: one person) and the client it is for (role 3: many). The
people table has `do_not_phone` / `do_not_email` 0/1 flags and keeps its phones and emails in
rows of their own. discover must take the clients' role as the patient (never the lowest role,
whose few persons are staff) and the phone and email from the person's own rows, never a flag
named for them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60),
  do_not_phone INTEGER NOT NULL DEFAULT 0, do_not_email INTEGER NOT NULL DEFAULT 0);
CREATE TABLE people_phones (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id),
  phone VARCHAR(32), is_primary INTEGER NOT NULL DEFAULT 1);
CREATE TABLE people_emails (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id),
  email VARCHAR(254), is_primary INTEGER NOT NULL DEFAULT 1);
CREATE TABLE activities (id INTEGER PRIMARY KEY, subject VARCHAR(255), activity_date_time DATETIME,
  duration INTEGER, status VARCHAR(20));
CREATE TABLE activity_people (id INTEGER PRIMARY KEY, activity_id INTEGER NOT NULL REFERENCES activities (id),
  person_id INTEGER NOT NULL REFERENCES people (id), role_id INTEGER NOT NULL);
"""


def build(path: Path) -> str:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL)
        connection.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)",
                               [(p, f"Given{p}", f"Family{p}", p % 2, 0) for p in range(1, 65)])
        connection.executemany("INSERT INTO people_phones (person_id, phone) VALUES (?, ?)",
                               [(p, f"+1 303 555 {1000 + p}") for p in range(1, 65)])
        connection.executemany("INSERT INTO people_emails (person_id, email) VALUES (?, ?)",
                               [(p, f"person{p}@example.org") for p in range(1, 65)])
        for a in range(1, 121):
            start = (now + timedelta(days=1 + a % 20, hours=a % 8)).isoformat(" ")
            connection.execute("INSERT INTO activities VALUES (?, 'Consultation', ?, 30, 'booked')", (a, start))
            connection.executemany("INSERT INTO activity_people (activity_id, person_id, role_id) VALUES (?, ?, ?)",
                                   [(a, 1 + a % 3, 1), (a, 4, 2), (a, 5 + a % 60, 3)])
    return f"sqlite:///{path}"


def test_the_clients_role_is_the_patient_and_flags_are_no_contacts(tmp_path: Path) -> None:
    proposal = discover_sql(build(tmp_path / "crm.db"), name="crm", clinic_zone="America/Denver",
                            stored_times="utc")
    query = str(proposal.connector["query"])
    assert "cs_l.role_id = 3" in query, query
    fields = (proposal.mapping or {})["fields"]
    assert "do_not" not in yaml.safe_dump(fields), fields
    assert "patient.phone" in fields and "patient.email" in fields, fields
    assert "people_phones" in query and "people_emails" in query, query
