"""Booking at a SQL source: ``writeback.waitlist_book_statement`` runs under the write-back
login on the real MariaDB and PostgreSQL, writes the row once (a retry after a lost commit
finds it through the statement's own idempotency on :slot_id), and a refusal names no patient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pymysql
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from clinicsync.connectors.base import FatalConnectorError
from clinicsync.connectors.sql import SqlConnector
from clinicsync.connectors.sql_settings import SqlSettings
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.store.model.waitlist import FREED_SLOTS
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.book import run_booking
from tests.conftest import POSTGRES_URL
from tests.waitlist.book_rows import NOW, SLOT_START, entry_row, seed, slot_row

MARIADB_TABLE = """CREATE TABLE visits (id INT AUTO_INCREMENT PRIMARY KEY, patient_id VARCHAR(32) NOT NULL,
    doctor_id VARCHAR(32), room VARCHAR(32), kind VARCHAR(64), start_at DATETIME NOT NULL, end_at DATETIME NOT NULL,
    waitlist_slot INT UNIQUE, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"""
POSTGRES_TABLE = """CREATE TABLE visits (id SERIAL PRIMARY KEY, patient_id VARCHAR(32) NOT NULL,
    doctor_id VARCHAR(32), room VARCHAR(32), kind VARCHAR(64), start_at TIMESTAMP NOT NULL, end_at TIMESTAMP NOT NULL,
    waitlist_slot INT UNIQUE, updated_at TIMESTAMP DEFAULT now())"""
COLUMNS = "(patient_id, doctor_id, room, kind, start_at, end_at, waitlist_slot)"
VALUES = "(:patient_id, :doctor_id, :location, :type, :start_local, :end_local, :slot_id)"
STATEMENTS = {"mariadb": f"INSERT IGNORE INTO visits {COLUMNS} VALUES {VALUES}",
              "postgres": f"INSERT INTO visits {COLUMNS} VALUES {VALUES} ON CONFLICT (waitlist_slot) DO NOTHING"}


class Source:
    def __init__(self, kind: str, url: str, run: Callable[[str], list[tuple[Any, ...]]]) -> None:
        self.kind, self.url, self.run = kind, url, run

    def rows(self) -> list[tuple[Any, ...]]:
        return self.run("SELECT patient_id, doctor_id, room, kind, start_at, end_at, waitlist_slot FROM visits")


@pytest.fixture(params=[pytest.param("mariadb", marks=pytest.mark.mariadb),
                        pytest.param("postgres", marks=pytest.mark.postgres)])
def source(request: pytest.FixtureRequest) -> Iterator[Source]:
    if request.param == "mariadb":
        database = request.getfixturevalue("mariadb_database")
        kwargs = {k: v for k, v in database.items() if k != "url"}

        def run_mariadb(sql: str) -> list[tuple[Any, ...]]:
            with pymysql.connect(**kwargs, autocommit=True) as connection, connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())

        run_mariadb(MARIADB_TABLE)
        yield Source("mariadb", str(database["url"]), run_mariadb)
        return
    url = request.getfixturevalue("postgres_url")
    schema = url.rsplit("%3D", 1)[1]

    def run_postgres(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(POSTGRES_URL, autocommit=True, options=f"-csearch_path={schema}") as connection:
            cursor = connection.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    run_postgres(POSTGRES_TABLE)
    yield Source("postgres", url.replace("postgresql://", "postgresql+psycopg://"), run_postgres)


def pms(source: Source, write_settings: Callable[..., Path], extra: str = "") -> Settings:
    return load_settings(write_settings(connectors=f"""
        - name: pms
          kind: sql
          mapping: openemr
          url: "{source.url}"
          table: visits
          cursor_column: updated_at
          writeback:
            url: "{source.url}"
            waitlist_book_statement: "{STATEMENTS[source.kind]}"
          {extra}
        """))


@pytest.fixture
def settings(source: Source, write_settings: Callable[..., Path]) -> Settings:
    return pms(source, write_settings, "timezone: America/New_York")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_booking_row_is_written_once_in_local_time(source: Source, settings: Settings, store: Store) -> None:
    seeded = seed(store, "pms")
    assert run_booking(settings, store, NOW)["written"] == 1
    [(patient, doctor, room, kind, start, end, slot)] = source.rows()
    local = SLOT_START.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    assert (patient, doctor, room, kind, slot) == ("p2", "d1", "room-1", "Check-up", seeded.slot_id)
    assert (start, (end - start).total_seconds()) == (local, 1800)
    assert slot_row(store, seeded.slot_id).booking_status == "written"
    assert entry_row(store, seeded.entry_id).status == "booked"

    # a worker died after the source committed and before the store did: the slot is pending
    # again, attempt 2 changes no row (the statement ignores the duplicate slot) and counts it written
    with store.engine.begin() as connection:
        connection.execute(update(FREED_SLOTS).where(FREED_SLOTS.c.id == seeded.slot_id).values(
            booking_status="pending"))
    assert run_booking(settings, store, NOW)["written"] == 1
    assert len(source.rows()) == 1
    assert slot_row(store, seeded.slot_id).booking_attempts == 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_first_attempt_that_writes_nothing_is_a_refusal(source: Source, settings: Settings, store: Store) -> None:
    source.run("INSERT INTO visits (patient_id, start_at, end_at, waitlist_slot) "
               "VALUES ('someone', '2030-01-01 09:00', '2030-01-01 09:30', 1)")
    seeded = seed(store, "pms")
    assert seeded.slot_id == 1
    assert run_booking(settings, store, NOW)["failed"] == 1
    slot = slot_row(store, seeded.slot_id)
    assert slot.booking_status == "failed"
    assert "changed no row for slot 1" in slot.booking_error


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_constraint_refusal_names_the_error_class_not_the_values(source: Source, write_settings: Callable[..., Path],
                                                                  store: Store) -> None:
    source.run("ALTER TABLE visits ADD CONSTRAINT room_known CHECK (room <> 'room-1')")
    settings = pms(source, write_settings)
    seeded = seed(store, "pms")
    assert run_booking(settings, store, NOW)["failed"] == 1
    error = slot_row(store, seeded.slot_id).booking_error
    assert error.startswith(f"connector pms: waitlist_book_statement failed for slot {seeded.slot_id}: ")
    assert "room-1" not in error and "p2" not in error
    assert source.rows() == []


def test_the_statement_is_checked_and_a_booking_only_writeback_needs_no_status_map() -> None:
    base = {"name": "pms", "kind": "sql", "mapping": "openemr", "url": "sqlite:///x.db", "table": "visits",
            "cursor_column": "updated_at"}
    booking_only = SqlSettings.model_validate({**base, "writeback": {
        "url": "sqlite:///x.db", "waitlist_book_statement": STATEMENTS["postgres"]}})
    assert SqlConnector(booking_only).can_book()
    with pytest.raises(ValidationError, match="status_map is needed"):
        SqlSettings.model_validate({**base, "writeback": {"url": "sqlite:///x.db", "statement": "UPDATE v SET s = "
                                                          ":status WHERE id = :external_id"}})
    connector = SqlConnector(SqlSettings.model_validate({**base, "writeback": {
        "url": "sqlite:///x.db", "waitlist_book_statement": "DELETE FROM visits WHERE waitlist_slot = :slot_id"}}))
    with pytest.raises(FatalConnectorError, match="must be a single INSERT or UPDATE"):
        connector._booking_statement()
