"""Every webhook preset against the vendors' captured or derived payloads
(tests/fixtures/<vendor>/SOURCE.md): which normalized fields each payload fills. A preset
that silently loses a field the payload carries (a phone in a location, a meeting link in a
new column, a link written as the place) fails here.

Each row is built the way the connector builds the record the mapping reads (Cal.com:
the body plus the resolved id and the location's parts; Acuity: the action beside the
appointment read from its API; Easy!Appointments: the body, with the customer when the
API is configured; Medplum: the POSTed Appointment, its references read as the poll reads
them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clinicsync.connectors import acuity, calcom
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from tests.connectors.fhir_vendor_helpers import fetch_and_map, match, searchset

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PEOPLE = {"patient.name", "patient.email", "doctor", "start", "end", "zone", "status"}


def load(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))


def filled(appointment: NormalizedAppointment) -> set[str]:
    patient, doctor = appointment.patient, appointment.practitioner
    values = {
        "patient.name": patient and patient.name, "patient.phone": patient and patient.phone,
        "patient.email": patient and patient.email, "doctor": doctor and doctor.external_id,
        "doctor.name": doctor and doctor.name, "start": appointment.start, "end": appointment.end,
        "zone": appointment.timezone, "status": appointment.status, "type": appointment.type,
        "location": appointment.location, "mode": appointment.visit_mode, "join_url": appointment.join_url,
        "dial_in": appointment.dial_in}
    return {name for name, value in values.items() if value}


def calcom_record(name: str) -> dict[str, Any]:
    body = load("calcom", name)
    return calcom.record(body, body["payload"]["uid"])


def acuity_record(webhook: str, appointment: str) -> dict[str, Any]:
    event = acuity.read((FIXTURES / "acuity" / webhook).read_bytes())
    return acuity.record(event, load("acuity", appointment))


def ea_record(name: str, customer: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = load("easyappointments", name)
    if customer:  # the API's customer, its unusable placeholder phone replaced as the EA tests do
        body["customer"] = load("easyappointments", "api_v1_customer_GET.rest-api-md.json") | {
            "phone": "+1 212 555 0123"}
    return body


CASES = [
    ("calcom", "created: a video booking", lambda: calcom_record("booking_created.json"),
     PEOPLE | {"doctor.name", "type", "mode", "join_url"}),
    ("calcom", "created: attendee phone", lambda: calcom_record("booking_created_attendee_phone.json"),
     PEOPLE | {"doctor.name", "type", "mode", "patient.phone"}),  # the phone from the location; no place
    ("calcom", "rescheduled", lambda: calcom_record("booking_rescheduled.json"),
     PEOPLE | {"doctor.name", "type", "mode", "join_url"}),
    ("calcom", "cancelled (no video URL in a cancel)", lambda: calcom_record("booking_cancelled.json"),
     PEOPLE | {"doctor.name", "type", "mode"}),
    ("acuity", "documented example", lambda: acuity_record("webhook_scheduled.txt", "appointment_GET_54321.json"),
     PEOPLE | {"doctor.name", "type"}),
    ("acuity", "a real online appointment", lambda: acuity_record("webhook_scheduled.txt",
                                                                  "appointment-183428383.json"),
     PEOPLE | {"doctor.name", "type", "patient.phone", "mode", "join_url"}),  # the "URL: …" location is the link
    ("easyappointments", "1.5 save, no API", lambda: ea_record("appointment_save_created.json"),
     {"doctor", "start", "end", "zone", "status", "type", "location"}),  # the row names the customer by id only
    ("easyappointments", "1.5 save with the customer", lambda: ea_record("appointment_save_created.json", True),
     PEOPLE | {"type", "location", "patient.phone"}),
    ("easyappointments", "1.6 save: meeting_link", lambda: ea_record("appointment_save.booked.derived-1.6.0.json"),
     {"doctor", "start", "end", "zone", "status", "type", "location", "mode", "join_url"}),
]
PRESETS = {"calcom": "calcom", "acuity": "acuity", "easyappointments": "easyappointments"}


@pytest.mark.parametrize(("vendor", "case", "build", "expected"), CASES, ids=[f"{v}: {c}" for v, c, _, _ in CASES])
def test_each_webhook_preset_fills_what_its_payload_carries(vendor: str, case: str, build: Any,
                                                             expected: set[str]) -> None:
    mapping = load_mapping(PRESETS[vendor], "America/New_York", "US")
    appointment = mapping.apply(build())
    assert filled(appointment) == expected, case
    assert appointment.notes == (), appointment.notes


def test_medplums_rest_hook_appointment_fills_through_the_fhir_preset() -> None:
    """Medplum POSTs the bare Appointment (rest-hook-deliveries.json); its patient and
    practitioner are read as the poll reads them (Homer Simpson as Patient/123)."""
    [delivery] = [d for d in load("medplum", "rest-hook-deliveries.json") if d["interaction"] == "update"]
    homer = load("medplum", "mock-homer-simpson.json") | {"id": "123"}
    mapped, quarantined, _ = fetch_and_map(searchset(match(delivery["body"])),
                                           {"Patient/123": homer, "Practitioner/456": {"resourceType": "Practitioner",
                                                                                       "id": "456"}})
    assert quarantined == []
    [appointment] = mapped
    # Homer's phone is the 7-digit "555-7334" of Medplum's mock: no number to text, dropped with a note.
    assert filled(appointment) == PEOPLE | {"doctor.name"}
    assert [note.split(":")[0] for note in appointment.notes] == ["patient.phone"]


def test_the_published_subscription_notifications_carry_no_appointment() -> None:
    """tests/fixtures/fhir_subscriptions hold the Backport IG's examples: their resources are
    Encounters, so no appointment field can be filled from them (the FHIR preset is covered by
    the Medplum row above and tests/connectors/test_fhir_*)."""
    for path in sorted((FIXTURES / "fhir_subscriptions").glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8-sig"))
        kinds = {e.get("resource", {}).get("resourceType") for e in bundle.get("entry", [])}
        assert "Appointment" not in kinds, path.name
