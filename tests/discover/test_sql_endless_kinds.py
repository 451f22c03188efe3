"""Tasks kept in the visits' table, on a small MariaDB schema built here (not a product's): one
``activity`` table, its kind code ``kind`` ('visit' or 'meeting' for booked rows with an end,
NULL for a to-do with a due moment and no end), every row naming the person it is about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

ROWS = 80

DDL = """CREATE TABLE person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40), mobile VARCHAR(30));
CREATE TABLE activity (id INT PRIMARY KEY, person_id INT, kind VARCHAR(20), starts_at DATETIME, ends_at DATETIME,
  FOREIGN KEY (person_id) REFERENCES person (id))"""


@pytest.mark.mariadb
def test_a_kind_whose_rows_have_a_start_and_never_an_end_is_no_visit(mariadb_database: dict[str, Any]) -> None:
    """The to-dos name the patient as the visits do, so only their missing end tells them apart:
    the query leaves the rows without a kind out (said in a note) and reads every visit."""
    rows, want = [], set()
    for v in range(1, ROWS + 1):
        start = data.visit_at(v)
        todo = v % 4 == 0
        kind = None if todo else ("visit", "visit", "meeting")[v % 3]
        rows.append((v, 1 + v % 40, kind, start, None if todo else start + timedelta(minutes=20)))
        if not todo:
            want.add(v)
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO person VALUES (%s, %s, 'Lang', %s)", [(p, f"Eva{p}", f"+49 151 {20000000 + p}")
                                                           for p in range(1, 41)]),
        ("INSERT INTO activity VALUES (%s, %s, %s, %s, %s)", rows)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert any("have a start and no end" in n for n in proposal.notes), proposal.notes
    assert {r["id"] for r in data.proposed_rows(mariadb_database, query)} == want
