"""A source with no id column: each visit is known by its time, patient and doctor, and its id
is a short stable hash of that text, never the text (which holds the patient's name). A store
that holds visits under the readable form re-keys each one in place when it is mapped again:
the same row (its reminders and history), no visit cancelled or created, no event, no message."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.mappings.engine import CompiledMapping, stand_in_id
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.store.store import BatchOptions, Mapped, Store
from clinicsync.sync.store.tables import APPOINTMENTS, EVENTS
from tests.sync.test_store import appt

ROW = {"Date": "2030-03-16", "Time": "09:30", "Patient": "Doe, Jane", "Provider": "Smith, John",
       "Phone": "(212) 555-0123"}
READABLE = "2030-03-16 09:30 Doe, Jane Smith, John"


def _mapping(fields: dict[str, Any]) -> CompiledMapping:
    base = {"start": {"date": "Date", "time": "Time"}, "duration_minutes": {"value": 30},
            "practitioner.external_id": {"from": "Provider"}}
    return CompiledMapping(MappingPreset.model_validate({"name": "report", "fields": {**base, **fields}}),
                           "America/New_York", "US")


@pytest.mark.parametrize("patient", [
    {"patient.external_id": {"from": "Patient"}, "patient.name": {"from": "Patient"}},
    {"patient.external_id": {"from": "Phone"}, "patient.name": {"column": "Patient"}},
])
def test_a_stand_in_id_is_a_stable_hash_of_time_patient_and_doctor(patient: dict[str, Any]) -> None:
    mapping = _mapping({"external_id": {"concat": ["Date", "Time", "Patient", "Provider"]}, **patient})
    for apply in (mapping.apply, mapping.apply_interpreted):
        visit = apply(dict(ROW))
        assert visit.external_id == stand_in_id(READABLE) and visit.former_id == READABLE
        assert len(visit.external_id) == 18 and "Doe" not in visit.external_id
        assert apply(dict(ROW)).external_id == visit.external_id  # the same visit, the same id
        assert apply({**ROW, "Time": "10:00"}).external_id != visit.external_id
    # A failed record, a delete sweep's listing and the unchanged-line check name it so too.
    assert mapping.peek_id(dict(ROW)) == stand_in_id(READABLE)


def test_an_id_of_two_key_columns_stays_as_read() -> None:
    """A table's key in two columns (a server id and an object id) holds no patient data."""
    mapping = _mapping({"external_id": {"concat": ["Server", "Object"]}, "patient.external_id": {"from": "Patient"}})
    for apply in (mapping.apply, mapping.apply_interpreted):
        visit = apply({**ROW, "Server": "7", "Object": "1042"})
        assert (visit.external_id, visit.former_id) == ("7 1042", None)
    assert mapping.peek_id({**ROW, "Server": "7", "Object": "1042"}) == "7 1042"


def _apply(store: Store, run_id: str, *appointments: NormalizedAppointment) -> Any:
    mapped = [Mapped(f"test:{i}", a) for i, a in enumerate(appointments)]
    counts, error = store.apply_batch("src", run_id, mapped, [], None, BatchOptions(remember_people=True))
    assert error is None
    return counts


def test_a_visit_stored_under_the_readable_id_is_re_keyed_in_place(store: Store) -> None:
    old_a, old_b = appt(READABLE), appt("2030-03-16 10:00 Roe, Rick Smith, John")
    _apply(store, "before", old_a, old_b)  # a store written before: the readable ids
    with store.engine.connect() as connection:
        rows = dict(connection.execute(select(APPOINTMENTS.c.external_id, APPOINTMENTS.c.id)).all())
        events_before = connection.execute(select(EVENTS.c.id)).all()
    hashed = replace(old_a, external_id=stand_in_id(READABLE), former_id=READABLE)
    counts = _apply(store, "after", hashed)  # the first visit mapped again; the second's line unchanged
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 1)
    with store.engine.connect() as connection:
        after = dict(connection.execute(select(APPOINTMENTS.c.external_id, APPOINTMENTS.c.id)).all())
        events_after = connection.execute(select(EVENTS.c.id)).all()
    assert after == {stand_in_id(READABLE): rows[READABLE], old_b.external_id: rows[old_b.external_id]}
    assert events_after == events_before  # nothing announced: the patient is told nothing
    moved = replace(hashed, start=hashed.start + timedelta(hours=1), end=hashed.end + timedelta(hours=1))
    assert _apply(store, "later", moved).rescheduled == 1  # a later change reaches the same row
    with store.engine.connect() as connection:
        assert connection.execute(select(APPOINTMENTS.c.id).where(
            APPOINTMENTS.c.external_id == stand_in_id(READABLE))).scalar_one() == rows[READABLE]


CSV_HEADER = "Date,Time,Patient,Provider,Status"
CSV_MAPPING = """\
name: report
extends: csv_default
fields:
  external_id: {concat: [Date, Time, Patient, Provider]}
  start: {date: Date, time: Time}
  duration_minutes: {value: 30}
  status: {from: Status}
  patient.external_id: {from: Patient}
  patient.name: {from: Patient}
  practitioner.external_id: {from: Provider}
"""


@pytest.mark.parametrize("edited", [False, True], ids=["same mapping file", "mapping file edited"])
def test_a_store_of_readable_ids_goes_on_without_cancelling_anyone(
        write_settings: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, edited: bool) -> None:
    """A snapshot CSV source synced before the rule (readable ids), then after it: no visit is
    deleted, cancelled or created, no event is written; the ids the store ends with are the
    hashes for every line that was mapped again (all of them when the mapping file changed)."""
    from datetime import date, timedelta

    from clinicsync.mappings import engine as engine_module
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import sync_once

    day = (date.today() + timedelta(days=10)).isoformat()
    lines = [f"{day},09:30,\"Doe, Jane\",Dr Smith,booked", f"{day},10:00,\"Roe, Rick\",Dr Smith,booked",
             f"{day},11:00,\"Poe, Ed\",Dr Ortiz,booked"]
    folder = tmp_path / "drop"
    folder.mkdir()
    (tmp_path / "report.yaml").write_text(CSV_MAPPING, encoding="utf-8")
    settings = load_settings(write_settings(
        f"- name: src\n  kind: csv\n  mapping: {tmp_path / 'report.yaml'}\n  drop_dir: {folder}\n"
        "  settle_seconds: 0\n  mode: snapshot\n  max_delete_share: 0.5\n"))

    def sync(n: int) -> Any:
        (folder / f"export-{n}.csv").write_text("\n".join([CSV_HEADER, *lines, ""]) + "\n" * n, encoding="utf-8")
        store = Store.open(settings.store)
        try:
            report = sync_once(settings, store).connectors["src"]
            with store.engine.connect() as connection:
                ids = dict(connection.execute(select(APPOINTMENTS.c.external_id, APPOINTMENTS.c.id)
                                              .where(APPOINTMENTS.c.deleted_at.is_(None))).all())
                kinds = [row[0] for row in connection.execute(select(EVENTS.c.kind).order_by(EVENTS.c.id))]
        finally:
            store.close()
        assert report.error is None, report.error
        return report.counts, ids, kinds

    with monkeypatch.context() as patched:  # the store as the release before wrote it
        patched.setattr(engine_module, "holds_patient_data", lambda fields: False)
        _, before, kinds_before = sync(1)
    assert len(before) == 3 and any("Doe" in key for key in before)
    if edited:
        (tmp_path / "report.yaml").write_text(CSV_MAPPING + "  type: {value: Visit}\n", encoding="utf-8")
    counts, after, kinds = sync(2)
    assert (counts.created, counts.deleted, counts.cancelled) == (0, 0, 0)
    assert sorted(after.values()) == sorted(before.values())  # the same rows
    if edited:  # every line mapped again: every id re-keyed; the edit itself an update, nothing else
        assert set(after) == {stand_in_id(key) for key in before} and counts.updated == 3
        assert set(kinds[len(kinds_before):]) <= {"updated"}
    else:
        assert set(after) <= set(before) | {stand_in_id(key) for key in before}
        assert kinds == kinds_before
    again, final, _ = sync(3)  # and the next export finds them all as they are
    assert (again.created, again.deleted) == (0, 0) and final == after
