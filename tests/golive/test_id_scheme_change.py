"""A settings change that gives the source's rows other ids corrects the stored visits and tells nobody.

A clinic synced a source whose weekly series is one row (its repeat rule in a column) without
``series:``: the row was stored as one visit, id ``42``. Then the admin adds ``series:`` (or
re-runs ``clinicsync discover``, which writes it): the row now reads as its sessions, ids
``42/<original start>``. The patient booked that series long ago and nothing changed at the
source: the visit that was ``42`` becomes the session at its start (its reminders kept), the
later sessions are planned as the corrections they are, and no patient gets a "cancelled", a
"moved" or a confirmation. A row the source really added since is still news. A query that
builds its ids another way is the same change. The source is the real MariaDB; the store runs
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, insert, select

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS
from tests.golive.test_baseline import OUTBOX_REMINDERS  # every patient message to the outbox, 1d ahead

pytestmark = pytest.mark.mariadb

STAMP = datetime(2026, 1, 5, 9, 0)  # the rows' last change, weeks before the syncs
METADATA = MetaData()
SESSIONS = Table("sessions", METADATA,
                 Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("patient_id", Integer), Column("starts_at", DateTime), Column("ends_at", DateTime),
                 Column("repeat_rule", String(200)), Column("skipped", String(200)),
                 Column("status", String(20)), Column("updated_at", DateTime))
CONTACTS = Table("contacts", METADATA, Column("patient_id", Integer, primary_key=True, autoincrement=False),
                 Column("phone", String(30)))
WEEKS = 4  # the series' sessions

MAPPING = """\
name: series_test
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  end: {from: ends_at}
  status: {from: status}
  source_updated_at: {from: updated_at}
  patient.external_id: {from: patient_id}
  patient.phone: {from: phone}
"""
QUERY = ("SELECT s.id, s.patient_id, s.starts_at, s.ends_at, s.repeat_rule, s.skipped, s.status, s.updated_at,"
         " c.phone"
         " FROM sessions s LEFT JOIN contacts c ON c.patient_id = s.patient_id")
PREFIXED = QUERY.replace("SELECT s.id,", "SELECT CONCAT('visit-', s.id) AS id,")
SERIES = "series: {rule: repeat_rule, id: id, start: starts_at, end: ends_at, timezone: America/New_York}"


@pytest.fixture
def source(mariadb_database: dict[str, object]) -> Iterator[Engine]:
    """Row 42: a weekly series of four sessions from three days ahead; row 43: a single visit."""
    engine = make_engine(str(mariadb_database["url"]))
    METADATA.create_all(engine)
    first = datetime.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=3)
    with engine.begin() as connection:
        connection.execute(insert(SESSIONS), [
            {"id": 42, "patient_id": 1, "starts_at": first, "ends_at": first + timedelta(hours=1),
             "repeat_rule": f"FREQ=WEEKLY;COUNT={WEEKS}", "status": "booked", "updated_at": STAMP},
            {"id": 43, "patient_id": 2, "starts_at": first + timedelta(days=1, hours=2),
             "ends_at": first + timedelta(days=1, hours=3), "repeat_rule": "", "status": "booked",
             "updated_at": STAMP + timedelta(minutes=1)}])
        connection.execute(insert(CONTACTS), [{"patient_id": p, "phone": f"+1212555010{p}"} for p in (1, 2, 3)])
    yield engine
    engine.dispose()


@pytest.fixture
def settings_with(write_settings: Callable[..., Path], mariadb_database: dict[str, object],
                  tmp_path: Path) -> Callable[..., Settings]:
    def make(query: str = QUERY, extra: str = "") -> Settings:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(MAPPING, encoding="utf-8")
        connector = (f"- {{name: practice, kind: sql, url: '{mariadb_database['url']}', mapping: {mapping},"
                     f" mode: snapshot, timezone: America/New_York, stored_times: local, query: \"{query}\""
                     f"{', ' + extra if extra else ''}}}\n")
        return load_settings(write_settings(connector, extra=OUTBOX_REMINDERS))
    return make


def told(store: Store) -> Counter[str]:
    """The kind of every planned patient message."""
    with store.engine.connect() as connection:
        return Counter(connection.execute(select(REMINDERS.c.kind).where(REMINDERS.c.recipient == "patient")).scalars())


def live_ids(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(APPOINTMENTS.c.external_id)
                                      .where(APPOINTMENTS.c.deleted_at.is_(None))).scalars())


def sync(settings: Settings, store: Store, run: str) -> dict[str, int]:
    report = sync_connector(settings, store, settings.connectors[0], run)
    assert report.error is None, report.error
    return report.counts.as_dict()


def test_series_added_after_go_live_keeps_the_visit_and_tells_nobody(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    before = settings_with()
    sync(before, store, "first")
    plan(before, store)
    assert live_ids(store) == {"42", "43"}
    assert told(store) == Counter({"reminder": 2})
    with store.engine.connect() as connection:
        first_visit = connection.execute(select(APPOINTMENTS.c.id).where(APPOINTMENTS.c.external_id == "42")).scalar()

    series = settings_with(extra=SERIES)
    counts = sync(series, store, "series")
    # the row's other sessions are new to the store; nothing cancelled, the first session is visit 42 renamed
    assert counts["created"] == WEEKS - 1 and counts["cancelled"] == counts["deleted"] == 0, counts
    ids = live_ids(store)
    assert len(ids) == WEEKS + 1 and "43" in ids and all(i.startswith("42/") for i in ids - {"43"}), ids
    with store.engine.connect() as connection:
        renamed = connection.execute(select(APPOINTMENTS.c.external_id)
                                     .where(APPOINTMENTS.c.id == first_visit)).scalar()
    assert renamed in ids and renamed != "42", renamed  # the same stored visit (its history, its reminders)
    plan(series, store)
    # one reminder a visit, planned once; no "cancelled", no "moved", no confirmation
    assert told(store) == Counter({"reminder": WEEKS + 1})
    with store.engine.connect() as connection:
        per_visit = Counter(connection.execute(select(REMINDERS.c.appointment_id)
                                               .where(REMINDERS.c.recipient == "patient")).scalars())
    assert set(per_visit.values()) == {1}, per_visit

    assert sync(series, store, "again")["created"] == 0  # the next read finds them all stored
    # a session booked at the source since is news: one confirmation, for it alone
    with source.begin() as connection:
        start = datetime.now().replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=6)
        connection.execute(insert(SESSIONS).values(id=44, patient_id=3, starts_at=start,
                                                   ends_at=start + timedelta(minutes=30), repeat_rule=None,
                                                   status="booked", updated_at=datetime.now()))
    assert sync(series, store, "new")["created"] == 1
    plan(series, store)
    assert told(store) == Counter({"reminder": WEEKS + 2, "confirmation": 1})


def test_a_query_that_builds_other_ids_renames_the_stored_visits(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    """Any change of a connector's id scheme, not only a series: here the query prefixes its ids."""
    sync(settings_with(), store, "first")
    plan(settings_with(), store)
    prefixed = settings_with(PREFIXED)
    counts = sync(prefixed, store, "prefixed")
    assert counts["created"] == counts["cancelled"] == counts["deleted"] == 0, counts
    assert live_ids(store) == {"visit-42", "visit-43"}
    plan(prefixed, store)
    assert told(store) == Counter({"reminder": 2})


def test_a_series_whose_first_session_is_left_out_ends_the_stored_visit_silently(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    """The series row lists its own first start as left out (an exception kept since before
    go-live): read whole, it was stored as a visit at that start; read as its sessions, no
    session takes its place. The source never changed: the visit ends as a correction, and the
    patient is told neither "cancelled" nor of the other sessions."""
    with source.begin() as connection:
        first = connection.execute(select(SESSIONS.c.starts_at).where(SESSIONS.c.id == 42)).scalar_one()
        connection.execute(SESSIONS.update().where(SESSIONS.c.id == 42).values(skipped=f"{first:%Y-%m-%d %H:%M:%S}"))
    before = settings_with()
    sync(before, store, "first")
    plan(before, store)
    series = settings_with(extra=SERIES.replace("end: ends_at,", "end: ends_at, exdates: [skipped],"))
    counts = sync(series, store, "series")
    assert counts["created"] == WEEKS - 1 and counts["deleted"] == 1, counts
    assert len(live_ids(store)) == WEEKS and "42" not in live_ids(store)
    plan(series, store)
    assert told(store) == Counter({"reminder": WEEKS + 1})  # the ended visit's own, planned before
