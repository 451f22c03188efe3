"""A fix to a connector's query reaches every stored visit, as a correction and not as news.

An admin's first sync ran with a wrong contact join (every patient got another person's phone)
or with no doctor mapped; the admin fixes the query and runs the next sync. The source's rows
did not change, so an incremental read alone would find none of them: the changed query makes
the sync read the window again and correct every stored visit, and no patient is told of a
change the source never made. A visit the source really moved meanwhile is still news. The
source is the real MariaDB; the store runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, insert, select, update

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_connector
from clinicsync.sync.ingest.reprocess import NOT_RETRYABLE, QUERY_CHANGED, retry
from clinicsync.sync.reminders.stage import plan
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import APPOINTMENTS, PATIENTS
from tests.golive.test_baseline import OUTBOX_REMINDERS  # every patient message to the outbox, 1d ahead

pytestmark = pytest.mark.mariadb

STAMP = datetime(2026, 1, 5, 9, 0)  # about the rows' last changes (a minute apart), weeks before the syncs
METADATA = MetaData()
APPTS = Table("appts", METADATA,
              Column("id", Integer, primary_key=True, autoincrement=False),
              Column("patient_id", Integer), Column("doctor_id", Integer),
              Column("starts_at", DateTime), Column("minutes", Integer),
              Column("status", String(20)), Column("updated_at", DateTime))
CONTACTS = Table("contacts", METADATA,  # one phone per patient; its own id is not the patient's
                 Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("patient_id", Integer), Column("phone", String(30)))
DOCTORS = Table("doctors", METADATA, Column("id", Integer, primary_key=True, autoincrement=False),
                Column("name", String(60)))
VISITS = 6

MAPPING = """\
name: corrections_test
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  patient.external_id: {from: patient_id}
  patient.phone: {from: phone}
"""
DOCTOR_FIELDS = "  practitioner.external_id: {from: doctor_id}\n  practitioner.name: {from: doctor_name}\n"
SELECT = "SELECT a.id, a.patient_id, a.starts_at, a.minutes, a.status, a.updated_at, c.phone"
WRONG_JOIN = SELECT + " FROM appts a LEFT JOIN contacts c ON c.id = a.patient_id"
RIGHT_JOIN = SELECT + " FROM appts a LEFT JOIN contacts c ON c.patient_id = a.patient_id"
WITH_DOCTOR = (SELECT + ", d.id AS doctor_id, d.name AS doctor_name FROM appts a"
               " LEFT JOIN contacts c ON c.patient_id = a.patient_id LEFT JOIN doctors d ON d.id = a.doctor_id")


def phone(patient: int) -> str:
    return f"+1212555{patient:04d}"


@pytest.fixture
def source(mariadb_database: dict[str, object]) -> Iterator[Engine]:
    """Six visits of six patients, each patient's phone in `contacts` under another row id."""
    engine = make_engine(str(mariadb_database["url"]))
    METADATA.create_all(engine)
    start = datetime.now().replace(second=0, microsecond=0) + timedelta(days=5)
    with engine.begin() as connection:
        connection.execute(insert(DOCTORS), [{"id": 1, "name": "Dr Ada Lund"}])
        connection.execute(insert(APPTS), [
            {"id": i, "patient_id": 100 + i, "doctor_id": 1, "starts_at": start + timedelta(hours=i), "minutes": 20,
             "status": "booked", "updated_at": STAMP + timedelta(minutes=i)} for i in range(1, VISITS + 1)])
        # contact row i belongs to patient 100 + (i % VISITS) + 1: joined by row id, everyone gets a neighbour's
        connection.execute(insert(CONTACTS), [
            {"id": 100 + i, "patient_id": 100 + (i % VISITS) + 1, "phone": phone(100 + (i % VISITS) + 1)}
            for i in range(1, VISITS + 1)])
    yield engine
    engine.dispose()


@pytest.fixture
def settings_with(write_settings: Callable[..., Path], mariadb_database: dict[str, object],
                  tmp_path: Path) -> Callable[[str, str], Settings]:
    def make(query: str, fields: str = "") -> Settings:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(MAPPING + fields, encoding="utf-8")
        connector = (f"- {{name: practice, kind: sql, url: '{mariadb_database['url']}', mapping: {mapping},"
                     f" cursor_column: updated_at, stored_times: local, query: '{query}'}}\n")
        return load_settings(write_settings(connector, extra=OUTBOX_REMINDERS))
    return make


def told(store: Store) -> Counter[str]:
    """The kind of every planned patient message."""
    with store.engine.connect() as connection:
        return Counter(connection.execute(select(REMINDERS.c.kind).where(REMINDERS.c.recipient == "patient")).scalars())


def stored_phones(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as connection:
        return dict(connection.execute(select(PATIENTS.c.external_id, PATIENTS.c.phone)).all())  # type: ignore[arg-type]


def sync(settings: Settings, store: Store, run: str) -> dict[str, int]:
    report = sync_connector(settings, store, settings.connectors[0], run)
    assert report.error is None, report.error
    return report.counts.as_dict()


def test_a_fixed_contact_join_corrects_every_stored_visit_and_tells_nobody(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    sync(settings_with(WRONG_JOIN), store, "first")
    plan(settings_with(WRONG_JOIN), store)
    assert told(store) == Counter({"reminder": VISITS})
    assert all(stored != phone(int(key)) for key, stored in stored_phones(store).items())  # everyone's neighbour

    fixed = settings_with(RIGHT_JOIN)
    counts = sync(fixed, store, "fixed")
    # the rows did not change at the source: the changed query read the window again
    assert counts["fetched"] == VISITS, counts
    assert stored_phones(store) == {str(100 + i): phone(100 + i) for i in range(1, VISITS + 1)}
    plan(fixed, store)
    assert told(store) == Counter({"reminder": VISITS})  # the plan stands; nothing announced

    assert sync(fixed, store, "after")["fetched"] == 0  # incremental again once read under the fix


def test_a_doctor_mapped_after_go_live_is_a_correction_and_a_real_move_is_still_news(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    sync(settings_with(RIGHT_JOIN), store, "first")
    plan(settings_with(RIGHT_JOIN), store)
    with source.begin() as connection:  # meanwhile the desk really moves visit 2 by half an hour
        start = connection.execute(select(APPTS.c.starts_at).where(APPTS.c.id == 2)).scalar_one()
        connection.execute(update(APPTS).where(APPTS.c.id == 2).values(
            starts_at=start + timedelta(minutes=30), updated_at=STAMP + timedelta(days=30)))

    fixed = settings_with(WITH_DOCTOR, DOCTOR_FIELDS)
    counts = sync(fixed, store, "fixed")
    assert counts["fetched"] == VISITS and counts["rescheduled"] == VISITS, counts
    assert counts.get("remapped") == VISITS - 1, counts  # all but the one the source moved
    with store.engine.connect() as connection:
        doctors = connection.execute(select(APPOINTMENTS.c.practitioner_ref)).scalars().all()
    assert len(doctors) == VISITS and all(doctors), doctors
    plan(fixed, store)
    # one "moved" message, for the visit that moved; none for the five that gained their doctor
    assert told(store) == Counter({"reminder": VISITS + 1, "rescheduled": 1})


def test_quarantine_retry_after_a_query_fix_leaves_the_rows_to_the_re_read(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    """A row quarantined under the old query is not retried from the row that query read: the
    retry says to sync, and the sync reads it again from the source and imports it."""
    with source.begin() as connection:
        connection.execute(update(APPTS).where(APPTS.c.id == 3).values(status="seen"))  # no status word
    sync(settings_with(WRONG_JOIN), store, "first")
    fixed_mapping = "status_map:\n  seen: booked\n"
    fixed = settings_with(RIGHT_JOIN, fixed_mapping)
    outcomes = retry(fixed, store)
    assert [(o.result, o.detail) for o in outcomes] == [(NOT_RETRYABLE, QUERY_CHANGED)]
    counts = sync(fixed, store, "fixed")
    assert counts["created"] == 1, counts  # read again from the source, with the fixed join's phone
    assert stored_phones(store)["103"] == phone(103)
    assert retry(fixed, store) == []  # its item closed by the import


NO_CONTACT = ("SELECT a.id, a.patient_id, a.starts_at, a.minutes, a.status, a.updated_at, NULL AS phone"
              " FROM appts a")


def test_a_join_added_after_go_live_gives_each_visit_its_doctor_and_phone_and_tells_nobody(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    """First synced with no contact or doctor join: nothing to remind by. The join added, the
    next sync corrects every visit, its reminder kept planned with the phone now known; nobody is
    told of a change (no confirmation, no "moved" for the doctor each visit gained)."""
    bare = settings_with(NO_CONTACT)
    sync(bare, store, "first")
    plan(bare, store)
    assert told(store) == Counter({"reminder": VISITS})
    assert all(phone is None for phone in stored_phones(store).values())

    fixed = settings_with(WITH_DOCTOR, DOCTOR_FIELDS)
    counts = sync(fixed, store, "fixed")
    assert counts["fetched"] == VISITS and counts.get("remapped") == VISITS, counts
    with store.engine.connect() as connection:
        doctors = connection.execute(select(APPOINTMENTS.c.practitioner_ref)).scalars().all()
    assert len(doctors) == VISITS and all(doctors), doctors
    assert stored_phones(store) == {str(100 + i): phone(100 + i) for i in range(1, VISITS + 1)}
    plan(fixed, store)
    with store.engine.connect() as connection:
        planned = connection.execute(select(REMINDERS.c.kind, REMINDERS.c.channel, REMINDERS.c.status)
                                     .where(REMINDERS.c.recipient == "patient")).all()
    assert Counter(kind for kind, _, _ in planned) == Counter({"reminder": VISITS}), planned  # nothing announced
    assert {status for _, _, status in planned} == {"pending"}, planned  # planned once, for the phone now known


def test_an_id_built_another_way_in_an_incremental_read_keeps_every_visit(
        source: Engine, store: Store, settings_with: Callable[..., Settings]) -> None:
    """The query's id changed (a prefix now): the re-read finds every row under a new id; each
    stored visit takes it (none is left under its old id for the delete sweep to cancel), and
    nothing is created, cancelled or announced."""
    sync(settings_with(RIGHT_JOIN), store, "first")
    plan(settings_with(RIGHT_JOIN), store)
    # '' is a quote inside the settings' YAML
    prefixed = settings_with(RIGHT_JOIN.replace("SELECT a.id,", "SELECT CONCAT(''appt-'', a.id) AS id,"))
    counts = sync(prefixed, store, "prefixed")
    assert counts["fetched"] == VISITS and counts["created"] == counts["deleted"] == 0, counts
    with store.engine.connect() as connection:
        ids = set(connection.execute(select(APPOINTMENTS.c.external_id)
                                     .where(APPOINTMENTS.c.deleted_at.is_(None))).scalars())
    assert ids == {f"appt-{i}" for i in range(1, VISITS + 1)}, ids
    plan(prefixed, store)
    assert told(store) == Counter({"reminder": VISITS})


UNSTAMPED = ("SELECT a.id, a.patient_id, a.starts_at, a.minutes, a.status, a.updated_at AS created_at, c.phone"
             " FROM appts a LEFT JOIN contacts c ON c.patient_id = a.patient_id")
BOOKED_AT = "  booked_at: {from: created_at}\n"


def test_rows_a_too_narrow_query_hid_are_a_correction_where_the_source_has_no_change_stamp(
        source: Engine, store: Store, write_settings: Callable[..., Path], mariadb_database: dict[str, object],
        tmp_path: Path) -> None:
    """A source read whole each time (no change stamp to read by), whose rows say when they were
    booked. The first query's filter hid half the visits; the fix reveals them. They were booked
    before the last read, so they are stored as a correction: reminded, not announced. A visit
    booked after the last read is still announced."""
    def settings(query: str) -> Settings:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(MAPPING + BOOKED_AT, encoding="utf-8")
        connector = (f"- {{name: practice, kind: sql, url: '{mariadb_database['url']}', mapping: {mapping},"
                     f" mode: snapshot, stored_times: local, query: '{query}'}}\n")
        return load_settings(write_settings(connector, extra=OUTBOX_REMINDERS))

    narrow = settings(UNSTAMPED + " WHERE a.id <= 3")
    assert sync(narrow, store, "first")["created"] == 3
    plan(narrow, store)
    assert told(store) == Counter({"reminder": 3})
    with source.begin() as connection:  # booked at the desk after the first read
        start = connection.execute(select(APPTS.c.starts_at).where(APPTS.c.id == 1)).scalar_one()
        connection.execute(insert(APPTS).values(id=VISITS + 1, patient_id=101, doctor_id=1, minutes=20,
                                                starts_at=start + timedelta(days=1), status="booked",
                                                updated_at=datetime.now() + timedelta(seconds=1)))

    fixed = settings(UNSTAMPED)
    counts = sync(fixed, store, "fixed")
    assert counts["created"] == VISITS + 1 - 3, counts
    plan(fixed, store)
    assert told(store) == Counter({"reminder": VISITS + 1, "confirmation": 1}), told(store)
