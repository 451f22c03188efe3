"""A one-appointment push (``Store.apply_push``) reads the connector's Presence and
what the store holds of the appointment, its patient, practitioner and location in one
statement (``store.presence_and_known``), on SQLite and on the real PostgreSQL: the store
ends exactly as after the same batches looked up one table at a time, and a push of a new
appointment reads nothing else before it writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.store import (
    APPOINTMENTS,
    LOCATIONS,
    PATIENTS,
    PRACTITIONERS,
    STORED_GO_LIVE,
    BatchOptions,
    Counts,
    Known,
    Mapped,
    PushOptions,
    Store,
    presence_and_known,
)
from tests.sync.test_store import SOON, appt

# One record each, as pushes come: new, again equal, the patient changed, moved, deleted,
# booked again after it, without patient and practitioner, at a location of its own.
PUSHES: list[tuple[NormalizedAppointment, bool]] = [
    (appt("a"), False),
    (appt("a"), False),
    (appt("a", phone="+12125550199"), False),
    (appt("a", start=SOON + timedelta(hours=2), phone="+12125550199"), False),
    (appt("a", start=SOON + timedelta(hours=2), phone="+12125550199", source_updated_at=SOON - timedelta(days=3)),
     True),
    (appt("a", start=SOON + timedelta(hours=2), phone="+12125550199", source_updated_at=SOON - timedelta(days=2)),
     False),  # the same booking again, after the delete
    (replace(appt("b"), patient=None, practitioner=None), False),
    (replace(appt("c", doctor="D2"), location="Annex"), False),
    (replace(appt("c", doctor="D2"), location="Annex", patient=appt("a").patient), False),
]


def _push(store: Store, connector: str, appointment: NormalizedAppointment, delete: bool, probe: bool,
          live: bool = False) -> Counts:
    """``live``: with the go-live moment, as a receiver has it (read in the one statement, or apart)."""
    go_live = (STORED_GO_LIVE if probe else store.go_live(connector)) if live else None
    mapped = [Mapped("push:0", appointment, delete=delete)]
    counts, error = (store.apply_push(connector, "run1", mapped, [], PushOptions(go_live=go_live)) if probe
                     else store.apply_batch(connector, "run1", mapped, [], None, BatchOptions(go_live=go_live)))
    assert error is None
    return counts


def _rows(store: Store, connector: str) -> dict[str, list[tuple[Any, ...]]]:
    """The connector's rows as stored, without the times they were written."""
    queries = {
        "patient": "SELECT external_id, name, phone, content_hash FROM patient WHERE connector = :c",
        "practitioner": "SELECT external_id, name, email, content_hash FROM practitioner WHERE connector = :c",
        "location": "SELECT external_id, name FROM location WHERE connector = :c",
        "appointment": "SELECT external_id, status, version, content_hash, deleted_at IS NULL, patient_ref, "
                       "practitioner_ref, location_ref, start_utc FROM appointment WHERE connector = :c",
        "event": "SELECT a.external_id, e.kind, e.version, e.payload FROM event e "
                 "JOIN appointment a ON a.id = e.appointment_id WHERE a.connector = :c ORDER BY e.id",
    }
    with store.engine.connect() as connection:
        return {table: sorted(tuple(row) for row in connection.execute(text(sql), {"c": connector}))
                for table, sql in queries.items()}


def test_a_push_read_in_one_statement_ends_as_the_lookups_one_by_one(store: Store) -> None:
    for appointment, delete in PUSHES:
        assert _push(store, "one", appointment, delete, probe=True) == _push(store, "each", appointment, delete,
                                                                             probe=False)
        assert _rows(store, "one") == _rows(store, "each")
    assert _rows(store, "one")["appointment"]


def test_a_new_appointments_push_reads_once_before_writing(store: Store) -> None:
    _push(store, "src", appt("a"), False, probe=True)  # the patient, practitioner and location now known
    statements: list[str] = []

    def seen(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.lstrip().split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        _push(store, "src", replace(appt("z"), patient=appt("a").patient), False, probe=True)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s == "SELECT"]
    assert reads == ["SELECT"], statements


def test_the_one_read_gives_what_the_lookups_one_by_one_give(store: Store) -> None:
    """Each of ``Known``'s parts is what ``select_in`` reads of its table (a deleted row's
    deleted_at, a location's name), and nothing for what is not stored."""
    _push(store, "src", appt("a"), False, probe=False)
    _push(store, "src", appt("a", source_updated_at=SOON), True, probe=False)
    with store.engine.begin() as connection:
        present, known = presence_and_known(connection, "src", appt("a"), ["a"])
        lookups = {table.name: dict((row[0], row[1:] if len(row) > 2 else row[1]) for row in select_in(
            connection, table, names, "src", [key])) for table, names, key in (
            (PATIENTS, ("external_id", "content_hash"), "P-a"), (PRACTITIONERS, ("external_id", "content_hash"), "D1"),
            (LOCATIONS, ("external_id", "name"), "Main"))}
        [stored] = select_in(connection, APPOINTMENTS, ("external_id", "content_hash", "deleted_at", "id",
                                                        "source_fingerprint"), "src", ["a"])
        assert present.tombstones and not present.items and present.go_live is None
        assert known.patients == lookups["patient"] and known.practitioners == lookups["practitioner"]
        assert known.locations == lookups["location"] == {"Main": "Main"}
        assert known.appointments == {"a": stored} and stored[2] is not None
        _, nothing = presence_and_known(connection, "src", replace(appt("new", doctor="D9"), location="Elsewhere"),
                                        ["new"])
        assert nothing == Known({}, {}, {}, {})


def _items(store: Store, connector: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(text(
            "SELECT record_id, status, resolution FROM quarantine WHERE connector = :c"), {"c": connector}))


def test_pushes_into_a_live_source_with_items_of_other_records_end_as_the_lookups(store: Store) -> None:
    """The one read asks about quarantine items of the pushed record only: a source whose
    baseline quarantined other records ends as with the connector-wide lookups, a record
    quarantined before go-live and fixed since is recorded quiet and its item resolved, and
    the other records' items stay open."""
    for connector in ("one", "each"):
        store.apply_batch(connector, "run0", [], [QuarantineEntry("row:1", "bad phone", "phone", "early"),
                                                  QuarantineEntry("row:2", "bad phone", "phone", "other")], None)
        store.finish_baseline(connector, "run0")
    for appointment in (appt("early"), appt("new"), appt("new", phone="+12125550199")):
        assert _push(store, "one", appointment, False, probe=True, live=True) == _push(
            store, "each", appointment, False, probe=False, live=True)
        assert _rows(store, "one") == _rows(store, "each") and _items(store, "one") == _items(store, "each")
    assert _items(store, "one") == [("early", "resolved", "imported"), ("other", "open", None)]
    quiet = [payload for external_id, kind, _, payload in _rows(store, "one")["event"] if external_id == "early"]
    assert len(quiet) == 1 and '"before_go_live": true' in quiet[0].replace('":true', '": true')
    with store.engine.begin() as connection:  # the items are the record's own, under either of its ids
        mine, _ = presence_and_known(connection, "one", appt("x"), ["other", "x"])
        theirs, _ = presence_and_known(connection, "one", appt("x"), ["x"])
    assert (mine.open_items, mine.items) == (True, True) and (theirs.open_items, theirs.items) == (False, False)


def test_the_one_read_on_mariadb(mariadb_store: Store) -> None:
    """The same statement on a MariaDB store (pushes reach one there too)."""
    test_a_push_read_in_one_statement_ends_as_the_lookups_one_by_one(mariadb_store)
    test_the_one_read_gives_what_the_lookups_one_by_one_give(mariadb_store)
    test_pushes_into_a_live_source_with_items_of_other_records_end_as_the_lookups(mariadb_store)
