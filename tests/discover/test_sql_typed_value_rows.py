"""A visit naming its patient's bare row directly, the person's fields kept as typed value rows of
a shared table, on a schema built here from the class (no product's tables), in SQLite: the value
rows name their person in a column no name or key points at (``subject``), their kind in a kinds
table ("givenname", "birthname", "lastname", "mobile", "landline"); a changed value keeps its old
row flagged ``superseded`` 'y', a removed one ``deleted`` 'y'. Read: each field's one current row
(not flagged, newest), the name in use before the birth name, the email most people have (not the
staff's work one); no visit read twice. The diary's owner (``user_id``, a handful of persons over
every visit) is a person of the same table, named by the same typed rows (not by who typed them,
``author``)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE fact_kind (fact_kind_id INTEGER PRIMARY KEY, name VARCHAR(60), label VARCHAR(80));
CREATE TABLE person (person_id INTEGER PRIMARY KEY, kind VARCHAR(10), login VARCHAR(30), registered DATETIME);
CREATE TABLE fact (fact_id INTEGER PRIMARY KEY, subject INTEGER, author INTEGER,
  fact_kind_id INTEGER REFERENCES fact_kind(fact_kind_id), value TEXT, superseded CHAR(1) NOT NULL DEFAULT '',
  deleted CHAR(1) NOT NULL DEFAULT '', created DATETIME);
CREATE TABLE diary (diary_id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES person(person_id),
  user_id INTEGER, starts DATETIME, ends DATETIME, state VARCHAR(10), updated DATETIME)
"""
GIVEN, BIRTH, USED, MOBILE, LANDLINE, WEIGHT, HOME_MAIL, WORK_MAIL = 1, 2, 3, 4, 5, 6, 7, 8
STAFF = {11: ("Ann", "Hale"), 12: ("Bo", "Reyes"), 13: ("Cy", "Ngata")}


def build(path: Path) -> dict[str, tuple[str, ...]]:
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    connection.executemany("INSERT INTO fact_kind VALUES (?, ?, ?)", [
        (GIVEN, "givenname", "Given name"), (BIRTH, "birthname", "Birth name"), (USED, "lastname", "Name in use"),
        (MOBILE, "mobile", "Mobile"), (LANDLINE, "landline", "Landline"), (WEIGHT, "weight", "Weight"),
        (HOME_MAIL, "homemail", "Email"), (WORK_MAIL, "workmail", "Work email")])
    now = datetime.now().replace(microsecond=0)
    facts: list[tuple[int, int, str, str, str]] = []
    for staff, (given, family) in STAFF.items():
        connection.execute("INSERT INTO person VALUES (?, 'staff', ?, ?)", (staff, given.lower(), now))
        facts += [(staff, GIVEN, given, "", ""), (staff, BIRTH, family, "", ""),
                  (staff, WORK_MAIL, f"{given.lower()}@practice.example", "", "")]
    people = {}
    for p in range(1, 31):
        person = 100 + p  # the people's keys apart from the kinds' and the visits'
        connection.execute("INSERT INTO person VALUES (?, 'patient', NULL, ?)", (person, now))
        mobile = f"+447700{p:06d}"
        facts += [(person, GIVEN, f"Given{p}", "", ""), (person, BIRTH, f"Born{p}", "", ""),
                  (person, LANDLINE, f"+44208{p:07d}", "", ""), (person, WEIGHT, str(60 + p), "", ""),
                  (person, HOME_MAIL, f"p{p}@mail.example", "", "")]
        if p % 3 == 0:
            facts.append((person, MOBILE, f"+447911{p:06d}", "y", ""))  # the old mobile, replaced
        if p % 4 == 0:
            facts.append((person, MOBILE, f"+447922{p:06d}", "", "y"))  # a wrong one, removed
        facts.append((person, MOBILE, mobile, "", ""))
        if p % 5 == 0:
            facts.append((person, USED, f"Used{p}", "", ""))
        people[person] = (f"Given{p} {'Used' if p % 5 == 0 else 'Born'}{p}", mobile, f"p{p}@mail.example")
    connection.executemany("INSERT INTO fact (subject, fact_kind_id, value, superseded, deleted, created, author) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", [(*f, now, 11 + n % 3) for n, f in enumerate(facts)])
    expected = {}
    for d in range(1, 61):
        person = 101 + d % 30
        staff = 11 + d % 3
        connection.execute("INSERT INTO diary VALUES (?, ?, ?, ?, ?, 'booked', ?)",
                           (d, person, staff, now + timedelta(days=1 + d % 20, hours=d % 5),
                            now + timedelta(days=1 + d % 20, hours=d % 5, minutes=20), now))
        expected[str(d)] = (str(person), *people[person], str(staff), " ".join(STAFF[staff]))
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
    assert fields["patient.email"] == {"from": "patient_email"}, fields
    assert fields["practitioner.name"] == {"concat": ["doctor_first", "doctor_last"]}, fields
    engine = create_engine(f"sqlite:///{tmp_path / 'practice.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    assert len(rows) == len(expected)  # no visit read twice
    got = {str(r["diary_id"]): (str(r["person_id"]), f"{r['patient_first']} {r['patient_last']}",
                                r["patient_phone"], r["patient_email"], str(r["doctor_id"]),
                                f"{r['doctor_first']} {r['doctor_last']}") for r in rows}
    assert got == expected  # the current mobile, never the replaced or removed one; the name in use
