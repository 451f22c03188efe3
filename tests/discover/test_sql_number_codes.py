"""A status kept as bare numbers no table names (an enum of the product's code): discover maps
none, and says why and what to do with a number that is no visit; a status of words is not
concerned. A schema built here, in SQLite, discover run on it."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.discover.sql import discover_sql

ZONE = "America/Chicago"
DDL = """
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, mobile TEXT);
CREATE TABLE visit (visit_id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(patient_id),
  VisitStatus {kind}, starts DATETIME, minutes INTEGER);
"""


@pytest.mark.parametrize(("kind", "values"), [("TINYINT", [1, 1, 1, 2, 5, 7]),
                                              ("TEXT", ["scheduled", "scheduled", "done", "cancelled"])])
def test_numbers_no_table_names_are_said_unknown(tmp_path: Path, kind: str, values: list[object]) -> None:
    path = tmp_path / "clinic.db"
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with sqlite3.connect(path) as db:
        db.executescript(DDL.format(kind=kind))
        db.executemany("INSERT INTO patient VALUES (?, ?, ?, ?)",
                       [(p, f"Given{p}", f"Family{p}", f"(312)555-{1000 + p}") for p in range(1, 21)])
        db.executemany("INSERT INTO visit VALUES (?, ?, ?, ?, 30)",
                       [(n, 1 + n % 20, values[n % len(values)], (start + timedelta(hours=n)).isoformat(" "))
                        for n in range(1, 41)])
    proposal = discover_sql(f"sqlite:///{path}", name="clinic", timezone=ZONE, region="US")
    said = [n for n in proposal.notes if "holds numbers" in n]
    assert proposal.mapping is not None
    if kind == "TEXT":
        assert not said and proposal.mapping["status_map"]["done"] == "fulfilled"  # words: read, nothing to say
        return
    assert proposal.mapping["status_map"] == {}  # none guessed
    assert said == ["status: 'VisitStatus' holds numbers (1, 2, 5, 7) that no table of the database names: what "
                    "each means is the product's (its documentation), not the data's, so none is guessed; give "
                    "each its status under status_map (a number that is no visit, a plan or a note, as "
                    "entered-in-error); `check` quarantines their rows until then"], proposal.notes
