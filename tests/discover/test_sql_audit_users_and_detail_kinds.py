"""Four rules met together on one shape, each on a schema built here: a reference named for a
write verb and a user (``change_user_id``) records who last saved the row, never the patient;
a contact word glued to any head word (``useremail``) says what the column holds (vocab.py);
a person's contact details kept as typed rows with a second type column that only the phone rows
fill (MOBILE/LANDLINE) are typed by the column every row fills (subtypes.py); a table that
declares no primary key has its NOT NULL whole-number ``id`` as its key (graph.py), so its
newest row is found."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover import subtypes
from clinicsync.sync.discover.graph import Table
from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, useremail TEXT);
CREATE TABLE person (id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL);
CREATE TABLE person_detail (id INTEGER NOT NULL, person_id INTEGER NOT NULL REFERENCES person(id),
    detail_type TEXT, phone_type TEXT, information TEXT);
CREATE TABLE call (id INTEGER PRIMARY KEY, change_user_id INTEGER REFERENCES users(id),
    person_id INTEGER NOT NULL REFERENCES person(id), call_at TIMESTAMP NOT NULL, outcome TEXT,
    staff_id INTEGER REFERENCES users(id));
"""


def build(path: Path) -> dict[str, tuple[str, str, str]]:
    """Forty people (a landline row, then a mobile row, then an email row each), 120 calls ahead
    by three staff; per call the person's id, mobile and email."""
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    for s, (first, last) in enumerate([("Ana", "Ruiz"), ("Ben", "Cole"), ("Cem", "Aydin")], start=1):
        connection.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (s, first, last, f"{first.lower()}@office.test"))
    people = {}
    row = 0
    for p in range(1, 41):
        connection.execute("INSERT INTO person VALUES (?, ?, ?)", (p, f"Given{p}", f"Family{p}"))
        mobile, email = f"+4915123{p:06d}", f"person{p}@mail.test"
        for kind, sub, value in (("PHONE", "LANDLINE", f"+49221{p:07d}"), ("PHONE", "MOBILE", mobile),
                                 ("EMAIL", None, email)):
            row += 1
            connection.execute("INSERT INTO person_detail VALUES (?, ?, ?, ?, ?)", (row, p, kind, sub, value))
        people[p] = (mobile, email)
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    expected = {}
    for c in range(1, 121):
        p = 1 + c % 40
        connection.execute("INSERT INTO call VALUES (?, NULL, ?, ?, 'planned', ?)",
                           (c, p, start + timedelta(days=c // 8, minutes=30 * (c % 8)), 1 + c % 3))
        expected[str(c)] = (str(p), *people[p])
    connection.commit()
    connection.close()
    return expected


def test_the_audit_user_is_no_patient_and_typed_details_are_read_by_their_row_type(tmp_path: Path) -> None:
    build(tmp_path / "calls.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'calls.db'}", name="calls", clinic_zone="Europe/Berlin",
                            stored_times="local")
    fields = (proposal.mapping or {})["fields"]
    assert fields["patient.external_id"] == {"from": "person_id"}, fields
    assert "patient.phone" in fields and "patient.email" in fields, fields
    assert fields["practitioner.email"] == {"from": "staff_useremail"}, fields.get("practitioner.email")
    query = proposal.connector["query"]
    assert "'MOBILE'" not in query and "'PHONE'" in query and "'EMAIL'" in query, query


def _row_type(tmp_path: Path, rows: list[tuple[int, str, str | None]]) -> str | None:
    """subtypes.row_type on a real SQLite table of (id, kind, sub) rows."""
    tmp_path.mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'kinds.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE detail (id INTEGER PRIMARY KEY, kind_type TEXT, sub_type TEXT)"))
        for row in rows:
            connection.execute(text("INSERT INTO detail VALUES (:i, :k, :s)"), {"i": row[0], "k": row[1], "s": row[2]})
        table = Table("detail", {"id": "INTEGER", "kind_type": "TEXT", "sub_type": "TEXT"}, ["id"], [])
        return subtypes.row_type(lambda sql: list(connection.execute(text(sql)).all()), lambda name: f'"{name}"',
                                 table, ["kind_type", "sub_type"], "sqlite")


def test_a_second_type_column_filled_at_random_types_no_kind(tmp_path: Path) -> None:
    """The row type is chosen only beside a true sub-type: a second column empty here and there
    on rows of every code (a blood group left out) leaves both unread, as before."""
    subtyped = [(n, ("PHONE", "EMAIL")[n % 2], "MOBILE" if n % 2 == 0 else None) for n in range(1, 41)]
    assert _row_type(tmp_path / "a", subtyped) == "kind_type"
    random = [(n, ("A", "B")[n % 2], None if n % 3 == 0 else "x") for n in range(1, 41)]
    assert _row_type(tmp_path / "b", random) is None
