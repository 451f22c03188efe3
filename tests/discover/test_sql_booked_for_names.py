"""A person's name in a column named with a change stamp's word (not any product's tables): a room
or desk booking "booked for" someone, ``booked_for_name`` on the booking's own row, or its
``booked_for_id`` followed to a people table (whose columns read ``booked_for_first_name``…).
"booked" is the word of a booking's stamp (``booked_at``), but the values are words, no date: the
column is the patient's name, never refused as a row's change stamp (columns.py). A column so
named whose values are date-times stays a stamp. On PostgreSQL and MariaDB: discover --write,
sync --once, every visit's patient name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.discover.columns import ColumnSample
from clinicsync.sync.discover.scoring import score_columns
from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server  # the fixture: an empty database in each of the two servers
GIVEN = ["Ana", "Luis", "Marta", "Jonas", "Eva", "Karim", "Nadia", "Paul", "Sara", "Tomas", "Ines"]
FAMILY = ["Diaz", "Rey", "Novak", "Berg", "Costa", "Haddad", "Ivanova", "Moreau", "Lind"]

OWN_ROW = """
CREATE TABLE doctors (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, email VARCHAR(80));
CREATE TABLE bookings (id INTEGER PRIMARY KEY, doctor_id INTEGER NOT NULL REFERENCES doctors(id),
  booked_for_name VARCHAR(80) NOT NULL, booked_for_phone VARCHAR(30),
  starts_at {TS} NOT NULL, ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL);
"""
FOLLOWED = """
CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
  phone VARCHAR(30));
CREATE TABLE doctors (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, email VARCHAR(80));
CREATE TABLE bookings (id INTEGER PRIMARY KEY, doctor_id INTEGER NOT NULL REFERENCES doctors(id),
  booked_for_id INTEGER NOT NULL REFERENCES patients(id),
  starts_at {TS} NOT NULL, ends_at {TS} NOT NULL, status VARCHAR(20) NOT NULL);
"""


def _doctors(cursor: Any) -> None:
    cursor.executemany("INSERT INTO doctors VALUES (%s, %s, %s)",
                       [(1, "Dr. Ines Varga", "i.varga@clinic.example"),
                        (2, "Dr. Tomas Reyes", "t.reyes@clinic.example")])


def _own_row(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, OWN_ROW)
    _doctors(cursor)
    rows, want = [], {}
    for n, start in enumerate(follow.slots(40, seed=5)):
        rows.append((n + 1, 1 + n % 2, f"{GIVEN[n % 11]} {FAMILY[n % 9]}", f"617 555 {1000 + n}", start,
                     start + timedelta(minutes=30), "booked"))
        want[str(n + 1)] = f"{GIVEN[n % 11]} {FAMILY[n % 9]}"
    cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    return want


def _followed(cursor: Any, dialect: str) -> follow.Want:
    follow.create(cursor, dialect, FOLLOWED)
    _doctors(cursor)
    cursor.executemany("INSERT INTO patients VALUES (%s, %s, %s, %s)",
                       [(p, GIVEN[p % 11], FAMILY[p % 9], f"617 555 {2000 + p}") for p in range(1, 26)])
    rows, want = [], {}
    for n, start in enumerate(follow.slots(40, seed=6)):
        p = 1 + (n * 7 + 3) % 25
        rows.append((n + 1, 1 + n % 2, p, start, start + timedelta(minutes=30), "booked"))
        want[str(n + 1)] = f"{GIVEN[p % 11]} {FAMILY[p % 9]}"
    cursor.executemany("INSERT INTO bookings VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return want


@pytest.mark.parametrize("fill", [_own_row, _followed], ids=["on the booking", "followed to the person"])
def test_the_person_a_booking_is_for_is_named(server: ehr.Server, tmp_path: Path, cli: Any, fill: Any) -> None:
    want, fields, found = follow.built_and_synced(server, fill, tmp_path, cli)
    assert "patient.name" in fields, fields
    names = {k: (v.get("patient") or {}).get("name") for k, v in found.items()}
    assert names == want


def test_a_stamp_so_named_is_still_no_name() -> None:
    """The same words over date-times: a row's change stamp, never a name."""
    scored = score_columns([
        ColumnSample("booked_for_name", "VARCHAR(80)", ["Ana Diaz", "Luis Rey"]),
        ColumnSample("booked_name_changed", "TIMESTAMP", ["2026-08-29 13:10:07", "2026-08-30 10:00:41"]),
    ])
    placed = {g.field: g.source for g in scored.guesses}
    assert placed.get("patient.name") == "booked_for_name", placed
    assert placed.get("booked_at") in (None, "booked_name_changed"), placed
