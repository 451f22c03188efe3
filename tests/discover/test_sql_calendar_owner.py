"""A class of desktop EMR agendas, on a small MariaDB schema built here (not a product's): each
doctor keeps a book of visits (a calendar, agenda or diary table with a label, 'Agenda Dr Morel'),
every visit names the book it is booked in, and no practitioner table is in this database (the
users live elsewhere). The book the visit names is its doctor: each gets its own calendar and
agenda, said so in the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.discover import sql_support as data

VISITS = 60
BOOKS = ["Agenda Dr Claire Morel", "Agenda Dr Paul Garnier", "Agenda Dr Anne Lefort"]


@pytest.mark.mariadb
@pytest.mark.parametrize("book", ["calendar", "agenda", "diary"])
def test_the_book_a_visit_is_booked_in_is_its_doctor(mariadb_database: dict[str, Any], book: str) -> None:
    ddl = f"""CREATE TABLE {book} (id INT PRIMARY KEY, label VARCHAR(80), default_minutes INT);
CREATE TABLE client (id INT PRIMARY KEY, full_name VARCHAR(80), mobile VARCHAR(30));
CREATE TABLE booking (id INT PRIMARY KEY, {book}_id INT, client_id INT, begins DATETIME, ends DATETIME,
  FOREIGN KEY ({book}_id) REFERENCES {book} (id), FOREIGN KEY (client_id) REFERENCES client (id))"""
    visits = []
    for v in range(1, VISITS + 1):
        begins = data.visit_at(v)
        visits.append((v, 1 + v % 3, 1 + v % 20, begins, begins + timedelta(minutes=15)))
    data.load_tables(mariadb_database, ddl, [
        (f"INSERT INTO {book} VALUES (%s, %s, 15)", [(1 + i, label) for i, label in enumerate(BOOKS)]),
        ("INSERT INTO client VALUES (%s, %s, %s)", [(1 + c, f"Client{c} Durand", f"+33 6 12 34 {c:02d} 00")
                                                     for c in range(20)]),
        ("INSERT INTO booking VALUES (%s, %s, %s, %s, %s)", visits)])
    fields, query, proposal = data.berlin_proposal(mariadb_database)
    assert fields.get("practitioner.external_id") == {"from": f"{book}_id"}, (fields, proposal.notes)
    rows = {r["id"]: r for r in data.proposed_rows(mariadb_database, query)}
    name = fields["practitioner.name"]["from"]
    assert {v: rows[v][name] for v in rows} == {v: BOOKS[v % 3] for v in range(1, VISITS + 1)}
    assert any("owns its calendar" in n for n in proposal.notes), proposal.notes
