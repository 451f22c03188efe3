"""A second kind of visit that the sample barely holds still gets its place and kind: a clinic's
bookings name a location group and an appointment type, its room bookings (one in twenty, all
among the oldest rows, so the 50 rows sampled by key hold none) a room and a booking type, never
both. The room's and the booking type's columns are read again where they are filled and become
the fallbacks of the group and the type (thinfallback.py); a room filled on rows that name a
group too (where in the group the visit is) is no fallback."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, phone TEXT);
CREATE TABLE location_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE locations (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE appointment_types (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE booking_types (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE appointments (id INTEGER PRIMARY KEY, start_time TIMESTAMP NOT NULL, end_time TIMESTAMP NOT NULL,
    status TEXT NOT NULL, patient_id INTEGER NOT NULL REFERENCES patients(id),
    location_group_id INTEGER REFERENCES location_groups(id), location_id INTEGER REFERENCES locations(id),
    appointment_type_id INTEGER REFERENCES appointment_types(id),
    booking_type_id INTEGER REFERENCES booking_types(id));
"""
VISITS, ROOM_EVERY = 200, 20


def build(path: Path, grouped_rooms: bool = False) -> None:
    """200 visits ahead; the room bookings are the ten oldest rows by key (ids 1..10), so a
    sample of the 50 newest rows holds none of them. ``grouped_rooms``: they name a group too."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    for p in range(1, 41):
        connection.execute("INSERT INTO patients VALUES (?, ?, ?, ?)",
                           (p, f"Given{p}", f"Family{p}", f"+1312555{p:04d}"))
    connection.executemany("INSERT INTO location_groups VALUES (?, ?)", [(1, "Outpatients"), (2, "Maternity")])
    connection.execute("INSERT INTO locations VALUES (1, 'Procedure Room')")
    connection.executemany("INSERT INTO appointment_types VALUES (?, ?)", [(1, "Standard"), (2, "Follow-up")])
    connection.execute("INSERT INTO booking_types VALUES (1, 'Procedure')")
    start = (datetime.now() + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    for n in range(1, VISITS + 1):
        when = start + timedelta(days=n % 25, minutes=15 * (n % 30))
        room = n <= VISITS // ROOM_EVERY
        connection.execute(
            "INSERT INTO appointments VALUES (?, ?, ?, 'booked', ?, ?, ?, ?, ?)",
            (n, when, when + timedelta(minutes=30), 1 + n % 40, 1 + n % 2 if grouped_rooms or not room else None,
             1 if room else None, None if room else 1 + n % 2, 1 if room else None))
    connection.commit()
    connection.close()


def test_a_rare_room_booking_gets_its_room_and_kind(tmp_path: Path) -> None:
    build(tmp_path / "visits.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'visits.db'}", name="visits", clinic_zone="Europe/London",
                            stored_times="local")
    fields = (proposal.mapping or {})["fields"]
    location, kind = fields["location"]["from"], fields["type"]["from"]
    assert isinstance(location, list) and location[1].startswith("location") and "group" not in location[1], location
    assert isinstance(kind, list) and "booking" in kind[1], kind
    assert any("read again where it is filled" in n for n in proposal.notes), proposal.notes


def test_a_room_inside_a_named_group_is_no_fallback(tmp_path: Path) -> None:
    build(tmp_path / "visits.db", grouped_rooms=True)
    proposal = discover_sql(f"sqlite:///{tmp_path / 'visits.db'}", name="visits", clinic_zone="Europe/London",
                            stored_times="local")
    location = (proposal.mapping or {})["fields"]["location"]["from"]
    assert isinstance(location, str) and "group" in location, location
