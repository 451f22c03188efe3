"""A visit's status kept on its one-to-one child row, on a small MariaDB schema built here (not a
product's): ``encounter`` has no status column; ``encounter_extra`` holds one row per encounter
(most of them) with its ``state`` 'Confirmed' or 'Cancelled' and a colour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60

DDL = """CREATE TABLE person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE encounter (id INT PRIMARY KEY, person_id INT, starts_at DATETIME, ends_at DATETIME,
  FOREIGN KEY (person_id) REFERENCES person (id));
CREATE TABLE encounter_extra (id INT PRIMARY KEY, encounter_id INT, state VARCHAR(20), colour VARCHAR(10),
  FOREIGN KEY (encounter_id) REFERENCES encounter (id))"""


@pytest.mark.mariadb
def test_the_status_on_the_visit_s_one_child_row_is_the_visit_s(mariadb_database: dict[str, Any]) -> None:
    """The child row is joined by the visit's key, its ``state`` read as the status with its words
    over the whole table: a cancelled visit is cancelled, not booked."""
    visits, extras, want = [], [], {}
    for v in range(1, VISITS + 1):
        visits.append((v, 1 + v % 40, data.visit_at(v), data.visit_at(v) + timedelta(minutes=30)))
        if v % 10 != 3:  # a few visits never got their extra row
            state = "Cancelled" if v % 7 == 2 else "Confirmed"
            extras.append((100 + v, v, state, "#6389de"))
            want[v] = state
        else:
            want[v] = None
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                           for p in range(1, 41)]),
        ("INSERT INTO encounter VALUES (%s, %s, %s, %s)", visits),
        ("INSERT INTO encounter_extra VALUES (%s, %s, %s, %s)", extras)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes, proposal.status_words)
    assert fields.get("status") == {"from": "encounter_extra_state"}, fields
    words = {w.value: w.status for w in proposal.status_words}
    assert words == {"Confirmed": "booked", "Cancelled": "cancelled"}, words
    got = {r["id"]: r["encounter_extra_state"] for r in data.proposed_rows(mariadb_database, query)}
    assert got == want, got
