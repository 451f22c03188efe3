"""Go-live is quiet (DESIGN invariant 7), on the databases clinics really have: the first
sync of a practice database holding 180 days of bookings plans reminders for the visits
still ahead and announces nothing; a booking made afterwards gets exactly one
confirmation; a change afterwards is announced. Through the CLI, as an admin runs it."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymysql
import pytest
from sqlalchemy import Engine, text

from clinicsync.sync.store.db import make_engine
from tests.golive import practice

ZONE = "America/Chicago"
REMINDERS = """
notifiers:
  - {name: outbox, kind: outbox, directory: %s}
reminders:
  offsets: [3d, 1d]
  channels: [sms, email]
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
"""
NOTICES = {"confirmation", "rescheduled", "cancelled"}


def local_now() -> datetime:
    return datetime.now(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)


def sql_connector(url: str, query: str, mapping: Path, cursor: str) -> str:
    return textwrap.dedent(f"""\
        - name: practice
          kind: sql
          url: "{url}"
          query: "{query}"
          mapping: {mapping}
          cursor_column: {cursor}
          timezone: {ZONE}
          fetch_size: 200
        """)


def patient_messages(run: Any) -> list[dict[str, Any]]:
    _, out, _ = run("reminders", "list", "--all", "--json")
    return [r for r in json.loads(out)["items"] if r["recipient"] == "patient"]


def future_active(run: Any) -> set[str]:
    _, out, _ = run("appointments", "list", "--all", "--json", "--from", datetime.now(UTC).isoformat())
    return {a["external_id"] for a in json.loads(out)["items"] if a["status"] == "booked"}


def assert_quiet_baseline(run: Any, created: int) -> None:
    _, out, _ = run("sync", "--once", "--json")
    report = json.loads(out)
    assert report["connectors"]["practice"]["created"] == created
    assert report["connectors"]["practice"]["quarantined"] == 0
    messages = patient_messages(run)
    assert not [m for m in messages if m["kind"] in NOTICES]  # nobody is told about old bookings
    pending = {m["appointment"].split(":", 1)[1] for m in messages if m["status"] == "pending"}
    ahead = future_active(run)
    assert len(ahead) > 40
    assert pending <= ahead  # nothing pending for a visit in the past or cancelled
    # the visits at least a day ahead have their reminders planned
    soon = datetime.now(UTC) + timedelta(days=1, hours=12)
    _, out, _ = run("appointments", "list", "--all", "--json", "--from", soon.isoformat())
    assert {a["external_id"] for a in json.loads(out)["items"] if a["status"] == "booked"} <= pending
    _, out, _ = run("sync", "--once", "--json")  # the second run: nothing new, nothing announced
    assert json.loads(out)["connectors"]["practice"]["created"] == 0


def assert_one_confirmation(run: Any, new_id: str) -> None:
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["practice"]["created"] == 1
    told = Counter((m["kind"], m["appointment"]) for m in patient_messages(run) if m["kind"] in NOTICES)
    assert told == Counter({("confirmation", f"practice:{new_id}"): 1})
    run("sync", "--once", "--json")
    assert sum(1 for m in patient_messages(run) if m["kind"] in NOTICES) == 1


# -- PostgreSQL: patients / doctors / appointments -------------------------------------------------

@pytest.fixture
def practice_pg(postgres_url: str) -> Iterator[Engine]:
    """A fresh PostgreSQL schema holding the clinic's three tables and 180 days of bookings."""
    from tests.conftest import postgres_schema

    with postgres_schema() as url:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(practice.POSTGRES_DDL)
            connection.execute(text("INSERT INTO doctors (full_name, email, specialty) VALUES (:n, :e, :s)"),
                               [{"n": n, "e": e, "s": s} for n, e, s in practice.DOCTORS])
            connection.execute(text("INSERT INTO patients (first_name, last_name, dob, phone, email) "
                                    "VALUES (:f, :l, :d, :p, :e)"),
                               [dict(zip("fldpe", p, strict=True)) for p in practice.patients()])
            now = local_now()
            connection.execute(text(
                "INSERT INTO appointments (patient_id, doctor_id, appt_date, appt_time, reason, status, "
                "created_at, updated_at) VALUES (:p, :d, :day, :at, :r, :s, :b, :b)"),
                [{"p": b.patient + 1, "d": b.doctor + 1, "day": b.day, "at": b.at, "r": b.reason, "s": b.status,
                  "b": b.booked_at} for b in practice.bookings(now.date(), now - timedelta(minutes=5))])
        engine.url_string = url  # type: ignore[attr-defined]
        yield engine
        engine.dispose()


@pytest.mark.postgres
def test_first_sync_of_a_postgres_practice_database_is_quiet(practice_pg: Engine, tmp_path: Path,
                                                             write_settings: Callable[..., Path], cli: Any) -> None:
    mapping = tmp_path / "practice_pg.yaml"
    mapping.write_text(practice.POSTGRES_MAPPING, encoding="utf-8")
    with practice_pg.connect() as connection:
        existing = connection.execute(text("SELECT count(*) FROM appointments")).scalar_one()
    connector = sql_connector(practice_pg.url_string, practice.POSTGRES_QUERY, mapping,  # type: ignore[attr-defined]
                              "updated_at")
    run = cli(write_settings(connector, extra=REMINDERS % (tmp_path / "outbox"), timezone=ZONE))
    assert_quiet_baseline(run, existing)

    now = local_now()
    with practice_pg.begin() as connection:  # the front desk books a new visit after go-live
        new_id = connection.execute(text(
            "INSERT INTO appointments (patient_id, doctor_id, appt_date, appt_time, reason, created_at, updated_at) "
            "VALUES (3, 2, :day, '11:00', 'Follow-up', :now, :now) RETURNING id"),
            {"day": now.date() + timedelta(days=9), "now": now}).scalar_one()
    assert_one_confirmation(run, str(new_id))

    with practice_pg.begin() as connection:  # an old booking moved after go-live: that is news
        moved = connection.execute(text(
            "UPDATE appointments SET appt_time = '16:00', updated_at = :now WHERE id = ("
            "SELECT min(id) FROM appointments WHERE appt_date > :day AND status = 'scheduled') RETURNING id"),
            {"now": local_now() + timedelta(seconds=1), "day": now.date() + timedelta(days=5)}).scalar_one()
    run("sync", "--once", "--json")
    told = Counter((m["kind"], m["appointment"]) for m in patient_messages(run) if m["kind"] in NOTICES)
    assert told == Counter({("confirmation", f"practice:{new_id}"): 1, ("rescheduled", f"practice:{moved}"): 1})


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_status_word_missed_at_go_live_is_fixed_by_retry_and_announces_nothing(
        practice_pg: Engine, tmp_path: Path, write_settings: Callable[..., Path], cli: Any) -> None:
    """Issue 28 obs 3, as an admin meets it: the mapping misses `confirmed`; the first sync
    quarantines those rows (and still ends the baseline), and the incremental
    cursor passes them. After the fix `quarantine retry --all` imports them from their stored
    raw rows (SQL values as text), with their reminders and without a confirmation."""
    mapping = tmp_path / "practice_pg.yaml"
    mapping.write_text(practice.POSTGRES_MAPPING.replace("confirmed: booked, ", ""), encoding="utf-8")
    connector = sql_connector(practice_pg.url_string, practice.POSTGRES_QUERY, mapping,  # type: ignore[attr-defined]
                              "updated_at")
    run = cli(write_settings(connector, extra=REMINDERS % (tmp_path / "outbox"), timezone=ZONE))
    _, out, _ = run("sync", "--once", "--json")
    quarantined = json.loads(out)["connectors"]["practice"]["quarantined"]
    assert quarantined > 20
    _, out, _ = run("sync", "--once", "--json")  # incremental: the cursor has passed them
    assert json.loads(out)["connectors"]["practice"]["fetched"] == 0

    def pending() -> set[str]:
        return {m["appointment"] for m in patient_messages(run) if m["status"] == "pending"}

    before = pending()
    mapping.write_text(practice.POSTGRES_MAPPING, encoding="utf-8")  # the fix
    _, out, _ = run("quarantine", "retry", "--all", "--json")
    assert [o["result"] for o in json.loads(out)] == ["imported"] * quarantined
    run("sync", "--once", "--json")  # the next cron pass plans what the retry stored
    assert not [m for m in patient_messages(run) if m["kind"] in NOTICES]  # nobody told of old bookings
    assert len(pending() - before) > 10  # their reminders are planned
    _, out, _ = run("status", "--json")
    assert json.loads(out)["connectors"][0]["quarantined"] == 0


# -- MariaDB: a Flask-SQLAlchemy booking app -------------------------------------------------------

@pytest.mark.mariadb
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_first_sync_of_a_flask_style_mariadb_table_is_quiet(mariadb_database: dict[str, Any], tmp_path: Path,
                                                            write_settings: Callable[..., Path], cli: Any) -> None:
    kwargs = {k: v for k, v in mariadb_database.items() if k != "url"}
    people = practice.patients()
    now = local_now()
    with pymysql.connect(**kwargs, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.execute(practice.MARIADB_DDL)
        cursor.executemany(
            "INSERT INTO appointment (patient_name, patient_phone, patient_email, doctor, start_time, duration, "
            "service, is_cancelled, created_on, modified_on) VALUES (%s, %s, %s, %s, %s, 30, %s, %s, %s, %s)",
            [(f"{people[b.patient][0]} {people[b.patient][1]}", people[b.patient][3], people[b.patient][4],
              practice.DOCTORS[b.doctor][0], datetime.combine(b.day, b.at), b.reason, int(b.status == "cancelled"),
              b.booked_at, b.booked_at) for b in practice.bookings(now.date(), now - timedelta(minutes=5))])
        cursor.execute("SELECT count(*) FROM appointment")
        existing = cursor.fetchone()[0]  # type: ignore[index]
    mapping = tmp_path / "flask_booking.yaml"
    mapping.write_text(practice.MARIADB_MAPPING, encoding="utf-8")
    run = cli(write_settings(sql_connector(str(mariadb_database["url"]), practice.MARIADB_QUERY, mapping,
                                           "modified_on"),
                             extra=REMINDERS % (tmp_path / "outbox"), timezone=ZONE))
    assert_quiet_baseline(run, existing)

    with pymysql.connect(**kwargs, autocommit=True) as connection, connection.cursor() as cursor:
        stamp = local_now() + timedelta(seconds=1)
        cursor.execute("INSERT INTO appointment (patient_name, patient_phone, doctor, start_time, service, created_on, "
                       "modified_on) VALUES ('Rosa Diaz', '(312) 555-0999', 'Mei Chen', %s, 'Skin check', %s, %s)",
                       (datetime.combine(now.date() + timedelta(days=12), datetime.min.time()) + timedelta(hours=10),
                        stamp, stamp))
        new_id = cursor.lastrowid
    assert_one_confirmation(run, str(new_id))
