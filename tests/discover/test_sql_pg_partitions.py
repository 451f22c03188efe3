"""A visit table partitioned by its start on PostgreSQL (``PARTITION BY RANGE``, or the older
``INHERITS`` children): each part lists as a table of the same shape beside its parent, and
PostgreSQL puts the partition column in the primary key (``PRIMARY KEY (id, starts_at)``).
discover reads the parent, which holds every part's rows (it asked which of three look-alikes
before, or would have read one year), says so, and identifies a visit by ``id`` alone: a key
read with the start changes when the visit moves, and the moved visit would come in as new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

ZONE = "America/New_York"
PEOPLE = """
CREATE TABLE patients (id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, mobile text);
CREATE TABLE doctors (id serial PRIMARY KEY, full_name text NOT NULL, email text);
INSERT INTO doctors (full_name, email) SELECT 'Dr. Doc' || n || ' Hart', 'doc' || n || '@clinic.example'
  FROM generate_series(1, 3) n;
INSERT INTO patients (first_name, last_name, mobile) SELECT 'Ana' || n, 'Lopez', '617 555 ' || (1000 + n)
  FROM generate_series(1, 40) n;
"""
COLUMNS = """id bigserial, patient_id integer NOT NULL REFERENCES patients(id),
  doctor_id integer NOT NULL REFERENCES doctors(id), starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL, status text NOT NULL"""


def _visits(cursor: psycopg.Cursor[tuple[object, ...]], count: int) -> datetime:
    """``count`` visits from tomorrow on, one an hour, the later ones in next year's part."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    cursor.executemany(
        "INSERT INTO appointments (patient_id, doctor_id, starts_at, ends_at, status) VALUES (%s, %s, %s, %s, %s)",
        [(1 + n % 40, 1 + n % 3, start + timedelta(hours=5 * n), start + timedelta(hours=5 * n, minutes=30),
          "booked") for n in range(count)])
    return start


@pytest.mark.postgres
def test_a_partitioned_visit_table_is_read_whole_and_identified_by_its_id(postgres_url: str, tmp_path: Path) -> None:
    year = datetime.now(UTC).year
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(PEOPLE)
        cursor.execute(f"CREATE TABLE appointments ({COLUMNS}, PRIMARY KEY (id, starts_at)) "
                       "PARTITION BY RANGE (starts_at)")
        for y in (year, year + 1, year + 2):
            cursor.execute(f"CREATE TABLE appointments_{y} PARTITION OF appointments "
                           f"FOR VALUES FROM ('{y}-01-01') TO ('{y + 1}-01-01')")
        _visits(cursor, 90)

    proposal = discover_sql(postgres_url, name="parts", timezone=ZONE)

    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["external_id"] == {"from": "id"}
    assert " ".join(proposal.connector["query"].split()).count("FROM appointments AS a") == 1
    assert any(f"table 'appointments' is split into partitions (appointments_{year}" in n for n in proposal.notes)
    why = next(g.why for g in proposal.guesses if g.field == "external_id")
    assert "holds 'starts_at', which changes when a visit moves: 'id' alone is unique" in why
    result = check_proposal(proposal, tmp_path, ZONE, "US")
    assert result.sampled == 90 and result.mapped == 90, result.quarantined


@pytest.mark.postgres
def test_inheritance_children_are_no_candidates(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(PEOPLE)
        cursor.execute(f"CREATE TABLE appointments ({COLUMNS}, PRIMARY KEY (id))")
        cursor.execute("CREATE TABLE appointments_y2025 () INHERITS (appointments)")
        _visits(cursor, 40)
        cursor.execute("INSERT INTO appointments_y2025 (id, patient_id, doctor_id, starts_at, ends_at, status) "
                       "SELECT 1000 + n, 1, 1, now() - n * interval '1 day', now() - n * interval '1 day' "
                       "+ interval '30 minutes', 'fulfilled' FROM generate_series(1, 30) n")

    proposal = discover_sql(postgres_url, name="parts", timezone=ZONE)

    assert " ".join(proposal.connector["query"].split()).count("FROM appointments AS a") == 1
    assert proposal.mapping is not None and proposal.mapping["fields"]["external_id"] == {"from": "id"}
