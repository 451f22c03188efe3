"""The batch path's shortcuts against the plain way they replace, compared column by column where
tests/sync/test_store_import.py's digest
leaves columns out (timings, ids) or does not reach (a batch whose new ids are not
consecutive, keyed updates on each store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync.store import appointments as store_appointments
from clinicsync.sync.store import batch as store_batch
from clinicsync.sync.store import bulk
from clinicsync.sync.store import store as store_module
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model import Appointment, Event, Patient
from clinicsync.sync.store.store import BatchOptions, Mapped, Store

APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
PATIENTS = Patient.__table__  # type: ignore[attr-defined]
START = datetime(2027, 3, 4, 14, 30, tzinfo=UTC)


def _people(count: int) -> list[NormalizedPatient]:
    return [NormalizedPatient(f"P-{i}", f"Patient {i}", f"+1212555{i:04d}", f"p{i}@example.org")
            for i in range(count)]


def _batch(first: int, size: int, patients: list[NormalizedPatient], doctors: list[NormalizedPractitioner],
           status: str = "booked") -> list[Mapped]:
    """``size`` appointments from number ``first`` on, sharing ``patients`` and ``doctors`` (the
    same objects across batches, as the mapping hands them)."""
    return [Mapped(f"row {i}", NormalizedAppointment(
        f"A-{i}", status, START + timedelta(minutes=15 * (i % 40)), START + timedelta(minutes=15 * (i % 40) + 30),
        "America/New_York", "Consultation", f"Room {i % 3}", patients[i % len(patients)],
        doctors[i % len(doctors)]), fingerprint=f"{i:032x}") for i in range(first, first + size)]


def _table(store: Store, table: Any) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]


def _import(path: Path, batches: list[list[Mapped]], monkeypatch: pytest.MonkeyPatch | None = None,
            run_id: str = "run-1") -> Store:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = Store(engine)
    for mapped in batches:
        store.apply_batch("src", run_id, mapped, [], None, BatchOptions(remember_people=True))
    return store


def test_created_events_by_select_are_the_events_executemany_wrote(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's created events by one INSERT ... SELECT: every column (ids, created_at, payload)
    as the executemany of their rows wrote them, updates' events first, over batches that
    create, update and do both; and the same when a batch's new ids are not consecutive
    (read back by key: the executemany path is taken)."""
    patients, doctors = _people(7), [NormalizedPractitioner("D1", "Dr One"), NormalizedPractitioner("D2")]
    batches = [_batch(0, 40, patients, doctors), _batch(30, 30, patients, doctors, status="cancelled"),
               _batch(60, 1, patients, doctors), _batch(61, 25, patients, doctors)]
    taken: list[bool] = []
    real = store_module._created_by_select

    def watched(connection: Any, new_ids: Any) -> bool:
        taken.append(real(connection, new_ids))
        return taken[-1]

    monkeypatch.setattr(store_appointments, "_created_by_select", watched)
    fast = _import(tmp_path / "fast.db", batches)
    assert taken == [True, True, False, True]  # the one-row batch takes the plain path
    monkeypatch.setattr(store_appointments, "_created_by_select", lambda connection, new_ids: False)
    plain = _import(tmp_path / "plain.db", batches)
    # Not consecutive: the ids are read back by key, and the executemany path writes the events.
    monkeypatch.setattr(store_appointments, "_created_by_select", watched)
    monkeypatch.setattr(bulk, "_consecutive_ids", lambda *args: None)
    shuffled = _import(tmp_path / "read-back.db", batches)
    try:
        for table in (APPOINTMENTS, EVENTS):
            mine, theirs = _table(fast, table), _table(plain, table)
            assert len(mine) > 60
            # created_at, updated_at: each run's own clock; everything else equal, ids included
            clock = {column.name for column in table.columns} & {"created_at", "updated_at"}
            keep = [i for i, column in enumerate(table.columns) if column.name not in clock]
            assert [[row[i] for i in keep] for row in mine] == [[row[i] for i in keep] for row in theirs]
            assert [[row[i] for i in keep] for row in _table(shuffled, table)] == [[row[i] for i in keep]
                                                                                  for row in theirs]
        # Each event's created_at is the batch's clock, as bound for the executemany: its row's.
        with fast.engine.connect() as connection:
            pairs = connection.exec_driver_sql(
                "SELECT e.created_at, a.created_at, e.kind FROM event e JOIN appointment a ON a.id = e.appointment_id"
            ).all()
        assert all(event == appointment for event, appointment, kind in pairs if kind == "created")
        assert {kind for _, _, kind in pairs} == {"created", "cancelled"}
    finally:
        for each in (fast, plain, shuffled):
            each.close()


def test_keyed_updates_at_the_driver_store_what_sqlalchemy_stored(store: Store) -> None:
    """bulk.update_keyed writes what SQLAlchemy's executemany of the same update wrote: each
    value through its column's bind processor (date-times, booleans, NULLs), on every store."""
    now = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)
    names = ("connector", "external_id", "name", "phone", "allow_sms", "allow_email", "content_hash", "updated_at")
    with store.engine.begin() as connection:
        bulk.insert_rows(connection, PATIENTS, names, [
            ("src", f"P-{i}", "old", None, True, True, "0" * 32, now) for i in range(6)])
    later = now + timedelta(hours=1, microseconds=7)
    columns = ("name", "phone", "allow_sms", "content_hash", "updated_at")
    changes = [(f"new {i}", None if i % 2 else f"+1212555000{i}", bool(i % 3), f"{i:032x}", later + timedelta(days=i))
               for i in range(3)]
    with store.engine.begin() as connection:
        bulk.update_keyed(connection, PATIENTS, columns, ("connector", "external_id"),
                          [(*change, "src", f"P-{i}") for i, change in enumerate(changes)])
        for i, change in enumerate(changes):  # the same values on the other three, the SQLAlchemy way
            connection.execute(update(PATIENTS).where(PATIENTS.c.connector == "src",
                                                      PATIENTS.c.external_id == f"P-{i + 3}")
                               .values(dict(zip(columns, change, strict=True))))
    with store.engine.connect() as connection:
        raw = {row[0]: row[1:] for row in connection.exec_driver_sql(
            "SELECT external_id, name, phone, allow_sms, content_hash, updated_at FROM patient")}
    assert [raw[f"P-{i}"] for i in range(3)] == [raw[f"P-{i + 3}"] for i in range(3)]
    assert raw["P-0"][0] == "new 0"


def _raw(store: Store, table: str) -> list[tuple[Any, ...]]:
    """Every column of every row as SQLite holds it, with its storage class (typeof)."""
    with store.engine.connect() as connection:
        names = [row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({table})")]
        columns = ", ".join(f"{name}, typeof({name})" for name in names)
        return [tuple(row) for row in connection.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY id")]


def test_inlined_constants_and_left_out_nulls_store_what_binding_every_value_stores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLite batch writes its constant columns (connector,
    version, created_at, updated_at) as literals and leaves out the columns None in every row;
    the rows are those of the INSERT that binds every value, column by column with their
    storage classes, over batches where an optional column is set in some rows only, in none,
    and in all; and the literal path is taken."""
    patients, doctors = _people(5), [NormalizedPractitioner("D1", "Dr One")]
    varied = _batch(100, 12, patients, doctors)
    varied[3] = Mapped(varied[3].position, NormalizedAppointment(
        "A-103", "booked", START, START + timedelta(minutes=30), "Europe/Paris", None, None, patients[0], None,
        START - timedelta(days=2), ("a: dropped",), "accepted", "video", "https://meet.example/j", None,
        "+12125550100", "Weather"), fingerprint=None)
    batches = [_batch(0, 20, patients, doctors), varied, _batch(200, 1, patients, doctors)]
    monkeypatch.setattr(store_batch, "utcnow", lambda: datetime(2026, 11, 25, 3, 4, 5, 678901, tzinfo=UTC))
    inlined: list[Any] = []
    real_inlined, real_unset = store_module._inlined, store_module._unset_columns
    monkeypatch.setattr(store_appointments, "_inlined", lambda *a: inlined.append(real_inlined(*a)) or inlined[-1])
    unset: list[frozenset[str]] = []
    monkeypatch.setattr(store_appointments, "_unset_columns", lambda *a: unset.append(real_unset(*a)) or unset[-1])
    fast = _import(tmp_path / "fast.db", batches)
    assert [sorted(i or ()) for i in inlined] == [["connector", "created_at", "updated_at", "version"]] * 2
    # Every optional column in the first batch; only provider_join_url in the second, where one row
    # sets the others; a batch of one binds every column.
    assert unset == [store_module._ALL_UNSET, {"provider_join_url"}]
    monkeypatch.setattr(store_appointments, "_inlined", lambda *a: None)
    monkeypatch.setattr(store_appointments, "_unset_columns", lambda *a: frozenset())
    plain = _import(tmp_path / "plain.db", batches)
    assert _raw(fast, "appointment") == _raw(plain, "appointment")
    assert _raw(fast, "event") == _raw(plain, "event")
    assert len(_raw(fast, "appointment")) == 33


def test_records_first_seen_before_go_live_are_told_apart_on_the_literal_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the connector inlined, a new row's external id moves to the row's first place: the
    go-live rule still finds the records first seen before go-live (their events say so), as
    the INSERT that binds every value does."""
    live = START - timedelta(days=30)
    patients, doctors = _people(3), [NormalizedPractitioner("D1")]
    batch = [Mapped(m.position, m.appointment, fingerprint=m.fingerprint,
                    first_seen=live - timedelta(days=1) if i % 3 == 0 else None)
             for i, m in enumerate(_batch(0, 10, patients, doctors))]
    monkeypatch.setattr(store_batch, "utcnow", lambda: datetime(2026, 11, 25, 3, 4, 5, 678901, tzinfo=UTC))
    events = []
    for inline in (True, False):
        if not inline:
            monkeypatch.setattr(store_appointments, "_inlined", lambda *a: None)
        engine = make_engine(f"sqlite:///{tmp_path / f'{inline}.db'}")
        upgrade(engine)
        store = Store(engine)
        store.apply_batch("src", "run-1", batch, [], None, BatchOptions(go_live=live))
        events.append(_raw(store, "event"))
        assert _raw(store, "appointment")[0][2:4] == ("src", "text")  # connector, typeof
    assert events[0] == events[1]
    assert sum("before_go_live" in str(row) for row in events[0]) == 4
