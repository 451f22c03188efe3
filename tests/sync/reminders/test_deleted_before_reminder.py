"""Deletes before reminders: a source that cancels by deleting the row (an incremental read
with the default hourly delete sweep) and a visit deleted 5 minutes before its 1-hour reminder.
The poll after the deletion does not sweep (the last sweep is minutes old), so the visit is still
booked in the store when the reminder falls due; the dispatcher lists the source's ids before
sending and the deleted visit is not reminded, while the visit still there is. In simulated time
(the dispatcher's moment), on the real MariaDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, delete, insert, select

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.reminders.dispatch import Dispatcher
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

pytestmark = pytest.mark.mariadb

METADATA = MetaData()
APPTS = Table("appts", METADATA, Column("id", Integer, primary_key=True, autoincrement=False),
              Column("patient_id", String(20)), Column("phone", String(30)), Column("starts_at", DateTime),
              Column("minutes", Integer), Column("status", String(20)), Column("updated_at", DateTime))
MAPPING = """\
name: deletes_test
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  patient.external_id: {from: patient_id}
  patient.phone: {from: phone}
"""
QUERY = "SELECT id, patient_id, phone, starts_at, minutes, status, updated_at FROM appts"
SECTION = """
notifiers:
  - {name: outbox, kind: outbox}
reminders:
  offsets: [1h]
  confirmation: false
  routes: {sms: outbox, email: outbox, whatsapp: outbox}
  agenda: {enabled: false}
  quiet_hours: {start: '00:00', end: '00:00'}
"""


@pytest.fixture
def source(mariadb_database: dict[str, object]) -> Iterator[Engine]:
    engine = make_engine(str(mariadb_database["url"]))
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def test_a_visit_deleted_five_minutes_before_its_reminder_is_not_reminded(
        source: Engine, store: Store, write_settings: Callable[..., Path], mariadb_database: dict[str, object],
        tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now + timedelta(hours=1, minutes=5)  # its 1h reminder falls due 5 minutes from now
    with source.begin() as connection:  # the source keeps naive UTC
        connection.execute(insert(APPTS), [
            {"id": i, "patient_id": f"p{i}", "phone": f"+1212555010{i}", "minutes": 20, "status": "booked",
             "starts_at": start.replace(tzinfo=None), "updated_at": (now - timedelta(days=2)).replace(tzinfo=None)}
            for i in (1, 2)])
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    settings = load_settings(write_settings(
        f"- {{name: practice, kind: sql, url: '{mariadb_database['url']}', mapping: {mapping},"
        f" cursor_column: updated_at, stored_times: utc, query: '{QUERY}'}}\n", extra=SECTION))
    config = settings.connectors[0]
    assert sync_connector(settings, store, config, "first").error is None  # the sweep runs with the first poll
    plan(settings, store, now)

    with source.begin() as connection:  # the patient of visit 1 cancels at the source: the row goes
        connection.execute(delete(APPTS).where(APPTS.c.id == 1))
    report = sync_connector(settings, store, config, "second")  # a poll a minute later: no sweep due yet
    assert (report.error, report.counts.deleted) == (None, 0)

    due = start - timedelta(hours=1)
    sent = Dispatcher(settings, store, due + timedelta(seconds=30)).run().as_dict()
    assert sent["sent"] == 1, sent
    with store.engine.connect() as connection:
        rows = dict(connection.execute(select(REMINDERS.c.recipient_ref, REMINDERS.c.status)).all())
    assert rows == {"p1": "skipped", "p2": "sent"}, rows
