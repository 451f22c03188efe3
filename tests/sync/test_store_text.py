"""Text with control characters, from any source, is stored on SQLite and PostgreSQL alike
(issue 16, observation 2: PostgreSQL refuses NUL in text and failed the whole batch)."""

from __future__ import annotations

from sqlalchemy import text

from clinicsync.connectors.base import Batch, RawRecord
from clinicsync.mappings.engine import load_mapping
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.store.store import Store

CSV = load_mapping("csv_default", "America/New_York", "US")
FHIR = load_mapping("fhir_r4", "America/New_York", "US")


def test_control_characters_never_reach_the_store(store: Store) -> None:
    flat = {"appointment_id": "A\x001", "start": "2031-07-01 09:00", "duration_minutes": "30", "patient_id": "P1",
            "patient_name": "Ana\x00 Lima", "type": "Check\x1b-up", "location": "Main\r\nAnnex"}
    broken = {**flat, "appointment_id": "B\x002", "start": "not a date\x00"}  # quarantined, raw kept
    lone = {**flat, "appointment_id": "C3", "start": "\ud800"}  # a JSON source can send a lone surrogate
    nested = {"resourceType": "Appointment", "id": "f\x001", "status": "booked",
              "start": "2031-03-08T09:30:00-05:00", "end": "2031-03-08T10:00:00-05:00",
              "participant": [{"actor": {"reference": "Patient/p2"}, "status": "accepted"}],
              "_patient": {"resourceType": "Patient", "id": "p2", "name": [{"text": "Bo\x00 Chen\x07"}]}}
    mapped, quarantined = map_batch(CSV, Batch([RawRecord(flat, "x:1"), RawRecord(broken, "x:2"),
                                                RawRecord(lone, "x:3")]))
    more, _ = map_batch(FHIR, Batch([RawRecord(nested, "Appointment/f1")]))
    counts, error = store.apply_batch("src", "run1", [*mapped, *more], quarantined, {"at": 1})
    assert error is None and (counts.created, counts.quarantined) == (2, 2)
    with store.engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT a.external_id, p.name, a.type, l.name FROM appointment a "
            "JOIN patient p ON p.connector = a.connector AND p.external_id = a.patient_ref "
            "LEFT JOIN location l ON l.connector = a.connector AND l.external_id = a.location_ref "
            "ORDER BY a.external_id")).all()
        ids = [r[0] for r in connection.execute(text("SELECT record_id FROM quarantine ORDER BY record_id"))]
    assert [tuple(r) for r in stored] == [("A1", "Ana Lima", "Check-up", "Main\nAnnex"),
                                          ("f1", "Bo Chen", None, None)]
    assert ids == ["B2", "C3"]
