"""A polymorphic reference read type by type, on a small MariaDB schema built here (not a
product's): an id column beside a type column whose values name tables by their model's name,
without the product's table prefix ('person', 'company', 'calendar' for ``crm_person``,
``crm_company``), the companies' ids past every person's and a bigger table (the visits' note
rows) numbered past them all, so the whole column's values match the wrong table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60

DDL = """CREATE TABLE crm_person (id INT PRIMARY KEY, given_name VARCHAR(40), family_name VARCHAR(40),
  mobile VARCHAR(30));
CREATE TABLE crm_company (id INT PRIMARY KEY, title VARCHAR(60));
CREATE TABLE crm_task (id INT PRIMARY KEY, subject VARCHAR(80), about_id INT NOT NULL, about_type VARCHAR(40),
  begins DATETIME, ends DATETIME);
CREATE TABLE crm_task_note (id INT PRIMARY KEY, body TEXT, task_id INT)"""


@pytest.mark.mariadb
def test_the_id_of_the_type_that_names_the_person_table_is_the_patient(mariadb_database: dict[str, Any]) -> None:
    """``about_id`` + ``about_type``: 'person' and a person's key on most visits, 'company' and a
    company's key (numbered 500 up) on some, 'calendar' and 0 on a staff meeting. Read as a whole
    the ids are the note rows' keys (1 to 600); read on the 'person' rows they are the persons':
    the patient is joined there, with the person's name and mobile, and the other rows left out."""
    people = list(range(1, 41))
    visits, want = [], {}
    for v in range(1, VISITS + 1):
        kind = "company" if v % 6 == 0 else "calendar" if v % 10 == 7 else "person"
        about = 500 + v % 5 if kind == "company" else 0 if kind == "calendar" else people[v % 40]
        visits.append((v, f"Visit {v}", about, kind, data.visit_at(v), data.visit_at(v) + timedelta(minutes=30)))
        if kind == "person":
            want[v] = str(about)
    data.load_tables(mariadb_database, DDL, [
        ("INSERT INTO crm_person VALUES (%s, %s, 'Lang', %s)",
         [(p, f"Eva{p}", f"+49 151 {20000000 + p}") for p in people]),
        ("INSERT INTO crm_company VALUES (%s, %s)", [(500 + i, f"Firm {i}") for i in range(5)]),
        ("INSERT INTO crm_task_note VALUES (%s, %s, %s)", [(n, "called", 1 + n % VISITS) for n in range(1, 601)])])
    data.load_tables(mariadb_database, "", [("INSERT INTO crm_task VALUES (%s, %s, %s, %s, %s, %s)", visits)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    print(fields, query, proposal.notes)
    assert "crm_task_note" not in query, query
    assert "a.about_type = 'person'" in query, query
    assert fields["patient.name"] == {"concat": ["crm_person_given_name", "crm_person_family_name"]}, fields
    rows = data.proposed_rows(mariadb_database, query)
    got = {r["id"]: str(r[fields["patient.external_id"]["from"]]) for r in rows}
    assert got == {v: p for v, p in want.items()}, got
    phones = {r["id"]: r[fields["patient.phone"]["from"]] for r in rows}
    assert all(phones[v] == f"+49 151 {20000000 + int(p)}" for v, p in want.items()), phones
