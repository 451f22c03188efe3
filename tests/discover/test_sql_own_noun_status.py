"""A diary that writes a row's state as the word for the row itself ('Appointments' in table
appointments, until the visit moves to waiting, complete or cancel): the word was unknown and
every visit ahead under it was quarantined until the admin gave it a status. The word names the
table's own rows, nothing has happened to them yet: booked, said in a note; with the table's
prefix too. A word that is not the table's noun stays asked. A schema built here, in SQLite,
discover run on it and its proposal checked."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/Denver"
VISITS = 60


def _database(path: Path, table: str, words: tuple[str, ...]) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript(f"""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT);
            CREATE TABLE doctors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
            CREATE TABLE {table} (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                                  doctor_id INTEGER REFERENCES doctors(id), start_at TEXT, minutes INTEGER,
                                  status TEXT NOT NULL);
        """)
        connection.executemany("INSERT INTO doctors (name, email) VALUES (?, ?)",
                               [(f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(3)])
        connection.executemany("INSERT INTO patients (name, phone) VALUES (?, ?)",
                               [(f"Ana{n} Lopez", f"303-555-{1000 + n}") for n in range(30)])
        connection.executemany(
            f"INSERT INTO {table} (patient_id, doctor_id, start_at, minutes, status) VALUES (?, ?, ?, 20, ?)",
            [(1 + n % 30, 1 + n % 3, f"{start + timedelta(days=n // 8, hours=n % 8):%Y-%m-%d %H:%M}",
              words[0] if n % 5 else words[1]) for n in range(VISITS)])


@pytest.mark.parametrize(("table", "word"), [("appointments", "Appointments"), ("tbl_booking", "Booking"),
                                             ("ck_appointments", "Appointment")])
def test_a_word_naming_the_table_s_rows_is_booked(tmp_path: Path, table: str, word: str) -> None:
    path = tmp_path / "clinic.db"
    _database(path, table, (word, "Cancel"))
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local")
    assert proposal.mapping is not None
    assert proposal.mapping["status_map"] == {word: "booked", "Cancel": "cancelled"}
    assert any("name the rows of table" in n and "read as booked" in n for n in proposal.notes), proposal.notes
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined


def test_a_word_that_is_not_the_table_s_noun_stays_asked(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _database(path, "visits", ("Appointments", "Cancel"))
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local")
    assert proposal.mapping is not None
    assert proposal.mapping["status_map"] == {"Cancel": "cancelled"}
    assert not [n for n in proposal.notes if "name the rows of table" in n]
