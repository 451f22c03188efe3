"""Waitlist entries from a SQL table (MariaDB, the real server) and a CSV drop, each a
connector whose mapping is a waitlist mapping (mappings/csv_waitlist.yaml): its rows become
waitlist entries and never appointments; a snapshot's missing rows are removed, a row the
source marks removed is removed, a bad row is quarantined by field and keeps its entry."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.service.pipeline import run_once
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model import Appointment, Patient, Quarantine
from clinicsync.sync.store.model.waitlist import WAITLIST_ENTRIES
from clinicsync.sync.store.store import Store


def entries(store: Store) -> dict[str, dict[str, Any]]:
    with store.engine.connect() as connection:
        return {r.external_id: dict(r._mapping) for r in connection.execute(select(WAITLIST_ENTRIES))}


def quarantined(store: Store) -> dict[tuple[str, str], str]:
    with store.engine.connect() as connection:
        return {(r.record_id, r.field): r.reason
                for r in connection.execute(select(Quarantine.__table__))}  # type: ignore[attr-defined]


def known_doctor(store: Store, connector: str, ref: str) -> None:
    """A doctor the source had visits of: an entry naming an unknown one is refused (issue 58)."""
    from clinicsync.sync.store.model import Practitioner
    with store.engine.begin() as connection:
        connection.execute(insert(Practitioner.__table__).values(  # type: ignore[attr-defined]
            connector=connector, external_id=ref, name="Dr K", content_hash="x", updated_at=datetime.now(UTC)))


def no_appointments(store: Store) -> bool:
    with store.engine.connect() as connection:
        return connection.execute(select(Appointment.__table__)).first() is None  # type: ignore[attr-defined]


METADATA = MetaData()
WAITLIST = Table(
    "waitlist", METADATA,
    Column("id", String(20), primary_key=True), Column("patient_id", String(20)),
    Column("patient_name", String(80)), Column("phone", String(30)), Column("practitioner_id", String(20)),
    Column("visit_type", String(40)), Column("duration_minutes", Integer), Column("windows", String(80)),
    Column("available_until", String(20)), Column("priority", Integer), Column("expires", String(30)),
    Column("waiting_since", String(30)), Column("status", String(20)))


@pytest.mark.mariadb
def test_sql_table_waitlist_on_mariadb(mariadb_database: dict[str, object], write_settings: Any,
                                       store: Store) -> None:
    source = make_engine(str(mariadb_database["url"]))
    METADATA.create_all(source)
    with source.begin() as connection:
        connection.execute(insert(WAITLIST), [
            {"id": "w1", "patient_id": "p1", "patient_name": "Ana Lima", "phone": "+1 212 555 0101",
             "practitioner_id": "dr-k", "visit_type": "Check-up", "duration_minutes": 30,
             "windows": "mon-fri 09:00-13:00; sat 09:00-12:00", "available_until": "2031-06-30", "priority": 2,
             "expires": "2031-07-01T00:00", "waiting_since": "2030-12-01T08:30", "status": "waiting"},
            {"id": "w2", "patient_id": "p2", "patient_name": None, "phone": "+1 212 555 0102", "practitioner_id": None,
             "visit_type": None, "duration_minutes": None, "windows": None, "available_until": None,
             "priority": None, "expires": None, "waiting_since": None, "status": "waiting"},
            {"id": "w3", "patient_id": "p3", "patient_name": None, "phone": None, "practitioner_id": None,
             "visit_type": None, "duration_minutes": 20, "windows": "someday 25:00-09:00",
             "available_until": None, "priority": 1, "expires": None, "waiting_since": None, "status": "waiting"},
        ])
    settings = load_settings(write_settings(f"""
        - name: wl
          kind: sql
          mapping: csv_waitlist
          url: "{mariadb_database['url']}"
          table: waitlist
          mode: snapshot
          timezone: America/New_York
        """))

    known_doctor(store, "wl", "dr-k")
    report = run_once(settings, store)

    assert "wl" not in report.connectors  # the appointment sync leaves a waitlist source alone
    counts = report.extras["waitlist_sources"]["sources"]["wl"]
    assert (counts["created"], counts["quarantined"], counts["error"]) == (2, 1, None), counts
    assert no_appointments(store)
    rows = entries(store)
    w1 = rows["w1"]
    assert (w1["patient_ref"], w1["practitioner_ref"], w1["visit_type"], w1["duration_minutes"], w1["priority"]) \
        == ("p1", "dr-k", "Check-up", 30, 2)
    assert json.loads(w1["windows"]) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "13:00"},
        {"days": ["sat"], "from": "09:00", "to": "12:00"},
        {"start": None, "end": "2031-07-01T04:00:00Z"}]  # until June 30 inclusive, New York midnight
    assert w1["expires_at"].isoformat() == "2031-07-01T04:00:00+00:00"
    assert w1["waiting_since"].isoformat() == "2030-12-01T13:30:00+00:00"
    assert rows["w2"]["practitioner_ref"] is None and rows["w2"]["windows"] is None  # any doctor, any time
    assert quarantined(store).keys() == {("w3", "windows")}

    # The source drops w2 and marks w1 removed: both leave the list; w3 (still bad) is untouched
    with source.begin() as connection:
        connection.execute(WAITLIST.delete().where(WAITLIST.c.id == "w2"))
        connection.execute(update(WAITLIST).where(WAITLIST.c.id == "w1").values(status="removed"))
    counts = run_once(settings, store).extras["waitlist_sources"]["sources"]["wl"]
    assert counts["removed"] == 2, counts
    assert {k: r["status"] for k, r in entries(store).items()} == {"w1": "removed", "w2": "removed"}

    # Listed again as waiting: waiting again
    with source.begin() as connection:
        connection.execute(update(WAITLIST).where(WAITLIST.c.id == "w1").values(status="waiting"))
    run_once(settings, store)
    assert entries(store)["w1"]["status"] == "waiting"
    source.dispose()


def test_csv_drop_waitlist(drop_dir: Path, tmp_path: Path, write_settings: Any, store: Store) -> None:
    """The waiting list of the `office` source's patients, dropped as its own export."""
    (tmp_path / "appointments").mkdir()
    settings = load_settings(write_settings(f"""
        - name: office
          kind: csv
          mapping: csv_default
          drop_dir: {tmp_path / "appointments"}
        - name: wl
          kind: csv
          mapping: csv_waitlist
          waitlist_of: office
          drop_dir: {drop_dir}
          mode: snapshot
          settle_seconds: 0
        """))
    (drop_dir / "waitlist-1.csv").write_text(textwrap.dedent("""\
        id,patient_id,patient_name,email,practitioner_id,visit_type,windows,priority,status
        a,p1,Bo Chen,bo@example.org,,Cleaning,tue-thu 14:00-18:00,3,
        b,p2,,bea@example.org,dr-k,Check-up,,0,waiting
        c,p3,,,,Check-up,,high,waiting
        """), encoding="utf-8")
    known_doctor(store, "office", "dr-k")
    counts = run_once(settings, store).extras["waitlist_sources"]["sources"]["wl"]
    assert (counts["created"], counts["quarantined"]) == (2, 1), counts
    assert no_appointments(store)
    rows = entries(store)
    assert {r["connector"] for r in rows.values()} == {"office"}  # the office's patients and doctors
    assert rows["a"]["practitioner_ref"] is None and rows["a"]["priority"] == 3
    with store.engine.connect() as connection:
        patients = {(r.connector, r.external_id): r.email for r in connection.execute(select(Patient.__table__))}  # type: ignore[attr-defined]
    assert patients == {("office", "p1"): "bo@example.org", ("office", "p2"): "bea@example.org"}
    assert json.loads(rows["a"]["windows"]) == [{"days": ["tue", "wed", "thu"], "from": "14:00", "to": "18:00"}]
    reason = quarantined(store)[("c", "priority")]
    assert "high" not in reason

    # The next export lacks b: removed; a changed: updated
    (drop_dir / "waitlist-2.csv").write_text(textwrap.dedent("""\
        id,patient_id,patient_name,email,practitioner_id,visit_type,windows,priority,status
        a,p1,Bo Chen,bo@example.org,,Cleaning,tue-thu 14:00-18:00,5,
        c,p3,,,,Check-up,,high,waiting
        """), encoding="utf-8")
    counts = run_once(settings, store).extras["waitlist_sources"]["sources"]["wl"]
    assert (counts["updated"], counts["removed"]) == (1, 1), counts
    rows = entries(store)
    assert (rows["a"]["priority"], rows["a"]["status"], rows["b"]["status"]) == (5, "waiting", "removed")


def test_a_failing_waitlist_source_fails_the_stage_by_name(drop_dir: Path, write_settings: Any, store: Store) -> None:
    settings = load_settings(write_settings(f"""
        - name: wl
          kind: csv
          mapping: csv_waitlist
          waitlist_of: nowhere
          drop_dir: {drop_dir}
        """))
    report = run_once(settings, store)
    stage = report.extras["waitlist_sources"]
    assert stage["error"] == "wl: connector wl: waitlist_of names no connector ('nowhere')"
    assert report.failed


def test_a_value_error_from_a_bug_is_a_crash_with_its_traceback_not_a_setting_to_fix(
        drop_dir: Path, tmp_path: Path, write_settings: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare ValueError while a waiting list is read is a bug: filed as an internal error with
    its whole traceback in the log, never as the source's failure the admin is told to fix."""
    from structlog.testing import capture_logs

    from clinicsync.connectors.csv_drop import CsvDropConnector

    def fetch(self: CsvDropConnector, cursor: Any) -> Any:
        raise ValueError("a bug in the reading")
        yield from ()

    monkeypatch.setattr(CsvDropConnector, "fetch", fetch)
    (tmp_path / "appointments").mkdir()
    settings = load_settings(write_settings(f"""
        - name: office
          kind: csv
          mapping: csv_default
          drop_dir: {tmp_path / "appointments"}
        - name: wl
          kind: csv
          mapping: csv_waitlist
          waitlist_of: office
          drop_dir: {drop_dir}
        """))
    with capture_logs() as logs:
        stage = run_once(settings, store).extras["waitlist_sources"]
    assert stage["sources"]["wl"]["error"] == "internal error: ValueError: a bug in the reading"
    events = {entry["event"]: entry for entry in logs}
    assert "waitlist.source_failed" not in events
    crash = events["waitlist.source_crashed"]
    assert crash["where"] == "fetch" and isinstance(crash["exc_info"], ValueError)
