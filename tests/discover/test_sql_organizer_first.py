"""A visit's participants kept as one JSON text, the organizer first, on a small MariaDB schema
built here (not a product's): ``session.guests`` is a JSON list of ``{"name", "email", "role"}``
objects, the doctor who owns the diary first (``role`` 'CHAIR'), the patient after; no patient
table, no patient column."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
DOCTORS = [("Anna Hart", "hart@practice.example"), ("Ben Cole", "cole@practice.example")]

DDL = """CREATE TABLE session (id INT PRIMARY KEY, title VARCHAR(80), starts_at DATETIME, ends_at DATETIME,
  guests TEXT)"""


@pytest.mark.mariadb
def test_the_patient_is_the_first_participant_after_the_organizer(mariadb_database: dict[str, Any]) -> None:
    """The first entry's role says the chair on every list and on no other entry: the patient's
    email and name are read from the entries after it, never the doctor's."""
    rows, want = [], {}
    for v in range(1, VISITS + 1):
        doctor = DOCTORS[v % 2]
        patient = (f"Eva Lang{v % 40}", f"eva.lang{v % 40}@mail.example")
        guests = [{"name": doctor[0], "email": doctor[1], "role": "CHAIR", "status": "ACCEPTED"},
                  {"name": patient[0], "email": patient[1], "role": "REQ-PARTICIPANT", "status": "NEEDS-ACTION"}]
        rows.append((v, "Consult", data.visit_at(v), data.visit_at(v) + timedelta(minutes=20), json.dumps(guests)))
        want[v] = patient
    data.load_tables(mariadb_database, DDL, [("INSERT INTO session VALUES (%s, %s, %s, %s, %s)", rows)])
    fields, _, proposal = data.berlin_proposal(mariadb_database)
    print(fields, proposal.notes)
    assert fields["patient.email"] == {"from": ["guests[1].email", "guests[2].email"]}, fields
    assert fields["patient.name"] == {"from": ["guests[1].name", "guests[2].name"]}, fields


@pytest.mark.mariadb
def test_a_row_with_no_participants_names_no_patient(mariadb_database: dict[str, Any]) -> None:
    """A day off or a break (``guests`` empty: '', '[]' or NULL) is left out of the query, with a
    note; every row with participants is read."""
    rows, want = [], set()
    for v in range(1, VISITS + 1):
        guests = [{"name": DOCTORS[0][0], "email": DOCTORS[0][1], "role": "CHAIR"},
                  {"name": f"Eva Lang{v}", "email": f"eva.lang{v}@mail.example", "role": "REQ-PARTICIPANT"}]
        empty = ("", "[]", None)[v % 3] if v % 8 == 0 else "x"
        rows.append((v, "Consult" if empty == "x" else "Day off", data.visit_at(v),
                     data.visit_at(v) + timedelta(minutes=20), json.dumps(guests) if empty == "x" else empty))
        if empty == "x":
            want.add(v)
    data.load_tables(mariadb_database, DDL, [("INSERT INTO session VALUES (%s, %s, %s, %s, %s)", rows)])
    _, query, proposal = data.berlin_proposal(mariadb_database)
    print(query, proposal.notes)
    assert any("rows have no 'guests'" in n for n in proposal.notes), proposal.notes
    assert {r["id"] for r in data.proposed_rows(mariadb_database, query)} == want
