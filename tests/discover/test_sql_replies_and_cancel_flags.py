"""Two things a calendar-like schema keeps that are not the visit's status word, on a schema
built here (SQLite, no product's tables):

- a participant row's reply to the invitation (``response_status``: ACCEPTED, TENTATIVE,
  NEEDS_ACTION, DECLINED, as iCalendar's PARTSTAT) is the patient's answer: ACCEPTED confirmed,
  DECLINED declined, the others no answer yet; it is never read as the visit's status (whose
  NEEDS_ACTION would be asked about and set those visits aside);
- a cancelled flag on the visit's row (``is_canceled``) where no column holds a status is the
  status, cancelled when set, else booked: the cancelled visit is read and stored as cancelled
  (its patient told, its time freed), not left out as a deleted row; a deletion stamp beside it
  (``deleted_at``) still leaves a trashed row out."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE persons (id INTEGER PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), email VARCHAR(120),
  mobile VARCHAR(30));
CREATE TABLE meetings (id INTEGER PRIMARY KEY, title VARCHAR(100), starts_at DATETIME, ends_at DATETIME,
  is_canceled BOOLEAN, deleted_at DATETIME, updated_at DATETIME);
CREATE TABLE meeting_participants (id INTEGER PRIMARY KEY, meeting_id INTEGER, person_id INTEGER,
  response_status VARCHAR(20));
"""
REPLIES = ["ACCEPTED", "TENTATIVE", "NEEDS_ACTION", "DECLINED"]


def _database(folder: Path) -> str:
    path = folder / "calendar.db"
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    with sqlite3.connect(path) as connection:
        connection.executescript(DDL)
        connection.executemany("INSERT INTO persons VALUES (?, ?, ?, ?, ?)",
                               [(p, f"Given{p}", f"Family{p}", f"p{p}@example.org", f"(312) 555-{6000 + p:04d}")
                                for p in range(1, 41)])
        for n in range(1, 101):
            start = now + timedelta(days=1 + n % 20, hours=n % 6)
            connection.execute("INSERT INTO meetings VALUES (?, 'Consultation', ?, ?, ?, ?, ?)",
                               (n, str(start), str(start + timedelta(minutes=30)), int(n % 10 == 0),
                                str(now - timedelta(days=1)) if n % 25 == 0 else None, str(now - timedelta(days=2))))
            connection.execute("INSERT INTO meeting_participants VALUES (?, ?, ?, ?)",
                               (n, n, 1 + n % 40, REPLIES[n % 4]))
    return f"sqlite:///{path}"


def test_a_participants_reply_is_the_patients_answer_not_the_visits_status(tmp_path: Path) -> None:
    proposal = discover_sql(_database(tmp_path), stored_times="local", clinic_zone="America/Chicago", region="US")
    fields = (proposal.mapping or {})["fields"]
    assert fields["answer"]["map"] == {"ACCEPTED": "confirmed", "DECLINED": "declined", "TENTATIVE": None,
                                       "NEEDS_ACTION": None}, fields.get("answer")
    assert "response_status" not in str(fields["status"]), fields["status"]
    assert not any(w.status is None for w in proposal.status_words), proposal.status_words  # nothing to ask


def test_a_cancelled_flag_without_a_status_column_is_the_status(tmp_path: Path) -> None:
    url = _database(tmp_path)
    proposal = discover_sql(url, stored_times="local", clinic_zone="America/Chicago", region="US")
    query = proposal.connector["query"]
    assert (proposal.mapping or {})["fields"]["status"] == {"from": "status"}
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": "2000-01-01", "window_end": "2100-01-01",
                                                "cursor": "1970-01-01"}).mappings().all()
    engine.dispose()
    statuses = {int(r["id"]): r["status"] for r in rows}
    assert statuses[10] == "cancelled" and statuses[11] == "booked", statuses  # the cancelled one is read
    assert 25 not in statuses and 50 not in statuses  # trashed (deleted_at): left out, cancelled or not


def test_a_calendar_events_participants_are_not_the_visits(tmp_path: Path) -> None:
    """Named as calendars name them (``calendar_events``, ``event_participants``): a participant
    row of a calendar event books no slot (what a row is, its name's last word says: an event),
    so the events stay the visits, one per event, however the participants' name begins."""
    url = _database(tmp_path)
    named = tmp_path / "named.db"
    with sqlite3.connect(tmp_path / "calendar.db") as source, sqlite3.connect(named) as copy:
        source.backup(copy)
        copy.execute("ALTER TABLE meetings RENAME TO calendar_events")
        copy.execute("ALTER TABLE meeting_participants RENAME TO event_participants")
        copy.execute("ALTER TABLE event_participants RENAME COLUMN meeting_id TO event_id")
    assert url.endswith("calendar.db")
    proposal = discover_sql(f"sqlite:///{named}", stored_times="local", clinic_zone="America/Chicago", region="US")
    assert "FROM calendar_events AS a" in proposal.connector["query"], proposal.connector["query"]
    assert "answer" in (proposal.mapping or {})["fields"]
