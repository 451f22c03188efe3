"""A PostgreSQL push's writes in one statement (store.py ``_Fold``: a new person's or location's
upsert, the new appointment or a changed one's UPDATE, its event, the run row, as data-modifying
CTEs) store exactly
what the statements one by one store: the same pushes through a receiver, with the fold and with
it switched off, end in the same rows column by column (people, locations, appointments, events
and their payloads, runs and their counts, quarantine items); a new appointment's push sends one
write; a failing part leaves nothing of the statement, and the push's retry then finds the row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.push import PushReceiver
from clinicsync.sync.store import batch as store_batch
from clinicsync.sync.store.bulk import one_row_insert
from clinicsync.sync.store.store import _PATIENT, _PERSON_TAIL, APPOINTMENTS, PATIENTS, Store, _Fold, _insert_new
from tests.sync.test_push_at_driver import _rows as _stored_rows
from tests.sync.test_push_turns import booking
from tests.sync.test_store import SOON, appt
from tests.sync.test_store_push_read import _push

CONNECTORS = ("folded", "apart")


@pytest.fixture
def settings(write_settings: Callable[..., Path]) -> Settings:
    digest = key_digest("csk_test-folded-0123456789abcdefghijklmnopqrst")
    return load_settings(write_settings(connectors="".join(f"""
- name: {name}
  kind: rest_api
  api_keys: [{{name: site, sha256: {digest}}}]
""" for name in CONNECTORS)))


def _all_rows(store: Store, connector: str) -> dict[str, list[tuple[Any, ...]]]:
    """:func:`test_push_at_driver._rows`, the event payloads, the runs and the quarantine items."""
    rows = _stored_rows(store, connector)
    with store.engine.connect() as connection:
        rows["syncrun"] = sorted(tuple(row) for row in connection.execute(text(
            "SELECT status, counts, error, finished_at >= started_at FROM syncrun WHERE connector = :c"),
            {"c": connector}))
        rows["quarantine"] = sorted(tuple(row) for row in connection.execute(text(
            "SELECT record_id, field, reason, status FROM quarantine WHERE connector = :c"), {"c": connector}))
    return rows


def _script(receiver: PushReceiver) -> list[tuple[str, str | None]]:
    """New bookings (new patients, a shared one, a doctor named again), an update of a patient, a
    reschedule, a cancel, a bad record set aside then fixed, a delete and the booking again, a
    replayed copy: each push's outcome and external id."""
    other = {"id": "P-2", "name": "Bo Lin", "phone": "(212) 555-0102"}
    pushes: list[dict[str, Any]] = [
        booking("A1"), booking("A2"), {**booking("A3"), "patient": other}, booking("A1"),
        {**booking("A4"), "patient": {**other, "name": "Bo Lin-Park"}},
        booking("A2", start="2030-03-12T11:00:00"), {**booking("A3"), "status": "cancelled"},
        {**booking("A5"), "start": "not a time"}, booking("A5"),
        {**booking("A6"), "practitioner": {"id": "D-2", "name": "Dr. Omar Said"}},
        {**booking("A7"), "patient": None},
        {**booking("A4"), "patient": {**other, "name": "Bo Lin-Park"},
         "practitioner": {"id": "D-2", "name": "Dr. Omar Said"}}]
    results = []
    for number, record in enumerate(pushes):
        if number == 5:  # answers to A2 (moved next: the answer goes) and A4 (another doctor: it stays)
            with receiver.store.engine.begin() as connection:
                connection.execute(text("UPDATE appointment SET participation = 'declined', participation_at = "
                                        "created_at WHERE connector = :c AND external_id IN ('A2', 'A4')"),
                                   {"c": receiver.name})
        result = receiver.receive(record, f"push:{number}", quarantine_bad=True)
        results.append((result.outcome, result.external_id))
    gone = receiver.delete("A6", "push:delete")
    results.append((gone.outcome if gone else "none", "A6"))
    again = receiver.receive(booking("A6"), "push:again", quarantine_bad=True)
    results.append((again.outcome, again.external_id))
    return results


def test_folded_pushes_store_what_the_statements_one_by_one_store(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    folded = _script(PushReceiver(settings, store, settings.connectors[0]))
    monkeypatch.setattr(store_batch, "_Fold", lambda: None)  # every insert on its own, as before
    apart = _script(PushReceiver(settings, store, settings.connectors[1]))
    assert folded == apart
    assert _all_rows(store, "folded") == _all_rows(store, "apart")
    rows = _all_rows(store, "folded")
    assert len(rows["appointment"]) == 7 and len(rows["syncrun"]) == len(folded)  # a delete's run too
    assert {kind for _, kind, *_ in rows["event"]} >= {"created", "rescheduled", "cancelled", "deleted"}
    assert rows["quarantine"] and rows["patient"] and rows["practitioner"]
    answers = {row[0]: row[-1] for row in rows["appointment"]}
    assert answers["A2"] is None and answers["A4"] == "declined"
    assert ("updated", "A4") in folded or ("rescheduled", "A4") in folded


@pytest.mark.parametrize("booked_days", [-3, 3])
def test_a_folded_push_first_seen_before_go_live_is_marked_so(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                              booked_days: int) -> None:
    """The created event's payload when the record was booked before the go-live moment (and
    after it), through the fold and without it; and a location new to the store."""
    # Last changed three days ago, before go-live: its booking time may say it is older than go-live
    # (store._booked_unchanged); the same stamp for both connectors, whose rows are compared.
    changed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    for connector in CONNECTORS:
        store.finish_baseline(connector, "baseline-run")
        if connector == "apart":
            monkeypatch.setattr(store_batch, "_Fold", lambda: None)
        booked = datetime.now(UTC) + timedelta(days=booked_days)
        _push(store, connector, replace(appt("g"), booked_at=booked, source_updated_at=changed, location="Annex"),
              False, probe=True, live=True)
    assert _stored_rows(store, "folded") == _stored_rows(store, "apart")
    payload = _stored_rows(store, "folded")["event"][0][3]
    assert ("before_go_live" in str(payload)) == (booked_days < 0)
    assert _stored_rows(store, "folded")["location"] == [("Annex", "Annex")]


def test_a_new_or_changed_appointments_push_writes_in_one_statement(settings: Settings, store: Store,
                                                         store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("the fold is PostgreSQL's")
    receiver = PushReceiver(settings, store, settings.connectors[0])
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cu, statement, *_: statements.append(
                     "+".join(part.split()[0].upper() for part in statement.split(";"))))
    assert receiver.receive(booking("N1"), "push:0", quarantine_bad=True).outcome == "created"
    # BEGIN with the push's plans, its turn and the outbox writers' lock (sync/store/outbox.py), the one read,
    # and the patient, appointment, event and run in one statement. The source's first push (it holds
    # no visit yet) also reads the sources the store holds (sync/ingest/orphans.py: no orphan, so it is
    # stored); a source with a visit never does.
    assert statements == ["BEGIN+SET+SET+SELECT+SELECT", "SELECT", "WITH", "WITH"]
    statements.clear()  # moved: the stored row read, then the UPDATE, the answer's reset, its event and the run
    assert receiver.receive(booking("N1", start="2030-03-12T11:00:00"), "push:1",
                            quarantine_bad=True).outcome == "rescheduled"
    assert statements == ["BEGIN+SET+SET+SELECT+SELECT", "SELECT", "SELECT", "WITH"]
    rows = _all_rows(store, "folded")
    assert len(rows["patient"]) == 1 and len(rows["appointment"]) == 1 and len(rows["event"]) == 2
    assert [run[0] for run in rows["syncrun"]] == ["ok", "ok"]


def test_a_failing_part_leaves_nothing_of_the_statement(store: Store, store_url: str) -> None:
    """A new appointment another writer already stored: the statement fails as SQLAlchemy's
    IntegrityError (the push's retry catches that), and its person upsert is not left behind."""
    if not store_url.startswith("postgresql"):
        pytest.skip("the fold is PostgreSQL's")
    _push(store, "folded", appt("dup"), False, probe=True)
    names = ("connector", "external_id", "status", "start_utc", "end_utc", "content_hash", "version",
             "created_at", "updated_at")
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        fold = _Fold()
        _insert_new(connection, PATIENTS, (*_PATIENT.names, *_PERSON_TAIL),
                    [("P-new", "Cy", None, None, None, None, True, True, None, "folded", "h", now)], True,
                    changed="content_hash", fold=fold)
        fold.created(connection, one_row_insert(connection, APPOINTMENTS, names,
                                                ("folded", "dup", "booked", SOON, SOON + timedelta(minutes=30),
                                                 "x", 1, now, now)), ("{}", now))
        fold.flush(connection, None)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM patient WHERE external_id = 'P-new'")).scalar_one() == 0
        assert connection.execute(text("SELECT COUNT(*) FROM appointment")).scalar_one() == 1
    # A push of the same appointment now finds it (as the retry does): unchanged, nothing more written.
    assert _push(store, "folded", appt("dup"), False, probe=True).unchanged == 1
