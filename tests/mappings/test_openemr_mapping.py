"""The OpenEMR preset mapping and the engine features it needs (date + time columns,
durations in seconds, droppable free-text values), as a pure function of a row."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.preset_schema import MappingPreset

EXPECTED_STATUS = {
    "-": "booked", "*": "booked", "+": "booked", "x": "cancelled", "?": "noshow", "@": "arrived",
    "~": "arrived", "!": "noshow", "#": "booked", "<": "checked-in", ">": "fulfilled", "$": "fulfilled",
    "%": "cancelled", "^": "pending", "AVM": "booked", "SMS": "booked", "EMAIL": "booked", "CALL": "booked",
}


@pytest.fixture(scope="module")
def openemr() -> CompiledMapping:
    return load_mapping("openemr", "America/New_York", "US")


def row(**changes: Any) -> dict[str, Any]:
    """A row as the preset query returns it from MariaDB (after the connector's value cleanup)."""
    base: dict[str, Any] = {
        "pc_eid": 41, "pc_pid": "7", "pc_aid": "5", "pc_catid": 5, "pc_catname": "Office Visit",
        "pc_eventDate": date(2031, 7, 15), "pc_startTime": time(9, 0), "pc_endTime": time(9, 15),
        "pc_duration": 900, "pc_apptstatus": "-", "pc_facility": 3, "facility_name": "Main Street Clinic",
        "patient_fname": "Alice", "patient_lname": "Arden", "patient_phone_cell": "(617) 253-1000",
        "patient_email": "alice@example.org", "patient_language": "spanish", "hipaa_allowsms": "YES",
        "hipaa_allowemail": "NO", "provider_fname": "Ada", "provider_lname": "Lovelace",
        "provider_email": "ada@clinic.example",
    }
    return {**base, **changes}


def test_every_apptstat_code_of_openemr_has_a_status(openemr: CompiledMapping, shared_fixtures: Path) -> None:
    schema = (shared_fixtures / "openemr" / "openemr_appointment_schema.sql").read_text()
    codes = re.findall(r"VALUES \('apptstat','([^']+)'", schema)
    assert len(codes) == 18  # the list as OpenEMR ships it
    assert set(codes) == set(EXPECTED_STATUS)
    for code in codes:
        assert openemr.apply(row(pc_apptstatus=code)).status == EXPECTED_STATUS[code], code


def test_a_row_becomes_an_appointment_in_utc(openemr: CompiledMapping) -> None:
    appointment = openemr.apply(row())
    assert appointment.external_id == "41"
    assert appointment.start == datetime(2031, 7, 15, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert appointment.end == datetime(2031, 7, 15, 13, 15, tzinfo=UTC)
    assert appointment.timezone == "America/New_York"
    assert (appointment.type, appointment.location) == ("Office Visit", "Main Street Clinic")
    patient = appointment.patient
    assert patient is not None
    assert (patient.external_id, patient.name, patient.phone) == ("7", "Alice Arden", "+16172531000")
    assert (patient.language, patient.allow_sms, patient.allow_email) == ("es", True, False)
    assert appointment.practitioner is not None
    assert (appointment.practitioner.external_id, appointment.practitioner.email) == ("5", "ada@clinic.example")


def test_winter_times_use_standard_time(openemr: CompiledMapping) -> None:
    appointment = openemr.apply(row(pc_eventDate=date(2031, 1, 15), pc_startTime=time(14, 30),
                                    pc_endTime=time(15, 0)))
    assert appointment.start == datetime(2031, 1, 15, 19, 30, tzinfo=UTC)  # 14:30 EST


def test_without_an_end_time_the_duration_in_seconds_gives_the_end(openemr: CompiledMapping) -> None:
    appointment = openemr.apply(row(pc_endTime=None, pc_duration=1800))
    assert appointment.end == datetime(2031, 7, 15, 13, 30, tzinfo=UTC)


def test_a_start_in_the_spring_gap_is_quarantined_not_guessed(openemr: CompiledMapping) -> None:
    with pytest.raises(MappingError) as caught:
        openemr.apply(row(pc_eventDate=date(2031, 3, 9), pc_startTime=time(2, 30), pc_endTime=time(3, 30)))
    assert caught.value.field == "start" and "daylight-saving gap" in caught.value.reason


def test_times_as_text_are_read_too(openemr: CompiledMapping) -> None:
    appointment = openemr.apply(row(pc_eventDate="2031-07-15", pc_startTime="09:00:00", pc_endTime="09:15"))
    assert appointment.start == datetime(2031, 7, 15, 13, 0, tzinfo=UTC)


def test_an_unreadable_time_names_the_field(openemr: CompiledMapping) -> None:
    with pytest.raises(MappingError) as caught:
        openemr.apply(row(pc_startTime="25:00:00"))
    assert (caught.value.field, caught.value.reason) == ("start", "not a time of day (expected HH:MM or HH:MM:SS)")


def test_no_phone_and_no_consent(openemr: CompiledMapping) -> None:
    patient = openemr.apply(row(patient_phone_cell="", patient_email="", hipaa_allowsms="NO",
                                hipaa_allowemail="")).patient
    assert patient is not None
    assert (patient.phone, patient.email, patient.allow_sms, patient.allow_email) == (None, None, False, False)


def test_unusable_free_text_is_dropped_and_the_appointment_kept(openemr: CompiledMapping) -> None:
    appointment = openemr.apply(row(patient_phone_cell="none", patient_language="declne_to_specfy",
                                    patient_email="not an email"))
    assert appointment.patient is not None
    assert (appointment.patient.phone, appointment.patient.language, appointment.patient.email) == (None, None, None)


def test_an_unknown_status_code_is_quarantined(openemr: CompiledMapping) -> None:
    with pytest.raises(MappingError) as caught:
        openemr.apply(row(pc_apptstatus="LOCAL1"))
    assert caught.value.field == "status"


def test_no_facility_means_no_location(openemr: CompiledMapping) -> None:
    assert openemr.apply(row(pc_facility=None, facility_name=None)).location is None


@pytest.mark.parametrize(("spec", "problem"), [
    ({"date": "d"}, "`date:` and `time:` go together"),
    ({"date": "d", "time": "t", "from": "x"}, "give one of from (with concat)/column/date+time/value"),
])
def test_date_and_time_fields_are_validated(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        MappingPreset.model_validate({"name": "x", "fields": {"external_id": {"from": "id"}, "start": spec}})


def test_duration_seconds_rounds_up_to_whole_minutes() -> None:
    preset = MappingPreset.model_validate({"name": "x", "fields": {
        "external_id": {"from": "id"}, "start": {"from": "s"},
        "duration_minutes": {"from": "secs", "type": "duration_seconds"}}})
    mapping = CompiledMapping(preset, "UTC", "US")
    appointment = mapping.apply({"id": 1, "s": "2031-07-15T09:00:00Z", "secs": 1000})
    assert appointment.end == datetime(2031, 7, 15, 9, 17, tzinfo=UTC)
