"""A source with no id column: each visit is known by its time, patient and doctor, and its id
is a short stable hash of that text, never the text (which holds the patient's name). A store
that holds visits under the readable form re-keys each one in place when it is mapped again:
the same row (its reminders and history), no visit cancelled or created, no event, no message."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from clinicsync.mappings.engine import CompiledMapping, MappingPreset, stand_in_id
from clinicsync.mappings.model import NormalizedAppointment
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
    moved = replace(hashed, start=hashed.start.replace(hour=hashed.start.hour + 1),
                    end=hashed.end.replace(hour=hashed.end.hour + 1))
    assert _apply(store, "later", moved).rescheduled == 1  # a later change reaches the same row
    with store.engine.connect() as connection:
        assert connection.execute(select(APPOINTMENTS.c.id).where(
            APPOINTMENTS.c.external_id == stand_in_id(READABLE))).scalar_one() == rows[READABLE]
