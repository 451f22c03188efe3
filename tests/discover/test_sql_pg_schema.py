"""A PostgreSQL database whose application keeps its tables in a schema of its own, not in the
login's default ``public``: discover finds the schema (the one holding tables named like
appointments), reads it, and writes a URL that puts it on the search path, so the connector's
own connections read the same tables and `check` maps every visit; ``--table schema.table``
names it outright, and two candidate schemas are asked about, never guessed. Each test runs in
a database of its own: the suite's other tests keep their tables in schemas of the shared one."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from clinicsync.sync.discover.sql import DiscoverError, discover_sql
from tests.discover.files_support import check_proposal

VISITS = 80


def _tables(schema: str) -> str:
    return f"""
CREATE SCHEMA {schema};
CREATE TABLE {schema}.patients (id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, mobile text);
CREATE TABLE {schema}.doctors (id serial PRIMARY KEY, full_name text NOT NULL, email text);
CREATE TABLE {schema}.appointments (
  id serial PRIMARY KEY, patient_id integer NOT NULL REFERENCES {schema}.patients(id),
  doctor_id integer NOT NULL REFERENCES {schema}.doctors(id), starts_at timestamp NOT NULL,
  ends_at timestamp NOT NULL, status text NOT NULL);
"""


def _fill(url: str, schema: str) -> None:
    start = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(_tables(schema))
        cursor.executemany(f"INSERT INTO {schema}.doctors (full_name, email) VALUES (%s, %s)",
                           [(f"Dr. Doc{n} Hart", f"doc{n}@clinic.example") for n in range(3)])
        cursor.executemany(f"INSERT INTO {schema}.patients (first_name, last_name, mobile) VALUES (%s, %s, %s)",
                           [(f"Ana{n}", "Lopez", f"617 555 {1000 + n}") for n in range(40)])
        cursor.executemany(
            f"INSERT INTO {schema}.appointments (patient_id, doctor_id, starts_at, ends_at, status) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(1 + n % 40, 1 + n % 3, start + timedelta(days=n // 8, hours=n % 8),
              start + timedelta(days=n // 8, hours=n % 8, minutes=30), "booked") for n in range(VISITS)])


@pytest.mark.postgres
def test_tables_in_their_own_schema_are_found_and_read_by_the_connector(database: str, tmp_path: Path) -> None:
    _fill(database, "practice")

    proposal = discover_sql(database, name="practice", timezone="America/New_York")

    written = make_url(proposal.connector["url"])
    assert written.query["options"] == "-csearch_path=practice"
    assert any("schema 'practice'" in note for note in proposal.notes)
    result = check_proposal(proposal, tmp_path, "America/New_York", "US")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined


@pytest.mark.postgres
def test_a_schema_named_with_the_table_and_two_candidates_asked_about(database: str) -> None:
    _fill(database, "practice")
    _fill(database, "practice_copy")

    with pytest.raises(DiscoverError, match=r"several schemas do \(practice, practice_copy\)"):
        discover_sql(database, name="practice", timezone="America/New_York")
    proposal = discover_sql(database, name="practice", timezone="America/New_York",
                            table="practice_copy.appointments")
    assert make_url(proposal.connector["url"]).query["options"] == "-csearch_path=practice_copy"
    assert "FROM appointments" in " ".join(proposal.connector["query"].split())
