"""A visit table built here in both servers from the class (not a product's tables), with an
``is_template`` flag true on a few rows: the model a series' occurrences are copied from, no
visit, left out of the query (said with counts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.discover import ehr_support as ehr
from tests.discover import follow_support as follow

server = ehr.server

TEMPLATES = """
CREATE TABLE client (client_id INTEGER PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
  email VARCHAR(80));
CREATE TABLE booking (booking_id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL REFERENCES client,
  starts_at {TS} NOT NULL, minutes INTEGER NOT NULL, state VARCHAR(12) NOT NULL,
  is_template {BOOL} NOT NULL DEFAULT {FALSE})
"""


def _templates(cursor: Any, dialect: str) -> set[str]:
    follow.create(cursor, dialect, TEMPLATES)
    for p in range(1, 31):
        cursor.execute("INSERT INTO client VALUES (%s, %s, %s, %s)",
                       (p, f"Given{p}", f"Family{p}", f"given{p}@mail.example.org"))
    visits = set()
    for n, start in enumerate(follow.slots(60, seed=19), 1):
        model = n % 15 == 0  # the model of a client's weekly series, at its first time
        cursor.execute("INSERT INTO booking VALUES (%s, %s, %s, 45, 'booked', %s)",
                       (n, 1 + n % 30, start, model))
        if not model:
            visits.add(str(n))
    return visits


def test_a_series_template_row_is_no_visit(server: ehr.Server, tmp_path: Path, cli: Any) -> None:
    url, opener, dialect = server
    with opener() as cursor:
        visits = _templates(cursor, dialect)
    _, out, found = follow.discover_and_sync(url, tmp_path, cli, agendas=False)  # no doctor
    assert "4 of 60 rows have 'is_template' true: a series' template" in out, out
    assert set(found) == visits
