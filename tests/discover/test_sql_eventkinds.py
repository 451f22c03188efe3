"""discover's rule for an agenda mixing event kinds, on a real SQL engine (SQLite in memory): the
kinds that name no patient are left out by name (``NOT IN``), so a kind the clinic adds later is
read, and a row without a kind (NULL, which ``NOT IN`` never keeps) is read unless the rows
without one were among those left out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.sync.discover.eventkinds import kind_filter
from clinicsync.sync.discover.graph import Table
from tests.discover import sql_support as data

ZONE = "America/New_York"

TABLE = Table("agenda", {"id": "INTEGER", "patient_id": "INTEGER", "event_type": "VARCHAR(20)",
                         "starts": "DATETIME"}, ["id"], [], frozenset({"patient_id", "event_type"}))


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE agenda (id INTEGER PRIMARY KEY, patient_id INTEGER, event_type VARCHAR(20), "
                       "starts DATETIME)")
    yield connection
    connection.close()


def add(db: sqlite3.Connection, kind: str | None, count: int, patient: bool) -> None:
    db.executemany("INSERT INTO agenda (patient_id, event_type, starts) VALUES (?, ?, '2030-01-07 09:00')",
                   [(7 + i if patient else None, kind) for i in range(count)])


def propose(db: sqlite3.Connection) -> tuple[str, str]:
    found = kind_filter(lambda sql: db.execute(sql).fetchall(), lambda name: f'"{name}"', TABLE, "patient_id",
                        '"patient_id" IS NOT NULL')
    assert found is not None
    return found


def kept(db: sqlite3.Connection, condition: str) -> dict[str | None, int]:
    rows = db.execute(f"SELECT a.event_type, COUNT(*) FROM agenda a WHERE {condition} GROUP BY a.event_type")
    return {kind: count for kind, count in rows}


def test_patientless_kinds_left_out_and_a_later_kind_read(db: sqlite3.Connection) -> None:
    add(db, "Consultation", 30, True)
    add(db, "Blocked", 12, False)
    add(db, "Lunch break", 8, False)
    add(db, None, 4, False)  # rows without a kind, naming no one: left out with the others
    condition, note = propose(db)
    assert condition == "a.\"event_type\" NOT IN ('Blocked', 'Lunch break')"
    assert "'Blocked' (12 rows, none naming the patient), 'Lunch break' (8 rows, none naming the patient), " \
           "no kind (4 rows, none naming the patient) are no visits" in note
    assert "Consultation" not in note  # the note names what is left out, not what is kept
    add(db, "Video", 5, True)  # a kind the clinic adds after discover ran
    add(db, "Holiday", 2, False)
    # the kind condition keeps the new kinds; the Holiday rows name no patient, and the open-slot rule
    # (people.py) leaves those out in the query discover writes
    assert kept(db, condition) == {"Consultation": 30, "Video": 5, "Holiday": 2}


def test_rows_without_a_kind_read_when_they_carry_the_patient(db: sqlite3.Connection) -> None:
    add(db, "Consultation", 30, True)
    add(db, None, 6, True)  # visits entered without a kind
    add(db, "Blocked", 12, False)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('Blocked'))"
    assert "no kind" not in note
    add(db, "Video", 5, True)
    assert kept(db, condition) == {"Consultation": 30, None: 6, "Video": 5}


def test_a_kind_word_glued_to_another_is_a_kind_column(db: sqlite3.Connection) -> None:
    """``activitytype`` (a CRM's one word for the activity's type) is read as a kind code like
    ``event_type``; a ``time_start`` (ending in 'art') is not."""
    glued = Table("glued", {"id": "INTEGER", "patient_id": "INTEGER", "activitytype": "VARCHAR(20)",
                             "time_start": "VARCHAR(20)"}, ["id"], [], frozenset({"patient_id", "activitytype"}))
    db.execute("CREATE TABLE glued (id INTEGER PRIMARY KEY, patient_id INTEGER, activitytype VARCHAR(20), "
               "time_start VARCHAR(20))")
    db.executemany("INSERT INTO glued (patient_id, activitytype, time_start) VALUES (?, ?, ?)",
                   [(p, k, "09:00") for k, p, n in (("Meeting", 3, 30), ("Task", None, 8)) for _ in range(n)])
    found = kind_filter(lambda sql: db.execute(sql).fetchall(),
                        lambda n: f'"{n}"', glued, "patient_id", '"patient_id" IS NOT NULL')
    assert found is not None
    assert found[0] == "(a.\"activitytype\" IS NULL OR a.\"activitytype\" NOT IN ('Task'))", found
    assert "'activitytype' mixes event kinds: 'Task' (8 rows, none naming the patient)" in found[1]


def test_kinds_of_a_visit_whose_patient_is_a_link_row(tmp_path: Path, cli: Any) -> None:
    """The patient reached through link rows (activity -> link -> contact): a kind whose rows have
    no link row (a task) is left out of the query by its kind, like one naming no patient column."""
    path = tmp_path / "crm.db"
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE contacts (contact_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
          mobile VARCHAR(30), email VARCHAR(80));
        CREATE TABLE activities (activity_id INTEGER PRIMARY KEY, subject VARCHAR(80), activity_type VARCHAR(20),
          start_time DATETIME NOT NULL, end_time DATETIME, status VARCHAR(20));
        CREATE TABLE activity_contacts (activity_id INTEGER NOT NULL REFERENCES activities(activity_id),
          contact_id INTEGER NOT NULL REFERENCES contacts(contact_id), PRIMARY KEY (activity_id, contact_id));
    """)
    connection.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?)",
                           [(c, f"Zelda{c}", f"Quill{c}", f"+1 212 555 {1000 + c}", f"z{c}@example.org")
                            for c in range(1, 13)])
    slots = data.future_slots(ZONE, 48)
    rows = [(n, "Visit" if n % 4 else "Prepare report", "Task" if n % 4 == 0 else "Meeting", start,
             start + timedelta(minutes=30), "booked") for n, start in enumerate(slots, 1)]
    connection.executemany("INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?)",
                           [(n, s, k, a.isoformat(sep=" "), b.isoformat(sep=" "), st) for n, s, k, a, b, st in rows])
    connection.executemany("INSERT INTO activity_contacts VALUES (?, ?)",
                           [(n, 1 + n % 12) for n, _, kind, *_ in rows if kind == "Meeting"])
    connection.commit()
    connection.close()
    settings = data.admin_settings(tmp_path, ZONE, agendas=False)
    run = cli(settings)
    _, out, _ = run("discover", f"sqlite:///{path}", "--table", "activities", "--stored-times", "local", "--write",
                    expect=None)
    print(out)
    assert "'activity_type' mixes event kinds: 'Task' (12 rows, none naming the patient) are no visits" in out, out
    query = yaml.safe_load(settings.read_text(encoding="utf-8"))["connectors"][0]["query"]
    assert "NOT IN ('Task')" in query, query
    run("sync", "--once")
    assert set(data.stored(run)) == {str(n) for n, _, kind, *_ in rows if kind == "Meeting"}


def test_calls_left_out_though_they_name_the_patient(db: sqlite3.Connection) -> None:
    """A call logged against the patient names them on every row, as a visit does; its kind says a
    phone call, so it is left out beside the kinds naming no one, said so by name."""
    add(db, "Meeting", 30, True)
    add(db, "Call", 9, True)
    add(db, "Task", 6, False)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('Call', 'Task'))", condition
    assert "'Task' (6 rows, none naming the patient) are no visits" in note, note
    assert "'Call' (9 rows, 9 naming someone) are phone calls logged against the contact" in note, note
    add(db, "Video call", 4, True)  # a video visit, though its kind says call: read
    assert kept(db, condition) == {"Meeting": 30, "Video call": 4}


def test_calls_left_out_when_no_other_kind_is_left_out(db: sqlite3.Connection) -> None:
    add(db, "Meeting", 30, True)
    add(db, "Phone call", 5, True)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('Phone call'))", condition
    assert "are no visits (a visit's kind" not in note


def test_a_table_of_nothing_but_calls_keeps_them(db: sqlite3.Connection) -> None:
    """Where the calls are the only kind naming the patient, they are what the table holds: kept,
    the kinds naming no one left out as before."""
    add(db, "Call", 20, True)
    add(db, "Task", 6, False)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('Task'))", condition
    assert "phone calls" not in note


def test_emails_notes_and_lunches_left_out_though_they_name_the_patient(db: sqlite3.Connection) -> None:
    """A CRM logs an email, a note or a business lunch against the contact as it books a meeting
    (Krayin's activities): every kind names the patient, so only the kind's words tell them apart.
    A kind whose words say a visit too is read ('Consultation note' is no note), and a word the rule
    does not know is read (the admin adds it if it is no visit)."""
    add(db, "meeting", 30, True)
    add(db, "email", 12, True)
    add(db, "note", 7, True)
    add(db, "lunch", 3, True)
    add(db, "Consultation note", 4, True)
    add(db, "Hausbesuch", 5, True)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('email', 'lunch', 'note'))", condition
    assert "'email' (12 rows, 12 naming someone), 'lunch' (3 rows, 3 naming someone), 'note' (7 rows, 7 naming " \
           "someone) say an email, a note, a task or an outing" in note, note
    assert kept(db, condition) == {"meeting": 30, "Consultation note": 4, "Hausbesuch": 5}
