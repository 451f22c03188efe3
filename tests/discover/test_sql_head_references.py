"""A visit's whole-number column named by the first letters of another table's name (``Ch`` for
``chair``), no id word and no declared key: followed to that table when its values are all that
table's keys, and the chair's name is the visit's location. Before, the column was a number no
rule read (its name says no table the usual ways, and four small numbers are the keys of every
table), and the visit had no place. Values that are not all the table's keys, or a name that
begins no table's name, are not followed. A schema built here, in SQLite, discover run on it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql

ZONE = "America/Chicago"
DDL = """
CREATE TABLE chair (ChairKey INTEGER PRIMARY KEY, label TEXT);
CREATE TABLE schedule (ScheduleKey INTEGER PRIMARY KEY, note TEXT);
CREATE TABLE doctor (doctor_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, mobile TEXT);
CREATE TABLE visit (visit_id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(patient_id),
  doctor_id INTEGER REFERENCES doctor(doctor_id), {column} INTEGER NOT NULL DEFAULT 0, status TEXT,
  starts DATETIME, minutes INTEGER);
"""


def _build(path: Path, column: str, chairs: list[int]) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as db:
        db.executescript(DDL.format(column=column))
        db.executemany("INSERT INTO chair VALUES (?, ?)", [(c, f"Chair {c}") for c in range(1, 5)])
        db.executemany("INSERT INTO schedule VALUES (?, ?)", [(s, f"week {s}") for s in range(1, 9)])
        db.executemany("INSERT INTO doctor VALUES (?, ?, ?)", [(d, f"Doc{d}", "Smith") for d in range(1, 5)])
        db.executemany("INSERT INTO patient VALUES (?, ?, ?, ?)",
                       [(p, f"Given{p}", f"Family{p}", f"(312)555-{1000 + p}") for p in range(1, 31)])
        db.executemany("INSERT INTO visit VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(n, 1 + n % 30, 1 + n % 4, chairs[n % len(chairs)], "scheduled",
                         (start + timedelta(days=n // 6, minutes=40 * (n % 6))).isoformat(" "), 30)
                        for n in range(1, 61)])


def test_a_head_of_a_table_name_holding_its_keys_is_the_chair(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    _build(path, "Ch", [0, 1, 2, 3, 4])  # 0: no chair, as such products keep it
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, region="US")
    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["location"] == {"from": "chair_label"}, proposal.mapping["fields"]
    assert 'LEFT JOIN chair AS' in proposal.connector["query"].replace('"', "")


@pytest.mark.parametrize(("column", "chairs"), [("Ch", [1, 2, 7, 8]), ("Sc", [1, 2, 3, 4]), ("Xy", [1, 2, 3])])
def test_values_not_all_keys_or_a_name_heading_no_table_are_not_followed(tmp_path: Path, column: str,
                                                                         chairs: list[int]) -> None:
    """7 and 8 are no chair; ``Sc`` begins ``schedule`` but names no room (no place is read from
    it: its rows are weeks); ``Xy`` begins no table's name."""
    path = tmp_path / "clinic.db"
    _build(path, column, chairs)
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, region="US")
    assert proposal.mapping is not None
    assert "location" not in proposal.mapping["fields"], proposal.mapping["fields"]
    assert "chair AS" not in proposal.connector["query"].replace('"', "")
