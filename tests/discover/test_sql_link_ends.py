"""A link table named by the two tables it joins (``wp_x_staff_bookings``: ``staff_id``,
``booking_id``), with no declared foreign key and a site prefix on every table: each of its
columns names one word of its name, and together they are the link's two ends, not the row's
own number. Found by their values, the doctor is read through it. Where two tables share the
name an id points at (``booking_id``: ``wp_x_bookings`` and ``wp_x_booking_meta``, both numbered
1, 2, 3 …), the one whose name adds fewest words to the column's is the one meant. A schema
built here, in an SQLite file, discover run on it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.discover.valuerefs import _own_identity

DDL = """
CREATE TABLE wp_x_staff (id INTEGER PRIMARY KEY, name VARCHAR(80), email VARCHAR(120));
CREATE TABLE wp_x_bookings (id INTEGER PRIMARY KEY, start_at DATETIME, end_at DATETIME, status VARCHAR(16),
  client_name VARCHAR(80), client_phone VARCHAR(30));
CREATE TABLE wp_x_booking_meta (id INTEGER PRIMARY KEY, booking_id INTEGER, meta_key VARCHAR(60), meta_value TEXT);
CREATE TABLE wp_x_staff_bookings (id INTEGER PRIMARY KEY, staff_id INTEGER NOT NULL, booking_id INTEGER NOT NULL);
"""


def _database(folder: Path) -> str:
    path = folder / "site.db"
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    now = datetime.now().replace(microsecond=0, second=0, minute=0)
    connection.executemany("INSERT INTO wp_x_staff VALUES (?, ?, ?)",
                           [(s, f"Dr. Staff{s}", f"staff{s}@clinic.example.com") for s in range(1, 5)])
    for n in range(1, 61):
        start = now + timedelta(days=1 + n % 20, hours=n % 7)
        connection.execute("INSERT INTO wp_x_bookings VALUES (?, ?, ?, 'booked', ?, ?)",
                           (n, str(start), str(start + timedelta(minutes=30)), f"Client {n}",
                            f"(312) 555-{1000 + n:04d}"))
        connection.execute("INSERT INTO wp_x_booking_meta VALUES (?, ?, 'source', 'web')", (n, n))
        connection.execute("INSERT INTO wp_x_staff_bookings VALUES (?, ?, ?)", (n, 1 + n % 4, n))
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def test_the_doctor_is_read_through_a_link_table_named_by_its_ends(tmp_path: Path) -> None:
    proposal = discover_sql(_database(tmp_path), stored_times="local", clinic_zone="America/Chicago", region="US")
    query = proposal.connector["query"]
    assert "LEFT JOIN wp_x_staff_bookings AS" in query and "booking_id = a.id" in query, query
    assert "LEFT JOIN wp_x_staff AS" in query, query
    fields = (proposal.mapping or {})["fields"]
    assert fields["practitioner.external_id"]["from"] == "doctor_id", fields
    assert any("link table 'wp_x_staff_bookings'" in g.why for g in proposal.guesses), proposal.guesses


def test_a_column_naming_the_whole_table_is_still_its_own_number() -> None:
    """``object_id`` of ``planning_object`` is the row's own number; a link's ends are not."""
    planning = Table("planning_object", {"id": "INTEGER", "object_id": "INTEGER", "label": "TEXT"}, ["id"], [])
    link = Table("staff_bookings", {"id": "INTEGER", "staff_id": "INTEGER", "booking_id": "INTEGER"}, ["id"], [])
    assert _own_identity(planning, "object_id")
    assert not _own_identity(link, "staff_id") and not _own_identity(link, "booking_id")
