"""`rescheduled` read from the data on the real PostgreSQL: where the visit table refers to its
own key and rows carrying the word are named by newer rows, discover proposes `replaces` on that
column and maps the word to cancelled (the pair one moved visit); where no row with the word is
named (the product moves the row itself, or keeps no link), it leaves the word unmapped and asks."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from clinicsync.sync.discover.sql import discover_sql
from tests.discover.files_support import check_proposal

DDL = """
CREATE TABLE patients (id serial PRIMARY KEY, name text NOT NULL, phone text NOT NULL);
CREATE TABLE visits (
  id serial PRIMARY KEY, patient_id integer NOT NULL REFERENCES patients(id), starts_at timestamp NOT NULL,
  ends_at timestamp NOT NULL, status text NOT NULL, rescheduled_from integer REFERENCES visits(id),
  updated_at timestamp NOT NULL);
"""


def _source(url: str, linked: bool) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(DDL)
        cursor.executemany("INSERT INTO patients (name, phone) VALUES (%s, %s)",
                           [(f"Ana{n} Lopez", f"+34 612 345 {n:03d}") for n in range(30)])
        for n in range(60):
            at = start + timedelta(days=n // 6, minutes=45 * (n % 6))
            cursor.execute("INSERT INTO visits (patient_id, starts_at, ends_at, status, updated_at) "
                           "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                           (1 + n % 30, at, at + timedelta(minutes=30), "rescheduled" if n % 6 == 0 else "scheduled",
                            datetime(2026, 1, 5, 10)))
            old = cursor.fetchone()[0]  # type: ignore[index]
            if n % 6 == 0:  # moved: a newer row at a later time, naming the old one (or not)
                cursor.execute("INSERT INTO visits (patient_id, starts_at, ends_at, status, rescheduled_from, "
                               "updated_at) VALUES (%s, %s, %s, 'scheduled', %s, %s)",
                               (1 + n % 30, at + timedelta(days=1), at + timedelta(days=1, minutes=30),
                                old if linked else None, datetime(2026, 1, 5, 11)))


@pytest.mark.postgres
def test_successor_rows_are_read_from_the_data(postgres_url: str, tmp_path: Path) -> None:
    _source(postgres_url, linked=True)
    proposal = discover_sql(postgres_url, name="moves", timezone="Europe/Madrid")
    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["replaces"] == {"from": "rescheduled_from"}
    assert proposal.mapping["status_map"] == {"scheduled": "booked", "rescheduled": "cancelled"}
    assert any("mark the old row of a move" in n for n in proposal.notes)
    assert not any("left unmapped" in n for n in proposal.notes)
    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")  # the written files load and map
    assert result.sampled == 70 and result.mapped == 70 and not result.quarantined, result.quarantined


@pytest.mark.postgres
def test_without_a_successor_discover_asks(postgres_url: str) -> None:
    _source(postgres_url, linked=False)
    proposal = discover_sql(postgres_url, name="moves", timezone="Europe/Madrid")
    assert proposal.mapping is not None
    assert "replaces" not in proposal.mapping["fields"]
    assert proposal.mapping["status_map"] == {"scheduled": "booked"}
    assert {w.value: w.status for w in proposal.status_words}["rescheduled"] is None
    assert any("'rescheduled' left unmapped" in n for n in proposal.notes)
