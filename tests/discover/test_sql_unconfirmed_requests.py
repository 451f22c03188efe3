"""A booking tool that keeps the requested time on one row and the booking that confirms it on a
child row (a Django booking app: ``appointmentrequest`` holds the day, the times, the service and
the staff member; ``appointment`` points at it one to one with the client and the phone). A
request never confirmed (or a time put on hold) has no child row: it is no patient's visit, and
stored it would put a visit of nobody in the doctor's calendar. discover reads the patient from
the child row and leaves the rows without one out of the query, saying so; built here in SQLite
from the class (no product's tables)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE account (id INTEGER PRIMARY KEY, username VARCHAR(150), first_name VARCHAR(150),
  last_name VARCHAR(150), email VARCHAR(254));
CREATE TABLE staff_member (id INTEGER PRIMARY KEY, user_id INTEGER UNIQUE REFERENCES account(id), slot_minutes INTEGER);
CREATE TABLE booking_request (id INTEGER PRIMARY KEY, day DATE NOT NULL, start_time TIME NOT NULL,
  end_time TIME NOT NULL, staff_member_id INTEGER REFERENCES staff_member(id), created_at DATETIME,
  updated_at DATETIME);
CREATE TABLE booking (id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES account(id),
  booking_request_id INTEGER NOT NULL UNIQUE REFERENCES booking_request(id), phone VARCHAR(128),
  created_at DATETIME, updated_at DATETIME)
"""


def test_requests_without_their_booking_row_are_no_visits(tmp_path: Path) -> None:
    path = tmp_path / "bookings.db"
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    stamp = "2026-01-05 10:00:00"
    for s in range(1, 4):
        connection.execute("INSERT INTO account VALUES (?, ?, ?, ?, ?)",
                           (s, f"staff{s}", f"Given{s}", f"Family{s}", f"staff{s}@clinic.example.com"))
        connection.execute("INSERT INTO staff_member VALUES (?, ?, 30)", (s, s))
    for c in range(100, 140):
        connection.execute("INSERT INTO account VALUES (?, ?, ?, ?, ?)",
                           (c, f"client{c}", f"Client{c}", f"Surname{c}", f"client{c}@example.org"))
    today = datetime.now().replace(minute=0, second=0, microsecond=0)
    booked = 0
    for r in range(1, 81):
        start = today + timedelta(days=1 + r % 20, hours=r % 6)
        connection.execute("INSERT INTO booking_request VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (r, start.date().isoformat(), start.strftime("%H:%M:%S"),
                            (start + timedelta(minutes=30)).strftime("%H:%M:%S"), 1 + r % 3, stamp, stamp))
        if r % 5:  # every fifth request never confirmed
            connection.execute("INSERT INTO booking VALUES (?, ?, ?, ?, ?, ?)",
                               (r, 100 + r % 40, r, f"+1312555{1000 + r:04d}", stamp, stamp))
            booked += 1
    connection.commit()
    connection.close()
    proposal = discover_sql(f"sqlite:///{path}", stored_times="local", clinic_zone="America/Chicago", region="US")
    query = proposal.connector["query"]
    assert "EXISTS (SELECT 1 FROM booking AS cs_k WHERE cs_k.booking_request_id = a.id)" in query, query
    assert any(f"{80 - booked} of 80 rows have no 'booking' row naming a person" in n for n in proposal.notes), \
        proposal.notes
    fields = (proposal.mapping or {})["fields"]
    assert "patient.external_id" in fields and "patient.phone" in fields, fields
