"""The visit's type is what the patient is seen for, told to them in messages: a column is placed
there only when its values say so. Two shapes real products showed, on a schema built here in
SQLite, discover run on it and its proposal checked:

- a series' repeat rule named like a type (``repeat_type``: none, weekly) — never the type;
- one lowercase code on every row of a column named like a type (a calendar's ``type`` 'pat'
  of temp/pat, a service's booking mode 'simple', the activity kind 'meeting' the rows were
  chosen by): the product's kind of record, the same for every visit, left out with the reason;
  one word as people write it on every row ('Consultation' at a one-service practice) is still
  the visit's kind, and a column whose words vary is placed."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/Denver"
VISITS = 60


def _database(path: Path, kinds: list[str | None], repeats: list[str]) -> None:
    """Visits with a ``type`` column holding ``kinds`` in turn and ``repeat_type`` ``repeats``."""
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT);
            CREATE TABLE doctors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
            CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id),
                                       doctor_id INTEGER REFERENCES doctors(id), start_at TEXT, minutes INTEGER,
                                       status TEXT NOT NULL, type TEXT, repeat_type TEXT NOT NULL);
        """)
        connection.executemany("INSERT INTO doctors (name, email) VALUES (?, ?)",
                               [(f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(3)])
        connection.executemany("INSERT INTO patients (name, phone) VALUES (?, ?)",
                               [(f"Ana{n} Lopez", f"303-555-{1000 + n}") for n in range(30)])
        connection.executemany(
            "INSERT INTO appointments (patient_id, doctor_id, start_at, minutes, status, type, repeat_type) "
            "VALUES (?, ?, ?, 20, ?, ?, ?)",
            [(1 + n % 30, 1 + n % 3, f"{start + timedelta(days=n // 8, hours=n % 8):%Y-%m-%d %H:%M}",
              "booked" if n % 5 else "cancelled", kinds[n % len(kinds)], repeats[n % len(repeats)])
             for n in range(VISITS)])


@pytest.mark.parametrize("code", ["pat", "simple", "meeting"])
def test_one_lowercase_code_on_every_row_and_a_repeat_rule_are_no_type(tmp_path: Path, code: str) -> None:
    path = tmp_path / "clinic.db"
    _database(path, [code], ["none", "none", "weekly"])
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local")
    assert proposal.mapping is not None
    assert "type" not in proposal.mapping["fields"], proposal.mapping["fields"].get("type")
    said = " ".join(proposal.notes + proposal.unplaced)
    assert "'type'" in said and "one lowercase code on all" in said, said
    assert "'repeat_type' is a series' repeat rule" in said, said
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined


@pytest.mark.parametrize("kinds", [["Consultation"], ["follow_up", "new_patient", "annual"]])
def test_a_word_as_people_write_it_or_varying_codes_are_the_type(tmp_path: Path, kinds: list[str | None]) -> None:
    path = tmp_path / "clinic.db"
    _database(path, kinds, ["weekly"])
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, stored_times="local")
    assert proposal.mapping is not None
    assert proposal.mapping["fields"].get("type") == {"from": "type"}, proposal.mapping["fields"].get("type")
