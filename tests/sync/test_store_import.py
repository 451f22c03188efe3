"""A whole import through the batch path, pinned: bench/data.py's generated export (its bad
rows too) imported, then re-exported with 1 % of its rows changed, on SQLite and on the real
PostgreSQL. Every stored row, event, person, location, quarantine item and the cursor is
digested after each run and compared with the digest the store gave before the batch path
was made faster (issue 32): a change to how a batch is written (hashing, row building, bind
processing, people, quarantine bookkeeping) must not change what is stored, nor the order
in which appointments, events and items are written (ids order the outbox)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Table, select

from bench.data import write_export
from clinicsync.sync.config.settings import settings_model
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.store.model import (
    Appointment,
    ConnectorState,
    Event,
    Location,
    Patient,
    Practitioner,
    Quarantine,
)
from clinicsync.sync.store.model.tombstones import TOMBSTONES
from clinicsync.sync.store.store import Store

ROWS = 3_000
CONNECTOR = "w1"
# Not content: when a row was written and by which run. A raw-record fingerprint digests the
# mapping's own source (sync/ingest/fingerprint.py mapping_epoch), so only whether a row has one counts.
TIMINGS = frozenset({"created_at", "updated_at", "last_seen", "resolved_at", "recorded_at", "run_id",
                     "forgotten_at"})
PRINTS = frozenset({"source_fingerprint"})
# Columns added after the digests were pinned: an empty one is what the store held before it
# existed, so only a value in it counts (a patient's fallback numbers, from a cell with several).
ADDED_SINCE = frozenset({"fallback_phones"})
# The digests of the store main gave (df18288) after the first import and after the 1 %-changed export.
FIRST = "157878bf9e7890f858164d315c2639a88351a2960248c1429568274d46913703"
CHANGED = "8d1d5a212286b23d26f329e16c6509c552eabb6e43d159fd6e4424ad629b467c"


def _settings(drop: Path, url: str) -> Any:
    """W1's connector (bench/w1_csv_ingest.py), in batches of 500 so that people, items and
    cursors cross batches."""
    connector = {"name": CONNECTOR, "kind": "csv", "mapping": "csv_default", "drop_dir": str(drop),
                 "settle_seconds": 0, "batch_size": 500}
    return settings_model().model_validate({
        "clinic": {"timezone": "America/New_York", "default_region": "US"},
        "store": {"url": url}, "connectors": [connector]}, context={"base_dir": drop})


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(store: Store, table: Table, order: str, skip: frozenset[str] = frozenset()) -> list[list[Any]]:
    """The table's rows in ``order`` (its id: the order they were written), timings left out."""
    columns = [c for c in table.columns if c.name not in TIMINGS | skip]
    with store.engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(table.c[order])).all()
    return [[(value is not None) if column.name in PRINTS else _value(value)
             for column, value in zip(columns, row, strict=True)
             if not (column.name in ADDED_SINCE and value is None)] for row in rows]


STATE_COLUMNS = [c.name for c in ConnectorState.__table__.columns if c.name not in TIMINGS]  # type: ignore[attr-defined]


def _files_by_name(cursor: str) -> str:
    """A drop folder's cursor with each file named alone, as the pinned digests knew it: the
    file's modification time (when the test wrote it) and size it now keeps with the name are
    not content (connectors/dropfolder.py ``FilesRead``), nor is the read's epoch (the settings
    and mapping code it was read under, sync/ingest/fingerprint.py ``with_epoch``)."""
    state = orjson.loads(cursor)
    state.pop("_read_epoch", None)
    state["done"] = {key: entry[0] if isinstance(entry, list) else entry for key, entry in state["done"].items()}
    return orjson.dumps(state).decode()


def store_digest(store: Store) -> tuple[str, dict[str, int]]:
    """A digest of everything the import stored, the same on every store: surrogate ids are
    left out (PostgreSQL's sequences may skip), an event names its appointment by external id."""
    appointments = Appointment.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        external = dict(connection.execute(select(appointments.c.id, appointments.c.external_id)).all())
    events = [[external[row[0]], *row[1:]] for row in _rows(store, Event.__table__, "id",  # type: ignore[attr-defined]
                                                            frozenset({"id"}))]
    tables = {
        "appointment": _rows(store, appointments, "id", frozenset({"id"})),
        "event": events,
        "patient": sorted(_rows(store, Patient.__table__, "external_id")),  # type: ignore[attr-defined]
        "practitioner": sorted(_rows(store, Practitioner.__table__, "external_id")),  # type: ignore[attr-defined]
        "location": sorted(_rows(store, Location.__table__, "external_id")),  # type: ignore[attr-defined]
        "quarantine": _rows(store, Quarantine.__table__, "id", frozenset({"id"})),  # type: ignore[attr-defined]
        "tombstone": sorted(_rows(store, TOMBSTONES, "external_id")),
        "connectorstate": [[_files_by_name(v) if c == "cursor" else v for c, v in zip(STATE_COLUMNS, row, strict=True)]
                           for row in _rows(store, ConnectorState.__table__, "connector")],  # type: ignore[attr-defined]
    }
    data = orjson.dumps(tables, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest(), {name: len(rows) for name, rows in tables.items()}


def test_a_generated_export_stores_what_it_always_stored(store: Store, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    url = store.engine.url.render_as_string(hide_password=False)
    settings = _settings(drop, url)
    first = write_export(drop / "export-1.csv", ROWS)
    report = sync_once(settings, store).connectors[CONNECTOR].as_dict()
    assert report["error"] is None and report["fetched"] == ROWS
    digest, sizes = store_digest(store)
    assert (report["created"], report["quarantined"]) == (sizes["appointment"], sizes["quarantine"])
    assert first.bad >= sizes["quarantine"] > 0
    assert sizes["event"] == sizes["appointment"] and sizes["practitioner"] == 50
    assert digest == FIRST, (digest, sizes)

    changed = write_export(drop / "export-2.csv", ROWS, changed=0.01, line_end="\n")
    report = sync_once(settings, store).connectors[CONNECTOR].as_dict()
    assert report["error"] is None
    digest, sizes = store_digest(store)
    assert sum(report[k] for k in ("updated", "rescheduled", "cancelled", "noshow")) == changed.changed > 0
    assert sizes["event"] == sizes["appointment"] + changed.changed
    assert digest == CHANGED, (digest, sizes)


def test_rows_built_bound_are_the_rows_bound_after(store: Store) -> None:
    """A batch's appointment rows are built as the driver receives them in one pass
    (store._bound_rows): the same values as ``_appointment_values`` through each column's
    bind processor (bulk.processed_rows), for every optional field set or not."""
    from datetime import UTC, timedelta

    from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
    from clinicsync.sync.store.bulk import bind_processors, processed_rows
    from clinicsync.sync.store.store import _ROW_NAMES, APPOINTMENTS, _appointment_values, _bound_rows

    start = datetime(2027, 3, 4, 14, 30, tzinfo=UTC)
    now = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)
    bare = NormalizedAppointment("A-1", "booked", start, start + timedelta(minutes=30), "America/New_York")
    full = NormalizedAppointment(
        "A-2", "cancelled", start, start + timedelta(minutes=45), "Europe/Paris", "Follow-up", "Main",
        NormalizedPatient("P-1", "Ana", "+12125550123"), NormalizedPractitioner("D1", "Dr Who"),
        start - timedelta(days=1), ("a: dropped", "b: guessed"), "accepted", "video", "https://meet.example/j",
        "https://meet.example/h", "+12125550100", "Weather", start - timedelta(days=9))
    with store.engine.connect() as connection:
        build = _bound_rows(connection, "src", now)
        processors = bind_processors(connection, [APPOINTMENTS.c[name] for name in _ROW_NAMES])
        for printed in (None, "f" * 32):
            expected = processed_rows([_appointment_values("src", a, "h" * 32, now, 1, printed)
                                       for a in (bare, full, bare)], processors)
            assert [build(a, "h" * 32, printed) for a in (bare, full, bare)] == expected


def test_person_rows_built_bound_are_the_rows_bound_after(store: Store) -> None:
    """A poll's new patients and practitioners are built bound in one pass too
    (_PersonKind.bound_rows): the raw row through each column's bind processor."""
    from clinicsync.mappings.model import NormalizedPatient, NormalizedPractitioner
    from clinicsync.sync.store.bulk import bind_processors, processed_rows
    from clinicsync.sync.store.store import _PATIENT, _PERSON_TAIL, _PRACTITIONER, PATIENTS, PRACTITIONERS

    now = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=datetime.now().astimezone().tzinfo)
    cases = ((_PATIENT, PATIENTS, (NormalizedPatient("P-1"), NormalizedPatient(
        "P-2", "Ana", "+12125550123", "ana@example.org", "es", "sms", False, True))),
             (_PRACTITIONER, PRACTITIONERS, (NormalizedPractitioner("D1"), NormalizedPractitioner("D2", "Dr", "d@x"))))
    with store.engine.connect() as connection:
        for kind, table, people in cases:
            build = kind.bound_rows(connection, table, "src", now)
            processors = bind_processors(connection, [table.c[name] for name in (*kind.names, *_PERSON_TAIL)])
            expected = processed_rows([(*kind.values(p), "src", kind.content_hash(p), now) for p in people * 2],
                                      processors)
            assert [build(p, kind.content_hash(p)) for p in people * 2] == expected


def test_the_same_import_on_mariadb(mariadb_store: Store, tmp_path: Path) -> None:
    """A MariaDB store holds the same after the same two runs (its driver takes the batch
    path's executemany and driver-level statements too)."""
    test_a_generated_export_stores_what_it_always_stored(mariadb_store, tmp_path)
