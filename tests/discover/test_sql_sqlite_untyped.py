"""A small practice's SQLite file whose tables declare columns without a type (``CREATE TABLE
doctors (id INTEGER PRIMARY KEY, name, email)``), as SQLite allows: SQLAlchemy reflects such a
column as NULL, so the rules that read a column's type saw no text in the doctors' table and
discover said "the doctor's name: table 'doctors' holds none" beside the name it had placed. The
column now takes the type its values are stored as, and the proposal says nothing untrue."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/New_York"
VISITS = 64


def test_untyped_columns_take_the_type_their_values_are_stored_as(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, name, phone, email);
            CREATE TABLE doctors (id INTEGER PRIMARY KEY, name, email);
            CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id REFERENCES patients(id),
                                       doctor_id REFERENCES doctors(id), start, end, status);
        """)
        connection.executemany("INSERT INTO doctors (name, email) VALUES (?, ?)",
                               [(f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(3)])
        connection.executemany("INSERT INTO patients (name, phone, email) VALUES (?, ?, ?)",
                               [(f"Ana{n} Lopez", f"617-555-{1000 + n}", f"p{n}@mail.example") for n in range(30)])
        connection.executemany(
            "INSERT INTO appointments (patient_id, doctor_id, start, end, status) VALUES (?, ?, ?, ?, ?)",
            [(1 + n % 30, 1 + n % 3, f"{start + timedelta(days=n // 8, hours=n % 8):%Y-%m-%d %H:%M}",
              f"{start + timedelta(days=n // 8, hours=n % 8, minutes=30):%Y-%m-%d %H:%M}", "booked")
             for n in range(VISITS)])

    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local")

    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["practitioner.name"] == {"from": "doctor_name"}
    assert not [n for n in proposal.notes if "holds none" in n], proposal.notes
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined
