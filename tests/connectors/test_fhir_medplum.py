"""Medplum's shapes through the fhir connector and the shipped fhir_r4 mapping, with no site
mapping (tests/fixtures/medplum/SOURCE.md: Medplum's scheduling documentation examples and
its provider app's test data, Apache-2.0). Medplum writes valid but minimal FHIR: codings
without a system, labels inside extensions, participants without a type, appointments
without a patient, several slots per appointment, the time zone on the practitioner. Each
table row is one class of shape; each imports as a clinic expects, or carries a note
saying what is missing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.connectors.fhir_vendor_helpers import fetch_and_map, fixture, match, searchset

CALENDAR = fixture("medplum", "appointment-patient-and-practitioner.json")  # participants without type
JOHN = {"resourceType": "Patient", "id": "123", "name": [{"given": ["John"], "family": "Doe"}]}
NAMELESS_DOCTOR = {"resourceType": "Practitioner", "id": "456"}  # Medplum's minimal Practitioner
READS: dict[str, int | dict[str, Any]] = {"Patient/123": JOHN, "Practitioner/456": NAMELESS_DOCTOR}


def service_type(name: str, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A Medplum Schedule's (or Slot's) serviceType, as an Appointment booked on it carries
    it, without the keys in ``drop``."""
    concepts = copy.deepcopy(fixture("medplum", name)["serviceType"])
    return [{k: v for k, v in concept.items() if k not in drop} for concept in concepts]


# (case, serviceType, the visit type a clinic sees)
SERVICE_TYPE_CASES: list[tuple[str, list[dict[str, Any]], str]] = [
    ("coding with no system, text beside it", service_type("schedule-dr-smith-office-visit.json"), "Office Visit"),
    ("coding with no system and no text", service_type("slot-blocking-busy-unavailable.json"), "office-visit"),
    ("label only in the service-type-reference extension inside the concept",
     service_type("schedule-dr-johnson.json", drop=("text",)), "Office Visit"),
    ("SNOMED code with no display, extension reference with no display",
     service_type("schedule-or-3-location.json"), "287809009"),
]


@pytest.mark.parametrize(("concepts", "expected"), [c[1:] for c in SERVICE_TYPE_CASES],
                         ids=[c[0] for c in SERVICE_TYPE_CASES])
def test_medplum_service_types_give_a_visit_type(concepts: list[dict[str, Any]], expected: str) -> None:
    appointment = {**copy.deepcopy(CALENDAR), "serviceType": concepts}
    mapped, quarantined, _ = fetch_and_map(searchset(match(appointment)), READS)
    assert quarantined == []
    [result] = mapped
    assert result.type == expected
    assert result.notes == ()


def test_participants_without_type_are_chosen_by_their_reference() -> None:
    mapped, quarantined, _ = fetch_and_map(searchset(match(copy.deepcopy(CALENDAR))), READS)
    assert quarantined == []
    [result] = mapped
    assert result.patient is not None and (result.patient.external_id, result.patient.name) == ("123", "John Doe")
    assert result.practitioner is not None
    assert (result.practitioner.external_id, result.practitioner.name) == ("456", "Dr. Smith")  # from the display
    assert result.status == "booked" and result.start.isoformat() == "2024-01-15T10:00:00+00:00"


def test_an_appointment_without_a_patient_imports_with_a_note() -> None:
    appointment = fixture("medplum", "appointment-practitioner-only.json")
    mapped, quarantined, _ = fetch_and_map(searchset(match(appointment)), {"Practitioner/practitioner-1": 404})
    assert quarantined == []
    [result] = mapped
    assert result.patient is None
    assert result.practitioner is not None and result.practitioner.name == "Dr. Smith"
    assert result.notes == (
        "patient: no Patient participant this server can read; nobody to message for this appointment",
        "practitioner: Practitioner read not found (HTTP 404); named from the appointment's display",
    )


def test_a_booking_with_two_slots_is_one_visit_and_slots_are_never_visits() -> None:
    """Medplum's $book answer: the Appointment refers to its slot and a buffer-after
    busy-unavailable Slot, and both Slots come as entries beside it (no search mode)."""
    bundle = fixture("medplum", "book-result-bundle.json")
    mapped, quarantined, _ = fetch_and_map(bundle, {
        "Patient/123": {"resourceType": "Patient", "id": "123"},
        "Practitioner/practitioner-1": {"resourceType": "Practitioner", "id": "practitioner-1",
                                        "name": [{"given": ["Alice"], "family": "Smith"}]}})
    assert quarantined == []
    [result] = mapped
    assert result.external_id == "appointment-123"
    assert (result.start.isoformat(), result.end.isoformat()) == ("2024-01-16T10:00:00+00:00",
                                                                  "2024-01-16T10:30:00+00:00")  # not the buffer
    assert result.patient is not None and result.patient.name == "Homer Simpson"
    assert result.practitioner is not None and result.practitioner.name == "Alice Smith"  # status tentative


def test_schedules_and_blocking_slots_in_a_bundle_are_not_visits() -> None:
    others = [fixture("medplum", name) for name in (
        "schedule-all-service-types.json", "schedule-or-3-location.json", "slot-blocking-busy-unavailable.json")]
    bundle = searchset(match(copy.deepcopy(CALENDAR)), *({"resource": r} for r in others))
    mapped, quarantined, _ = fetch_and_map(bundle, READS)
    assert [a.external_id for a in mapped] == ["test-appointment-1"] and quarantined == []


def _doctor_in(zone: Any) -> dict[str, Any]:
    practitioner = {**fixture("medplum", "practitioner-timezone.json"), "id": "456"}
    practitioner["extension"][0]["valueCode"] = zone
    return practitioner


# (case, practitioner's zone extension, Location's zone extension, appointment zone, notes)
ZONE_CASES: list[tuple[str, Any, str | None, str, tuple[str, ...]]] = [
    ("zone only on the practitioner (Medplum)", "America/Los_Angeles", None, "America/Los_Angeles", ()),
    ("the Location's zone wins over the practitioner's", "America/Los_Angeles", "America/Denver",
     "America/Denver", ()),
    ("a practitioner zone that is no zone is dropped, clinic zone used", "Pacific Time", None, "America/Chicago",
     ("timezone: dropped (unknown IANA time zone 'Pacific Time' (e.g. America/Chicago))",)),
]


@pytest.mark.parametrize(("doctor_zone", "room_zone", "expected", "notes"), [c[1:] for c in ZONE_CASES],
                         ids=[c[0] for c in ZONE_CASES])
def test_the_practitioners_time_zone_is_the_appointments(doctor_zone: Any, room_zone: str | None, expected: str,
                                                         notes: tuple[str, ...]) -> None:
    appointment = copy.deepcopy(CALENDAR)
    reads: dict[str, int | dict[str, Any]] = {"Patient/123": JOHN, "Practitioner/456": _doctor_in(doctor_zone)}
    if room_zone is not None:
        appointment["participant"].append({"actor": {"reference": "Location/or-3"}, "status": "accepted"})
        reads["Location/or-3"] = {"resourceType": "Location", "id": "or-3", "name": "Operating Room 3", "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": room_zone}]}
    mapped, quarantined, _ = fetch_and_map(searchset(match(appointment)), reads)
    assert quarantined == []
    [result] = mapped
    assert result.timezone == expected
    assert result.notes == notes
