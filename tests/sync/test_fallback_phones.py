"""A phone cell of several numbers keeps the others as the patient's fallback numbers (E.164, in
the cell's order): mapped by both engines, stored by the batch (a poll: COPY on PostgreSQL) and
the push paths on SQLite and PostgreSQL, a changed fallback a change like a changed phone, and a
patient without fallbacks hashed as before the field existed (an upgraded store rewrites nobody)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.mappings.transforms import phone_parser, split_phone
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.store import _PATIENT, BatchOptions, Mapped, Store
from tests.sync.test_store import appt

CELL = "0414 123456 / 0772 100001, 0701 222333"


@pytest.mark.parametrize(("region", "cell", "phone", "fallbacks"), [
    ("UG", CELL, "+256772100001", "+256414123456 +256701222333"),  # the mobile first, the others in order
    ("UG", "0772 100001 / 0772 100001", "+256772100001", None),  # the same number twice is one number
    ("ES", "91 555 12 34 / 91 555 12 35", "+34915551234", "+34915551235"),  # no mobile: the first, then the rest
    ("UG", "0772 100001", "+256772100001", None),  # one number: no fallbacks
])
def test_a_cell_gives_its_phone_and_its_fallbacks(region: str, cell: str, phone: str, fallbacks: str | None) -> None:
    read = split_phone(phone_parser(region)(cell))
    assert read == (phone, fallbacks) and type(read[0]) is str


def test_both_engines_put_the_fallbacks_on_the_patient() -> None:
    mapping = load_mapping("csv_default", "Africa/Kampala", "UG")
    record = {"appointment_id": "A1", "start": "2030-03-12T10:00:00", "end": "2030-03-12T10:30:00",
              "status": "booked", "patient_id": "P1", "patient_phone": CELL}
    for apply in (mapping.apply, mapping.apply_interpreted):
        patient = apply(record).patient
        assert patient is not None and type(patient.phone) is str
        assert (patient.phone, patient.fallback_phones) == ("+256772100001", "+256414123456 +256701222333")
        plain = apply({**record, "appointment_id": "A2", "patient_id": "P2", "patient_phone": "0772 100001"}).patient
        assert plain is not None and plain.fallback_phones is None


def _with_fallbacks(appointment: NormalizedAppointment, fallbacks: str | None) -> NormalizedAppointment:
    assert appointment.patient is not None
    return replace(appointment, patient=replace(appointment.patient, fallback_phones=fallbacks))


def _stored(store: Store) -> dict[str, tuple[Any, ...]]:
    with store.engine.connect() as connection:
        return {r[0]: tuple(r[1:]) for r in connection.execute(text(
            "SELECT external_id, phone, fallback_phones, content_hash FROM patient ORDER BY external_id"))}


@pytest.mark.parametrize("remember", [True, False])
def test_the_batch_stores_the_fallbacks_and_a_change_of_them_is_a_change(store: Store, remember: bool) -> None:
    """``remember``: a poll (the run's memory of its people, a first import's bulk insert) or the
    shared writer's upsert path."""
    def batch(run_id: str, *appointments: NormalizedAppointment) -> Any:
        mapped = [Mapped(f"test:{i}", a) for i, a in enumerate(appointments)]
        counts, error = store.apply_batch("src", run_id, mapped, [], None, BatchOptions(remember_people=remember))
        assert error is None
        return counts

    first = _with_fallbacks(appt("a"), "+12125550188 +12125550177")
    batch("run1", first, appt("b"))
    stored = _stored(store)
    assert stored["P-a"][:2] == ("+12125550123", "+12125550188 +12125550177")
    assert stored["P-b"][1] is None and stored["P-b"][2] == _PATIENT.content_hash(appt("b").patient)
    assert batch("run2", first, appt("b")).unchanged == 2  # the same again: nothing written
    changed = batch("run3", _with_fallbacks(appt("a"), "+12125550177"), appt("b"))
    assert changed.updated == 1 and _stored(store)["P-a"][1] == "+12125550177"
    gone = batch("run4", appt("a"), appt("b"))  # the cell now holds one number
    assert gone.updated == 1 and _stored(store)["P-a"][1] is None


def test_a_push_stores_the_fallbacks(store: Store) -> None:
    """A push writes one appointment through the shared writer's one-row upsert at the driver."""
    from clinicsync.sync.ingest.push import load_appointment

    store.apply_batch("src", "push1", [Mapped("push:0", _with_fallbacks(appt("a"), "+12125550188"))], [], None,
                      BatchOptions())
    loaded = load_appointment(store, "src", "a")
    assert loaded is not None and loaded.patient is not None
    assert loaded.patient.fallback_phones == "+12125550188"


def test_the_migration_adds_the_column_and_leaves_every_patient_as_it_was(store_url: str) -> None:
    """Upgrading a store from the schema before: every patient keeps its row and content hash
    (NULL fallbacks hash as before), so the next sync finds them unchanged."""
    engine = make_engine(store_url)
    upgrade(engine, "0044")
    patient = appt("a").patient
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO patient (connector, external_id, name, phone, allow_sms, allow_email, content_hash, "
            "updated_at) VALUES ('src', 'P-a', 'Ana López', '+12125550123', TRUE, TRUE, :h, '2026-11-01 10:00:00')"),
            {"h": _PATIENT.content_hash(patient)})
    upgrade(engine)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT fallback_phones, content_hash FROM patient")).one()
    engine.dispose()
    assert tuple(row) == (None, _PATIENT.content_hash(patient))
