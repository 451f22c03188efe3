"""A meeting whose JSON attendee list names the staff alone is no visit, on a small schema built
here (not a product's): ``session.guests`` a JSON list of ``{"name", "email", "role"}`` objects
(the diary's owner first, as CHAIR, the patient after); each diary belongs to an ``app_user`` (a
login, its email the login) whose name and email are on its own ``user_profile`` row; the
front desk's diary holds a weekly team meeting with every doctor invited and no patient."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS, MEETINGS = 60, 6
STAFF = [("Desk Team", "desk@practice.example"), ("Anna Hart", "hart@practice.example"),
         ("Ben Cole", "cole@practice.example")]
LATER = (4, "Cleo Marsh", "MARSH@practice.example")  # a doctor who joins after discover ran

DDL = """CREATE TABLE app_user (id INT PRIMARY KEY, login VARCHAR(120), last_seen DATETIME);
CREATE TABLE user_profile (id INT PRIMARY KEY, user_id INT NOT NULL REFERENCES app_user(id),
  full_name VARCHAR(80), email VARCHAR(120), is_default INT);
CREATE TABLE diary (id INT PRIMARY KEY, user_id INT NOT NULL REFERENCES app_user(id), label VARCHAR(80));
CREATE TABLE session (id INT PRIMARY KEY, diary_id INT NOT NULL REFERENCES diary(id), title VARCHAR(80),
  starts_at DATETIME, ends_at DATETIME, guests TEXT)"""


def _guest(name: str, email: str, role: str = "REQ-PARTICIPANT") -> dict[str, str]:
    return {"name": name, "email": email, "role": role, "status": "ACCEPTED"}


def _rows() -> tuple[dict[str, list[tuple[Any, ...]]], set[int]]:
    """The tables' rows, and the sessions that are visits (a patient among the attendees)."""
    accounts = [(n + 1, email, datetime(2026, 1, 5, 9)) for n, (_, email) in enumerate(STAFF)]
    profiles = [(n + 1, n + 1, name, email, 1) for n, (name, email) in enumerate(STAFF)]
    diaries = [(n + 1, n + 1, f"Diary {name}") for n, (name, _) in enumerate(STAFF)]
    sessions, visits = [], set()
    for v in range(1, VISITS + 1):
        doctor = STAFF[1 + v % 2]
        guests = [_guest(*doctor, role="CHAIR"), _guest(f"Eva Lang{v % 40}", f"eva.lang{v % 40}@mail.example")]
        if v % 10 == 0:  # a patient with no email: a visit still
            guests[1] = {"name": f"Eva Lang{v % 40}", "role": "REQ-PARTICIPANT"}
        sessions.append((v, 2 + v % 2, "Consult", data.visit_at(v), data.visit_at(v) + timedelta(minutes=20),
                         json.dumps(guests)))
        visits.add(v)
    for m in range(MEETINGS):  # every doctor invited, the desk the organizer; an email's case as typed
        s = VISITS + 1 + m
        guests = [_guest(*STAFF[0], role="CHAIR"), _guest(STAFF[1][0], STAFF[1][1].upper()), _guest(*STAFF[2])]
        start = data.visit_at(s).replace(hour=13)
        sessions.append((s, 1, "Team meeting", start, start + timedelta(minutes=45), json.dumps(guests)))
    s = VISITS + MEETINGS + 1  # the doctors and a patient: a visit
    guests = [_guest(*STAFF[1], role="CHAIR"), _guest(*STAFF[2]), _guest("Tom Reed", "tom.reed@mail.example")]
    sessions.append((s, 2, "Family meeting", data.visit_at(s), data.visit_at(s) + timedelta(minutes=30),
                     json.dumps(guests)))
    visits.add(s)
    return {"app_user": accounts, "user_profile": profiles, "diary": diaries, "session": sessions}, visits


def _later_meeting() -> tuple[int, list[tuple[Any, ...]]]:
    """A team meeting with a doctor added after discover ran: (its id, the rows to add)."""
    key, name, email = LATER
    s = VISITS + MEETINGS + 2
    start = data.visit_at(s).replace(hour=14)
    guests = [_guest(*STAFF[0], role="CHAIR"), _guest(name, email.lower()), _guest(*STAFF[1])]
    return s, [("app_user", (key, email, datetime(2026, 2, 1, 9))), ("user_profile", (key, key, name, email, 1)),
               ("session", (s, 1, "Team meeting", start, start + timedelta(minutes=45), json.dumps(guests)))]


def _insert(table: str, width: int, mark: str) -> str:
    return f"INSERT INTO {table} VALUES ({', '.join([mark] * width)})"


@pytest.mark.mariadb
def test_a_meeting_of_the_staff_alone_is_no_visit_on_mariadb(mariadb_database: dict[str, Any]) -> None:
    """Every session with a patient is read (one with no email, one with doctors and a patient);
    the team meetings, every attendee a login's email, are left out with a note; a doctor added
    later is staff at once (a subquery on the logins' rows, no list of emails in the query)."""
    rows, visits = _rows()
    data.load_tables(mariadb_database, DDL, [(_insert(t, len(r[0]), "%s"), r) for t, r in rows.items()])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert fields["patient.email"] == {"from": ["guests[1].email", "guests[2].email"]}, fields
    assert {r["id"] for r in data.proposed_rows(mariadb_database, query)} == visits
    assert any(f"{MEETINGS} of {VISITS + MEETINGS + 1} rows list only staff in 'guests'" in n
               for n in proposal.notes), proposal.notes
    later, added = _later_meeting()
    data.load_tables(mariadb_database, "SELECT 1", [(_insert(t, len(r), "%s"), [r]) for t, r in added])
    assert later not in {r["id"] for r in data.proposed_rows(mariadb_database, query)}


def test_a_meeting_of_the_staff_alone_is_no_visit_on_sqlite(tmp_path: Path) -> None:
    """The same on SQLite (its ``json_each``)."""
    from clinicsync.sync.discover.sql import discover_sql

    path = tmp_path / "diary.sqlite"
    rows, visits = _rows()
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL + ";")
        for table, values in rows.items():
            connection.executemany(_insert(table, len(values[0]), "?"),
                                   [tuple(str(v) if isinstance(v, datetime) else v for v in r) for r in values])
    proposal = discover_sql(f"sqlite:///{path}", name="c", timezone="Europe/Berlin", region="DE",
                            stored_times="local")
    query = str(proposal.connector["query"]).replace(":window_start", "'2000-01-01'").replace(
        ":window_end", "'2100-01-01'")
    print(query, proposal.notes)
    with sqlite3.connect(path) as connection:
        cursor = connection.execute(query)
        names = [d[0] for d in cursor.description]
        assert {dict(zip(names, r, strict=True))["id"] for r in cursor.fetchall()} == visits
    assert any("rows list only staff in 'guests'" in n for n in proposal.notes), proposal.notes
