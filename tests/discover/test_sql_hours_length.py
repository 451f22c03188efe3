"""A product that keeps a visit's planned length as decimal HOURS (Odoo's modules:
``planned_duration`` 0.25, 0.5, 1.0; Odoo's own ``calendar_event.duration``), in a float column
and no end, on the real PostgreSQL: discover reads the column as hours (``type:
duration_hours``), not as minutes and not left aside for the 30-minute default, and every
visit ends where its length says (a third of an hour: 20 minutes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.discover.sql import discover_sql
from clinicsync.sync.ingest.source_settings import mapping_for
from tests.discover.files_support import check_proposal, window_rows

DDL = """
CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL, mobile text);
CREATE TABLE medical_appointment (
  id serial PRIMARY KEY, partner_id integer NOT NULL REFERENCES res_partner(id), appointment_date timestamp NOT NULL,
  planned_duration double precision, state text NOT NULL, write_date timestamp NOT NULL);
"""
HOURS = (0.25, 0.5, 1.0, 1 / 3, 0.75, 1.5, 0.5, 2 / 3)  # as Odoo's float keeps them
VISITS = 96


@pytest.mark.postgres
def test_a_length_in_decimal_hours_is_read_as_hours(postgres_url: str, tmp_path: Path) -> None:
    start = (datetime.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    with psycopg.connect(postgres_url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(DDL)
        cursor.executemany("INSERT INTO res_partner (name, mobile) VALUES (%s, %s)",
                           [(f"Ana{n} Lopez", f"612 345 {n:03d}") for n in range(30)])
        cursor.executemany(
            "INSERT INTO medical_appointment (partner_id, appointment_date, planned_duration, state, write_date) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(1 + n % 30, start + timedelta(days=n // 8, hours=n % 8), HOURS[n % len(HOURS)], "confirmed",
              datetime(2026, 1, 5, 10)) for n in range(VISITS)])

    proposal = discover_sql(postgres_url, name="odoo_med", timezone="Europe/Madrid")

    assert proposal.mapping is not None
    assert proposal.mapping["fields"]["duration_minutes"] == {"from": "planned_duration", "type": "duration_hours"}
    result = check_proposal(proposal, tmp_path, "Europe/Madrid", "ES")
    assert result.sampled == VISITS and result.mapped == VISITS, result.quarantined
    settings = load_settings(tmp_path / "settings.yaml")
    mapping = mapping_for(settings, next(c for c in settings.connectors if c.name == "odoo_med"))
    rows = window_rows(postgres_url, proposal.connector["query"], start)
    lengths = {}
    for row in rows:
        visit = mapping.apply(row)
        assert visit.end is not None
        lengths[visit.external_id] = (visit.end - visit.start) // timedelta(minutes=1)
    assert lengths == {str(1 + n): round(HOURS[n % len(HOURS)] * 60) for n in range(VISITS)}
    assert set(lengths.values()) == {15, 20, 30, 40, 45, 60, 90}
