"""The Easy!Appointments SQL preset's mapping as a pure function of a row the preset query
returns: the 1.5 default statuses (read from the schema fixture's settings row), the
provider's zone, the phone columns, and the id the delete sweep reads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping, load_mapping

SCHEMA = Path(__file__).parents[1] / "fixtures" / "easyappointments" / "schema" / "ea_1.5.2_schema.sql"
EXPECTED = {"Booked": "booked", "Confirmed": "booked", "Rescheduled": "booked", "Cancelled": "cancelled",
            "Draft": "pending", "": "booked"}


@pytest.fixture(scope="module")
def ea() -> CompiledMapping:
    return load_mapping("easyappointments_sql", "America/New_York", "US")


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 41, "update_datetime": datetime(2031, 1, 2, 8, 0), "book_datetime": datetime(2031, 1, 2, 8, 0),
        "start_datetime": datetime(2031, 7, 15, 9, 0), "end_datetime": datetime(2031, 7, 15, 9, 30),
        "status": "Booked", "location": None, "timezone": "Europe/Madrid", "id_users_customer": 7,
        "customer_first_name": "Alice", "customer_last_name": "Arden", "customer_email": "alice@example.org",
        "customer_mobile_number": None, "customer_phone_number": "(617) 253-1000", "customer_language": "spanish",
        "id_users_provider": 2, "provider_first_name": "Ana", "provider_last_name": "Ruiz",
        "provider_email": "ana@clinic.example", "id_services": 1, "service_name": "Check-up",
    }
    return {**base, **changes}


def test_the_default_status_list_of_1_5_maps(ea: CompiledMapping) -> None:
    options = re.search(r"\('appointment_status_options', '([^']+)'\)", SCHEMA.read_text(encoding="utf-8"))
    assert options is not None
    assert set(json.loads(options.group(1))) | {""} == set(EXPECTED)
    for word, status in EXPECTED.items():
        assert ea.apply(row(status=word)).status == status, word
    odd = ea.apply(row(status="Waiting list"))  # a site's own word: booked, with a note naming it
    assert odd.status == "booked" and any("Waiting list" in note for note in odd.notes)


def test_times_are_the_providers_wall_clock(ea: CompiledMapping) -> None:
    appointment = ea.apply(row())
    assert appointment.start == datetime(2031, 7, 15, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert appointment.end == datetime(2031, 7, 15, 7, 30, tzinfo=UTC)
    assert appointment.timezone == "Europe/Madrid"
    no_provider = ea.apply(row(timezone=None, id_users_provider=None))  # the connector's / clinic's zone
    assert no_provider.timezone == "America/New_York" and no_provider.start.hour == 13


def test_people_type_and_the_sweeps_id(ea: CompiledMapping) -> None:
    appointment = ea.apply(row(customer_mobile_number="not a phone"))
    assert appointment.external_id == "41" == ea.peek_id({"id": 41})
    assert ea.id_columns() == ("id",)
    patient, doctor = appointment.patient, appointment.practitioner
    assert patient is not None and doctor is not None
    assert (patient.external_id, patient.name, patient.phone, patient.language) == (
        "7", "Alice Arden", "+16172531000", "es")
    assert (doctor.external_id, doctor.name, doctor.email) == ("2", "Ana Ruiz", "ana@clinic.example")
    assert appointment.type == "Check-up"
