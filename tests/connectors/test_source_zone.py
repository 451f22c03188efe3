"""`timezone:` on the sql and csv connectors: every naive local time of the source is read
in that zone, not in clinic.timezone; a zone the mapping reads from the row still wins."""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from clinicsync.sync.store.db import make_engine

SQL_MAPPING = Path(__file__).parent / "data" / "sql_appointments.yaml"
LOS_ANGELES = "America/Los_Angeles"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """These tests are about reading the source; the store is SQLite."""
    return f"sqlite:///{tmp_path / 'store.db'}"


def stored_starts(run: Any) -> dict[str, tuple[str, str]]:
    _, out, _ = run("appointments", "list", "--all", "--json", "--from", "2026-01-01")
    return {a["external_id"]: (a["start"], a["timezone"]) for a in json.loads(out)["items"]}


@pytest.mark.postgres
def test_a_sql_source_in_new_york_read_by_a_los_angeles_clinic(postgres_url: str, write_settings: Callable[..., Path],
                                                              cli: Any) -> None:
    source = make_engine(postgres_url)
    with source.begin() as connection:
        connection.execute(text("CREATE TABLE appts (id integer PRIMARY KEY, patient_id text, "
                                "starts_at timestamp without time zone, minutes integer, status text, "
                                "updated_at timestamp without time zone)"))
        connection.execute(text(
            "INSERT INTO appts VALUES (1, 'p1', '2027-01-14 10:00', 20, 'booked', '2026-11-01 09:00'), "
            "(2, 'p2', '2027-07-14 10:00', 20, 'booked', '2026-11-01 09:00')"))
    source.dispose()
    connector = textwrap.dedent(f"""\
        - name: src
          kind: sql
          mapping: {SQL_MAPPING}
          url: "{postgres_url}"
          query: SELECT id, patient_id, starts_at, minutes, status, updated_at FROM appts
          cursor_column: updated_at
          timezone: America/New_York
        """)
    run = cli(write_settings(connector, timezone=LOS_ANGELES))
    run("sync", "--once", "--json")
    assert stored_starts(run) == {"1": ("2027-01-14T15:00:00Z", "America/New_York"),   # EST, UTC-5
                                  "2": ("2027-07-14T14:00:00Z", "America/New_York")}   # EDT, UTC-4


@pytest.mark.postgres
def test_without_timezone_a_sql_source_is_read_in_the_clinic_zone(postgres_url: str,
                                                                  write_settings: Callable[..., Path],
                                                                  cli: Any) -> None:
    source = make_engine(postgres_url)
    with source.begin() as connection:
        connection.execute(text("CREATE TABLE appts (id integer PRIMARY KEY, patient_id text, "
                                "starts_at timestamp, minutes integer, status text, updated_at timestamp)"))
        connection.execute(text("INSERT INTO appts VALUES (1, 'p1', '2027-01-14 10:00', 20, 'booked', "
                                "'2026-11-01 09:00')"))
    source.dispose()
    connector = (f"- name: src\n  kind: sql\n  mapping: {SQL_MAPPING}\n  url: \"{postgres_url}\"\n"
                 "  table: appts\n  cursor_column: updated_at\n")
    run = cli(write_settings(connector, timezone=LOS_ANGELES))
    run("sync", "--once", "--json")
    assert stored_starts(run) == {"1": ("2027-01-14T18:00:00Z", LOS_ANGELES)}


def _settled(path: Path) -> None:
    old = time.time() - 60
    os.utime(path, (old, old))


def test_a_csv_source_zone_is_the_default_and_the_row_zone_wins(tmp_path: Path, drop_dir: Path,
                                                               write_settings: Callable[..., Path],
                                                               cli: Any) -> None:
    export = drop_dir / "appointments.csv"
    export.write_text(
        "appointment_id,start,duration_minutes,timezone,patient_id\n"
        "A1,2027-01-14 10:00,30,,p1\n"
        "A2,2027-07-14 10:00,30,,p2\n"
        "A3,2027-01-14 10:00,30,Europe/Berlin,p3\n", encoding="utf-8")
    _settled(export)
    connector = (f"- name: drop\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n"
                 "  timezone: America/New_York\n")
    run = cli(write_settings(connector, timezone=LOS_ANGELES))
    run("sync", "--once", "--json")
    assert stored_starts(run) == {"A1": ("2027-01-14T15:00:00Z", "America/New_York"),
                                  "A2": ("2027-07-14T14:00:00Z", "America/New_York"),
                                  "A3": ("2027-01-14T09:00:00Z", "Europe/Berlin")}


def test_a_bad_source_zone_is_a_settings_error_naming_the_key(drop_dir: Path, write_settings: Callable[..., Path],
                                                             cli: Any) -> None:
    connector = f"- name: drop\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n  timezone: Mars/Olympus\n"
    run = cli(write_settings(connector))
    _, _, err = run("config", "validate", expect=2)
    assert "timezone" in err and "Mars/Olympus" in err


def test_the_sql_window_follows_the_source_zone_unless_set() -> None:
    from clinicsync.connectors.sql_settings import SqlSettings

    base: dict[str, Any] = {"name": "src", "mapping": "m", "url": "sqlite://", "table": "t", "mode": "snapshot"}
    assert SqlSettings(**base, timezone="America/New_York").window_zone == "America/New_York"
    assert SqlSettings(**base, timezone="America/New_York",
                       window={"timezone": "UTC"}).window_zone == "UTC"
    assert SqlSettings(**base).window_zone == "UTC"


def test_the_sql_window_of_a_source_in_the_clinics_zone_is_the_clinics_wall_clock(tmp_path: Path) -> None:
    """A source with no ``timezone:`` keeps the clinic's wall time: its window binds are that
    clock's, not UTC's (a window on a date column cut at UTC's date read the clinic's day before
    around midnight). ``window.timezone`` given still wins."""
    from sqlalchemy import create_engine

    from clinicsync.connectors.sql import SqlConnector
    from clinicsync.connectors.sql_settings import SqlSettings

    url = f"sqlite:///{tmp_path / 'binds.db'}"
    with create_engine(url).begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    query = "SELECT id, :window_start AS window_start FROM t"
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14: the wall clock is never UTC's day and hour

    def window_start(**window: Any) -> datetime:
        connector = SqlConnector(SqlSettings(name="src", mapping="m", url=url, query=query, mode="snapshot",
                                             window={"back": "1d", **window}))
        connector.source_zone = "Pacific/Kiritimati"  # set by sync/: the clinic's zone
        try:
            record = next(r for batch in connector.fetch(None) for r in batch.records)
        finally:
            connector.close()
        return datetime.fromisoformat(str(record.data["window_start"]))

    wall = datetime.now(kiritimati).replace(tzinfo=None) - timedelta(days=1)
    assert abs(window_start() - wall) < timedelta(minutes=1)
    utc_wall = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    assert abs(window_start(timezone="UTC") - utc_wall) < timedelta(minutes=1)
