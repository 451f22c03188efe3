"""A product that keeps the visit's length on its service (some visits with a length of their
own, some without; one service with none) and types two numbers in some phone cells, on the real
PostgreSQL: discover reads the service's default length after the visit's own, and `check` maps
every visit that has a length in reach, keeping the mobile of every two-number cell. The visits
of the service without a default are the only ones refused ("end: missing"), naming the clinic's
default slot as the fix."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from clinicsync.mappings.model import MappingError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.ingest.source_settings import mapping_for
from tests.discover.files_support import check_proposal, window_rows

DDL = """
CREATE TABLE patients (id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, mobile text);
CREATE TABLE services (id serial PRIMARY KEY, name text NOT NULL, default_duration_minutes integer);
CREATE TABLE appointments (
  id serial PRIMARY KEY, patient_id integer NOT NULL REFERENCES patients(id),
  service_id integer NOT NULL REFERENCES services(id), start_time timestamp NOT NULL, duration integer,
  status text NOT NULL, updated_at timestamp NOT NULL);
"""
VISITS = 120


@pytest.mark.postgres
def test_a_joined_default_length_and_two_number_cells(postgres_url: str, tmp_path: Path) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(DDL)
        cursor.executemany("INSERT INTO patients (first_name, last_name, mobile) VALUES (%s, %s, %s)",
                           [(f"Ana{n}", "Lopez", f"91 555 {n:02d} 10 / 612 345 {n:03d}" if n % 5 == 0
                             else f"612 345 {n:03d}") for n in range(40)])
        cursor.executemany("INSERT INTO services (name, default_duration_minutes) VALUES (%s, %s)",
                           [("General", 20), ("Dental", 45), ("Physio", 30), ("Walk-in", None)])
        cursor.executemany(
            "INSERT INTO appointments (patient_id, service_id, start_time, duration, status, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(1 + n % 40, 1 + n % 4, start + timedelta(days=n // 8, minutes=30 * (n % 8)),
              None if n % 3 else 25, "scheduled", datetime(2026, 1, 5, 10)) for n in range(VISITS)])

    proposal = discover_sql(postgres_url, name="wards", timezone="Europe/Madrid")

    assert proposal.mapping is not None
    fields = proposal.mapping["fields"]
    assert fields["duration_minutes"]["from"] == ["duration", "service_default_duration_minutes"]
    assert fields["patient.phone"]["from"] == "patient_mobile"
    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")
    # Walk-in (every 4th visit) has no default: those without a length of their own are refused.
    refused = sum(1 for n in range(VISITS) if n % 4 == 3 and n % 3)
    assert result.sampled == VISITS and result.mapped == VISITS - refused, result.quarantined
    assert list(result.quarantined) == ["end: missing: give end or duration_minutes "
                                        "(or set clinic.default_visit_minutes)"]
    # Every visit's patient has the mobile of their cell, the two-number ones included.
    settings = load_settings(tmp_path / "settings.yaml")
    mapping = mapping_for(settings, next(c for c in settings.connectors if c.name == "wards"))
    rows = window_rows(postgres_url, proposal.connector["query"], start)
    phones = {}
    for row in rows:
        try:
            visit = mapping.apply(row)
        except MappingError:  # a walk-in without a length (counted above)
            continue
        assert visit.patient is not None
        phones[visit.patient.external_id] = visit.patient.phone
    assert len(phones) == 40
    assert phones == {str(1 + n): f"+34612345{n:03d}" for n in range(40)}
