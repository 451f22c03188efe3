"""A push's statements at the driver (sync/store/db.py ``at_cursor``: the one read, the turn on SQLite,
the new appointment, its one event, a new person's upsert, the run row) store exactly what
SQLAlchemy's path stores, on SQLite, PostgreSQL and MariaDB: the same pushes with a listener on
the engine (``at_cursor`` then goes through ``exec_driver_sql``) and the one-row upsert as the
Core statement end in the same rows, column by column; a driver error is SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from clinicsync.sync.store import people as store_people
from clinicsync.sync.store.db import at_cursor
from clinicsync.sync.store.store import _PATIENT, _PERSON_TAIL, PATIENTS, Store, _insert_new
from tests.sync.test_store_push_read import PUSHES, _push

NOW = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
# Every column but the ids and the times written at the push's own moment.
COLUMNS = {
    "patient": "external_id, name, phone, email, language, channel, allow_sms, allow_email, fallback_phones, "
               "content_hash",
    "practitioner": "external_id, name, email, content_hash",
    "location": "external_id, name",
    "appointment": "external_id, status, start_utc, end_utc, timezone, type, location_ref, patient_ref, "
                   "practitioner_ref, content_hash, version, source_updated_at, source_answer, cancel_reason, "
                   "quality_notes, visit_mode, join_url, provider_join_url, dial_in, source_fingerprint, "
                   "deleted_at IS NULL, participation",
}


def _rows(store: Store, connector: str) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as connection:
        rows = {table: sorted(tuple(row) for row in connection.execute(
            text(f"SELECT {columns} FROM {table} WHERE connector = :c"), {"c": connector}))
            for table, columns in COLUMNS.items()}
        rows["event"] = [tuple(row) for row in connection.execute(text(
            "SELECT a.external_id, e.kind, e.version, e.payload FROM event e JOIN appointment a "
            "ON a.id = e.appointment_id WHERE a.connector = :c ORDER BY e.id"), {"c": connector})]
    return rows


def _core_path(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLAlchemy's path: a listener on the engine, and the person upsert as the Core statement."""
    event.listen(store.engine, "before_cursor_execute", lambda *_: None)
    monkeypatch.setattr(store_people, "_upsert_one", lambda *_: None)


def test_pushes_at_the_driver_end_as_through_sqlalchemy(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for appointment, delete in PUSHES:
        _push(store, "driver", appointment, delete, probe=True)
    _core_path(store, monkeypatch)
    for appointment, delete in PUSHES:
        _push(store, "core", appointment, delete, probe=True)
    assert _rows(store, "driver") == _rows(store, "core")
    assert _rows(store, "driver")["patient"] and _rows(store, "driver")["event"]


def _person_row(store: Store, connector: str, key: str) -> tuple[Any, ...]:
    """The row as the database holds it, each value as text (SQLite's date-time text included),
    in ``_PATIENT.names`` then ``_PERSON_TAIL`` order."""
    with store.engine.connect() as connection:
        return tuple(connection.execute(text(
            "SELECT " + ", ".join(f"CAST({name} AS CHAR(400))" if store.engine.dialect.name != "sqlite"
                                  else f"CAST({name} AS TEXT)" for name in (*_PATIENT.names, *_PERSON_TAIL))
            + " FROM patient WHERE connector = :c AND external_id = :k"), {"c": connector, "k": key}).one())


def _upsert(store: Store, connector: str, values: tuple[Any, ...], marker: str) -> None:
    with store.engine.begin() as connection:
        _insert_new(connection, PATIENTS, (*_PATIENT.names, *_PERSON_TAIL), [(*values, connector, marker, NOW)],
                    True, changed="content_hash")


def _upserts_alike(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new person, the same key again with other content (a replica's copy), and again with
    the same hash (nothing written): the row each time as the Core statement leaves it."""
    steps = [(("P1", "Ana Ruiz", "+12125550101", None, "es", "sms", True, False, "+12125550188 +12125550177"), "h1"),
             (("P1", "Ana Ruiz-Díaz", None, "ana@example.org", None, None, False, True, None), "h2"),
             (("P1", "ignored: same hash", None, None, None, None, True, True, "+12125550199"), "h2")]
    seen: dict[str, list[tuple[Any, ...]]] = {}
    for connector in ("driver", "core"):
        if connector == "core":
            _core_path(store, monkeypatch)
        seen[connector] = []
        for values, marker in steps:
            _upsert(store, connector, values, marker)
            row = _person_row(store, connector, "P1")
            seen[connector].append(row[:-3] + row[-2:])  # all but the connector
    assert seen["driver"] == seen["core"]
    assert seen["driver"][1][1].rstrip() == "Ana Ruiz-Díaz"  # PostgreSQL pads the CHAR it was cast to
    if store.engine.dialect.name != "mysql":  # MySQL writes an equal hash's copy over it (upsert_statement)
        assert seen["driver"][2] == seen["driver"][1]


def test_a_new_persons_upsert_at_the_driver_writes_what_the_core_statement_writes(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _upserts_alike(store, monkeypatch)


@pytest.mark.mariadb
def test_a_new_persons_upsert_at_the_driver_on_mariadb(mariadb_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _upserts_alike(mariadb_store, monkeypatch)


def test_a_driver_error_at_the_cursor_is_sqlalchemys(store: Store) -> None:
    """A unique violation is SQLAlchemy's IntegrityError (the push's retry catches that), and
    the transaction rolls back whole."""
    sql = ("INSERT INTO location (connector, external_id, name) VALUES (?, ?, ?)"
           if store.engine.dialect.name == "sqlite" else
           "INSERT INTO location (connector, external_id, name) VALUES (%s, %s, %s)")
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        at_cursor(connection, sql, ("src", "Annex", "one")).close()
        at_cursor(connection, sql, ("src", "Annex", "two")).close()
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM location")).scalar_one() == 0
