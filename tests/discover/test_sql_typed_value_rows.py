"""A visit naming its patient's bare row directly, the person's fields kept as typed value rows of
a shared table, on a schema built here from the class (no product's tables), in SQLite: the value
rows name their person in a column no name or key points at (``subject``), their kind in a kinds
table ("givenname", "birthname", "lastname", "mobile", "landline"); a changed value keeps its old
row flagged ``superseded`` 'y', a removed one ``deleted`` 'y'. Read: each field's one current row
(not flagged, newest), the name in use before the birth name; no visit read twice."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE fact_kind (fact_kind_id INTEGER PRIMARY KEY, name VARCHAR(60), label VARCHAR(80));
CREATE TABLE person (person_id INTEGER PRIMARY KEY, kind VARCHAR(10), login VARCHAR(30), registered DATETIME);
CREATE TABLE fact (fact_id INTEGER PRIMARY KEY, subject INTEGER,
  fact_kind_id INTEGER REFERENCES fact_kind(fact_kind_id), value TEXT, superseded CHAR(1) NOT NULL DEFAULT '',
  deleted CHAR(1) NOT NULL DEFAULT '', created DATETIME);
CREATE TABLE diary (diary_id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES person(person_id),
  starts DATETIME, ends DATETIME, state VARCHAR(10), updated DATETIME)
"""
GIVEN, BIRTH, USED, MOBILE, LANDLINE, WEIGHT = 1, 2, 3, 4, 5, 6


def build(path: Path) -> dict[str, tuple[str, str, str]]:
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    connection.executemany("INSERT INTO fact_kind VALUES (?, ?, ?)", [
        (GIVEN, "givenname", "Given name"), (BIRTH, "birthname", "Birth name"), (USED, "lastname", "Name in use"),
        (MOBILE, "mobile", "Mobile"), (LANDLINE, "landline", "Landline"), (WEIGHT, "weight", "Weight")])
    now = datetime.now().replace(microsecond=0)
    facts: list[tuple[int, int, str, str, str]] = []
    people = {}
    for p in range(1, 31):
        person = 100 + p  # the people's keys apart from the kinds' and the visits'
        connection.execute("INSERT INTO person VALUES (?, 'patient', NULL, ?)", (person, now))
        mobile = f"+447700{p:06d}"
        facts += [(person, GIVEN, f"Given{p}", "", ""), (person, BIRTH, f"Born{p}", "", ""),
                  (person, LANDLINE, f"+44208{p:07d}", "", ""), (person, WEIGHT, str(60 + p), "", "")]
        if p % 3 == 0:
            facts.append((person, MOBILE, f"+447911{p:06d}", "y", ""))  # the old mobile, replaced
        if p % 4 == 0:
            facts.append((person, MOBILE, f"+447922{p:06d}", "", "y"))  # a wrong one, removed
        facts.append((person, MOBILE, mobile, "", ""))
        if p % 5 == 0:
            facts.append((person, USED, f"Used{p}", "", ""))
        people[person] = (f"Given{p} {'Used' if p % 5 == 0 else 'Born'}{p}", mobile)
    connection.executemany("INSERT INTO fact (subject, fact_kind_id, value, superseded, deleted, created) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [(*f, now) for f in facts])
    expected = {}
    for d in range(1, 61):
        person = 101 + d % 30
        connection.execute("INSERT INTO diary VALUES (?, ?, ?, ?, 'booked', ?)",
                           (d, person, now + timedelta(days=1 + d % 20, hours=d % 5),
                            now + timedelta(days=1 + d % 20, hours=d % 5, minutes=20), now))
        expected[str(d)] = (str(person), *people[person])
    connection.commit()
    connection.close()
    return expected


def test_typed_value_rows_of_the_patient_row(tmp_path: Path) -> None:
    expected = build(tmp_path / "practice.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'practice.db'}", name="practice", clinic_zone="Europe/London",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert fields["patient.phone"] == {"from": "patient_phone"}, (fields, query)
    assert fields["patient.name"] == {"concat": ["patient_first", "patient_last"]}, fields
    engine = create_engine(f"sqlite:///{tmp_path / 'practice.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    assert len(rows) == len(expected)  # no visit read twice
    got = {str(r["diary_id"]): (str(r["person_id"]), f"{r['patient_first']} {r['patient_last']}",
                                r["patient_phone"]) for r in rows}
    assert got == expected  # the current mobile, never the replaced or removed one; the name in use
