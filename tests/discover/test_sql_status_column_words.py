"""A word that is a status only in the status column: a desk's queue writes 'Waiting', then
'Consultation' (the patient is with the doctor now: FHIR's arrived), then 'Complete'. The word
was unknown, so every install's admin had to type it. It is mapped to arrived now, but only as
a value of the column chosen as the status: a ``title`` column full of 'Consultation' (the
visit's kind) in a diary that keeps no status is never taken as the status."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from clinicsync.sync.discover.sql import discover_sql

ZONE = "Asia/Kolkata"
WORDS = ("Booked", "Waiting", "Consultation", "Complete", "Cancel")


def _diary(path: Path, status_words: tuple[str, ...]) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, mobile TEXT);
            CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                                       title TEXT, start_at TEXT, end_at TEXT, status TEXT);
        """)
        connection.executemany("INSERT INTO patients (first_name, last_name, mobile) VALUES (?, ?, ?)",
                               [(f"Ravi{n}", "Kumar", f"98220{10000 + n}") for n in range(20)])
        connection.executemany(
            "INSERT INTO appointments (patient_id, title, start_at, end_at, status) VALUES (?, ?, ?, ?, ?)",
            [(1 + n % 20, "Consultation", f"{start + timedelta(days=n // 6, hours=n % 6):%Y-%m-%d %H:%M}",
              f"{start + timedelta(days=n // 6, hours=n % 6, minutes=15):%Y-%m-%d %H:%M}",
              status_words[n % len(status_words)]) for n in range(60)])


def test_consultation_in_the_status_column_is_arrived(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    _diary(path, WORDS)

    proposal = discover_sql(f"sqlite:///{path}", name="queue", timezone=ZONE, stored_times="local")

    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["status"] == {"from": "status"}, proposal.mapping["fields"].get("status")
    assert proposal.mapping["status_map"] == {"Booked": "booked", "Waiting": "arrived", "Consultation": "arrived",
                                              "Complete": "fulfilled", "Cancel": "cancelled"}


def test_a_title_column_of_consultation_is_never_the_status(tmp_path: Path) -> None:
    path = tmp_path / "codes.db"
    _diary(path, ("A1", "B2", "C3", "D4"))
    with sqlite3.connect(path) as connection:  # a diary that keeps no status at all
        connection.execute("ALTER TABLE appointments DROP COLUMN status")

    proposal = discover_sql(f"sqlite:///{path}", name="codes", timezone=ZONE, stored_times="local")

    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert fields.get("status", {}).get("from") != "title", fields.get("status")
    assert "Consultation" not in proposal.mapping.get("status_map", {}), proposal.mapping.get("status_map")
