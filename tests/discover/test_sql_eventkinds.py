"""discover's rule for an agenda mixing event kinds, on a real SQL engine (SQLite in memory): the
kinds that name no patient are left out by name (``NOT IN``), so a kind the clinic adds later is
read, and a row without a kind (NULL, which ``NOT IN`` never keeps) is read unless the rows
without one were among those left out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from clinicsync.sync.discover.eventkinds import kind_filter
from clinicsync.sync.discover.graph import Table

TABLE = Table("agenda", {"id": "INTEGER", "patient_id": "INTEGER", "event_type": "VARCHAR(20)",
                         "starts": "DATETIME"}, ["id"], [], frozenset({"patient_id", "event_type"}))


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE agenda (id INTEGER PRIMARY KEY, patient_id INTEGER, event_type VARCHAR(20), "
                       "starts DATETIME)")
    yield connection
    connection.close()


def add(db: sqlite3.Connection, kind: str | None, count: int, patient: bool) -> None:
    db.executemany("INSERT INTO agenda (patient_id, event_type, starts) VALUES (?, ?, '2030-01-07 09:00')",
                   [(7 + i if patient else None, kind) for i in range(count)])


def propose(db: sqlite3.Connection) -> tuple[str, str]:
    found = kind_filter(lambda sql: db.execute(sql).fetchall(), lambda name: f'"{name}"', TABLE, "patient_id",
                        '"patient_id" IS NOT NULL')
    assert found is not None
    return found


def kept(db: sqlite3.Connection, condition: str) -> dict[str | None, int]:
    rows = db.execute(f"SELECT a.event_type, COUNT(*) FROM agenda a WHERE {condition} GROUP BY a.event_type")
    return {kind: count for kind, count in rows}


def test_patientless_kinds_left_out_and_a_later_kind_read(db: sqlite3.Connection) -> None:
    add(db, "Consultation", 30, True)
    add(db, "Blocked", 12, False)
    add(db, "Lunch break", 8, False)
    add(db, None, 4, False)  # rows without a kind, naming no one: left out with the others
    condition, note = propose(db)
    assert condition == "a.\"event_type\" NOT IN ('Blocked', 'Lunch break')"
    assert "'Blocked' (12 rows, none naming the patient), 'Lunch break' (8 rows, none naming the patient), " \
           "no kind (4 rows, none naming the patient) are no visits" in note
    assert "Consultation" not in note  # the note names what is left out, not what is kept
    add(db, "Video", 5, True)  # a kind the clinic adds after discover ran
    add(db, "Holiday", 2, False)
    # the kind condition keeps the new kinds; the Holiday rows name no patient, and the open-slot rule
    # (people.py) leaves those out in the query discover writes
    assert kept(db, condition) == {"Consultation": 30, "Video": 5, "Holiday": 2}


def test_rows_without_a_kind_read_when_they_carry_the_patient(db: sqlite3.Connection) -> None:
    add(db, "Consultation", 30, True)
    add(db, None, 6, True)  # visits entered without a kind
    add(db, "Blocked", 12, False)
    condition, note = propose(db)
    assert condition == "(a.\"event_type\" IS NULL OR a.\"event_type\" NOT IN ('Blocked'))"
    assert "no kind" not in note
    add(db, "Video", 5, True)
    assert kept(db, condition) == {"Consultation": 30, None: 6, "Video": 5}
