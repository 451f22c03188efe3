"""A patient kept as attribute rows, on a schema built here from the class (no product's
tables), in SQLite: the visit names a case, the case a client row with no name or contact column;
the client's attributes are rows (client, attribute id, value), the attribute named in a
definitions table ("Given name", "Family name", "Cell phone", "Landline", "Reference no").
The client's id, its name from the two name attributes and its phone from the mobile attribute
are read, each attribute joined once; a product's item rows keyed the same way but holding no
phone (a case's lab results) are nobody's contact."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from clinicsync.sync.discover.sql import discover_sql

DDL = """
CREATE TABLE attribute_def (attribute_def_id INTEGER PRIMARY KEY, name VARCHAR(80), value_type VARCHAR(20));
CREATE TABLE client (client_id INTEGER PRIMARY KEY, code VARCHAR(20), created DATETIME, updated DATETIME);
CREATE TABLE client_attribute (client_id INTEGER REFERENCES client(client_id),
  attribute_def_id INTEGER REFERENCES attribute_def(attribute_def_id), value VARCHAR(200),
  PRIMARY KEY (client_id, attribute_def_id));
CREATE TABLE test_def (test_def_id INTEGER PRIMARY KEY, name VARCHAR(80));
CREATE TABLE clinic_case (case_id INTEGER PRIMARY KEY, client_id INTEGER REFERENCES client(client_id),
  opened_on DATE);
CREATE TABLE case_result (case_id INTEGER REFERENCES clinic_case(case_id),
  test_def_id INTEGER REFERENCES test_def(test_def_id), value VARCHAR(40), PRIMARY KEY (case_id, test_def_id));
CREATE TABLE follow_up (follow_up_id INTEGER PRIMARY KEY, case_id INTEGER REFERENCES clinic_case(case_id),
  scheduled_at DATETIME, status VARCHAR(20), created DATETIME, updated DATETIME)
"""


def build(path: Path) -> dict[str, tuple[str, str, str]]:
    connection = sqlite3.connect(path)
    connection.executescript(DDL)
    connection.executemany("INSERT INTO attribute_def VALUES (?, ?, 'TEXT')",
                           [(1, "Reference no"), (2, "Given name"), (3, "Family name"), (4, "Landline"),
                            (5, "Cell phone")])
    connection.executemany("INSERT INTO test_def VALUES (?, ?)", [(1, "Hb"), (2, "Weight")])
    now = datetime.now().replace(microsecond=0)
    people = {}
    for c in range(1, 31):
        connection.execute("INSERT INTO client VALUES (?, ?, ?, ?)", (c, f"C{c:04d}", now, now))
        mobile = f"+4475{c:08d}"
        rows = [(1, f"R-{c:05d}"), (2, f"Given{c}"), (3, f"Family{c}"), (4, f"+44208{c:07d}"), (5, mobile)]
        connection.executemany("INSERT INTO client_attribute VALUES (?, ?, ?)", [(c, a, v) for a, v in rows])
        connection.execute("INSERT INTO clinic_case VALUES (?, ?, ?)", (c, c, date.today()))
        connection.executemany("INSERT INTO case_result VALUES (?, ?, ?)", [(c, 1, "12.5"), (c, 2, "70")])
        people[c] = (f"Given{c} Family{c}", mobile)
    expected = {}
    for f in range(1, 81):
        c = 1 + f % 30
        connection.execute("INSERT INTO follow_up VALUES (?, ?, ?, 'booked', ?, ?)",
                           (f, c, now + timedelta(days=1 + f % 20, hours=f % 5), now - timedelta(days=3), now))
        expected[str(f)] = (str(c), *people[c])
    connection.commit()
    connection.close()
    return expected


def test_a_client_kept_as_attribute_rows(tmp_path: Path) -> None:
    expected = build(tmp_path / "registry.db")
    proposal = discover_sql(f"sqlite:///{tmp_path / 'registry.db'}", name="registry", clinic_zone="Europe/London",
                            stored_times="local")
    fields, query = (proposal.mapping or {})["fields"], proposal.connector["query"]
    assert fields["patient.external_id"] == {"from": "patient_id"}, fields
    assert fields["patient.name"] == {"concat": ["patient_first", "patient_last"]}, fields
    assert fields["patient.phone"] == {"from": "patient_phone"}, fields
    assert "case_result" not in query, query  # a case's results are nobody's contact
    assert query.count("JOIN client_attribute") == 3, query
    engine = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    with engine.connect() as connection:
        rows = connection.execute(text(query), {"window_start": datetime(2000, 1, 1),
                                                "window_end": datetime(2100, 1, 1)}).mappings().all()
    got = {str(r["follow_up_id"]): (str(r["patient_id"]), f"{r['patient_first']} {r['patient_last']}",
                                    r["patient_phone"]) for r in rows}
    assert got == expected  # every visit: the client's id, name and mobile (never the landline)
