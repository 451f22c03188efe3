"""A person's emails as rows of their own, one marked primary, with a unique index on the person
*among the primary rows only* (``CREATE UNIQUE INDEX … (person_id) WHERE is_primary``: a web
framework's way to keep one primary address a person). Not any product's tables. The index says
nothing of the other rows: a person has several, so the table is no one-row-a-person extension of
the person (extension.py) but a contact table whose one row is picked, the primary first
(contactrows.py); joined as an extension it multiplied the visits and gave a patient an old
address. On PostgreSQL and SQLite (MariaDB has no partial index): discover --write, sync --once,
every visit's patient email and doctor email, and no visit twice."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.discover import follow_support as follow

DDL = """
CREATE TABLE people (id INTEGER PRIMARY KEY, first_name VARCHAR(40) NOT NULL, last_name VARCHAR(40) NOT NULL,
  mobile VARCHAR(30));
CREATE TABLE people_emails (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id),
  email VARCHAR(80) NOT NULL, is_primary BOOLEAN NOT NULL);
CREATE UNIQUE INDEX people_emails_one_primary ON people_emails (person_id) WHERE is_primary;
CREATE TABLE doctors (id INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL, email VARCHAR(80));
CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES people(id),
  doctor_id INTEGER NOT NULL REFERENCES doctors(id), starts_at TIMESTAMP NOT NULL, ends_at TIMESTAMP NOT NULL,
  status VARCHAR(20) NOT NULL);
"""
GIVEN = ["Ana", "Luis", "Marta", "Jonas", "Eva", "Karim", "Nadia", "Paul", "Sara", "Tomas", "Ines"]
FAMILY = ["Diaz", "Rey", "Novak", "Berg", "Costa", "Haddad", "Ivanova", "Moreau", "Lind"]


def _fill(execute: Any, many: Any) -> dict[str, str]:
    """The tables and rows (``execute``/``many`` run SQL with ``%s`` placeholders); each visit's
    patient email as the store must hold it, by the visit's id."""
    for statement in DDL.split(";"):
        if statement.strip():
            execute(statement)
    many("INSERT INTO people VALUES (%s, %s, %s, %s)",
         [(p, GIVEN[p % 11], FAMILY[p % 9], f"617 555 {1000 + p}") for p in range(1, 31)])
    emails, key = [], 0
    for p in range(1, 31):
        key += 1
        emails.append((key, p, f"{GIVEN[p % 11]}.{FAMILY[p % 9]}{p}@mail.example".lower(), True))
        if p % 2:  # an older address kept beside it, added later (a higher key): never the one used
            key += 1
            emails.append((key, p, f"old{p}@former.example", False))
    many("INSERT INTO people_emails VALUES (%s, %s, %s, %s)", emails)
    many("INSERT INTO doctors VALUES (%s, %s, %s)",
         [(1, "Dr. Ines Varga", "i.varga@clinic.example"), (2, "Dr. Tomas Reyes", "t.reyes@clinic.example")])
    rows, want = [], {}
    for n, start in enumerate(follow.slots(40, seed=8)):
        p = 1 + (n * 7 + 3) % 30
        rows.append((n + 1, p, 1 + n % 2, start, start + timedelta(minutes=30), "booked"))
        want[str(n + 1)] = f"{GIVEN[p % 11]}.{FAMILY[p % 9]}{p}@mail.example".lower()
    many("INSERT INTO appointments VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return want


def _check(url: str, tmp_path: Path, cli: Any, want: dict[str, str]) -> None:
    _, _, found = follow.discover_and_sync(url, tmp_path, cli)
    assert set(found) == set(want)
    emails = {k: (v.get("patient") or {}).get("email") for k, v in found.items()}
    assert emails == want


@pytest.mark.postgres
def test_on_postgresql(postgres_url: str, tmp_path: Path, cli: Any) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        want = _fill(cursor.execute, cursor.executemany)
    _check(postgres_url, tmp_path, cli, want)


def test_on_sqlite(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "clinic.sqlite"
    with sqlite3.connect(path) as db:
        want = _fill(lambda sql, args=(): db.execute(sql.replace("%s", "?"), args),
                     lambda sql, rows: db.executemany(sql.replace("%s", "?"),
                                                      [tuple(str(v) if hasattr(v, "isoformat") else v for v in r)
                                                       for r in rows]))
    _check(f"sqlite:///{path}", tmp_path, cli, want)
