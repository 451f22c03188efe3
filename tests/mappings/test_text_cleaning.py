"""Text from any source is cleaned of control characters before it is converted or
stored (issue 16, observation 2: one NUL stopped a connector for good on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.transforms import clean_text

CSV = load_mapping("csv_default", "America/New_York", "US")
FHIR = load_mapping("fhir_r4", "America/New_York", "US")
ROW = {"appointment_id": "A1", "start": "2026-07-01 09:00", "duration_minutes": "30", "patient_id": "P1"}


@pytest.mark.parametrize(("raw", "clean"), [
    ("Ana López", "Ana López"),
    ("Ana\x00 López", "Ana López"),
    ("Suite 4\r\nSecond floor", "Suite 4\nSecond floor"),
    ("Suite 4\rSecond floor", "Suite 4\nSecond floor"),
    ("tab\tand\nline stay", "tab\tand\nline stay"),
    ("\x1b[31mred\x1b[0m", "[31mred[0m"),
    ("bell\x07 del\x7f c1\x85\x9f", "bell del c1"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ("\u00a0non-breaking\u200bzero-width", "\u00a0non-breaking\u200bzero-width"),  # not controls: kept
])
def test_control_characters_are_removed(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_a_flat_record_is_cleaned_field_by_field() -> None:
    appointment = CSV.apply({**ROW, "appointment_id": "A\x001", "patient_name": "Ana\x00 Lima\x1b",
                             "location": "Main\r\nAnnex", "patient_email": "ana\x00@example.org"})
    assert appointment.external_id == "A1"
    assert appointment.patient is not None and appointment.patient.name == "Ana Lima"
    assert appointment.patient.email == "ana@example.org"
    assert appointment.location == "Main\nAnnex"


def test_a_nested_record_is_cleaned_too() -> None:
    record: dict[str, Any] = {
        "resourceType": "Appointment", "id": "a1", "status": "booked",
        "start": "2026-03-08T09:30:00-05:00", "end": "2026-03-08T10:00:00-05:00",
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        "_patient": {"resourceType": "Patient", "id": "p1", "name": [{"given": ["A\x00na"], "family": "Li\x07ma"}]}}
    appointment = FHIR.apply(record)
    assert appointment.patient is not None and appointment.patient.name == "Ana Lima"


def test_the_id_of_a_failing_record_is_cleaned_for_the_quarantine() -> None:
    assert CSV.peek_id({**ROW, "appointment_id": "A\x001"}) == "A1"
