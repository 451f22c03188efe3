"""The fhir_r4 preset, on the official HL7 FHIR R4 examples (read in place from
tests/fixtures/third_party/fhir) and on a table of cases for each rule of the preset. Records
are enriched by the connector's own resolver, as a sync would do it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import respx

from clinicsync.connectors.fhir.client import FhirClient
from clinicsync.connectors.fhir.references import ReferenceResolver
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment

BASE = "https://ehr.example.org/fhir"


@pytest.fixture(scope="module")
def examples(shared_fixtures: Path) -> dict[str, dict[str, Any]]:
    folder = shared_fixtures / "fhir"
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in folder.glob("*.json")}


def enrich(appointment: dict[str, Any], *resources: dict[str, Any], reads: int = 0) -> dict[str, Any]:
    """The record the connector would yield when the search included ``resources``; any
    other reference is read from a server that answers 404, ``reads`` times in all."""
    client = FhirClient("test", BASE)
    resolver = ReferenceResolver(client)
    for resource in resources:
        resolver.add(resource)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.get(url__regex=r".*").respond(404, json={"resourceType": "OperationOutcome", "issue": []})
        record = resolver.enrich(appointment)
    client.close()
    assert route.call_count == reads
    return record


def apply(record: dict[str, Any], timezone: str = "Australia/Melbourne", region: str = "AU") -> NormalizedAppointment:
    return load_mapping("fhir_r4", timezone, region).apply(record)


def test_official_example_maps_every_field(examples: dict[str, dict[str, Any]]) -> None:
    record = enrich(examples["appointment-example"], examples["patient-example"],
                    examples["practitioner-example"], examples["location-1"])
    result = apply(record)
    assert result.external_id == "example"
    assert result.status == "booked"
    assert result.start == datetime(2013, 12, 10, 9, 0, tzinfo=UTC)
    assert result.end == datetime(2013, 12, 10, 11, 0, tzinfo=UTC)
    assert result.timezone == "Australia/Melbourne"  # no zone in the resource: clinic.timezone
    assert result.type == "General Discussion"  # serviceType's display comes before appointmentType
    assert result.location == "South Wing, second floor"
    assert result.patient is not None and result.practitioner is not None
    assert result.patient.external_id == "example"
    assert result.patient.name == "Peter James Chalmers"  # the official name: given names, then family
    assert result.patient.phone == "+61334105613"  # use=mobile beats the work number ranked first
    assert result.patient.email is None and result.patient.language is None
    assert result.practitioner.external_id == "example"
    assert result.practitioner.name == "Dr Adam Careful"
    assert result.practitioner.email is None
    assert result.source_updated_at is None  # the examples carry no meta


def test_official_two_doctor_example_takes_the_first_practitioner(examples: dict[str, dict[str, Any]]) -> None:
    # Practitioner/f202 is not among the examples: it is never read, because the first doctor wins.
    record = enrich(examples["appointment-example2doctors"], examples["patient-example"],
                    examples["practitioner-example"])
    result = apply(record)
    assert result.external_id == "2docs"
    assert result.practitioner is not None and result.practitioner.external_id == "example"
    assert result.type == "General Discussion"  # serviceType first
    assert result.location is None  # its only other actor is a display ("Phone Call")
    assert (result.start, result.end) == (datetime(2013, 12, 9, 9, 0, tzinfo=UTC),
                                          datetime(2013, 12, 9, 11, 0, tzinfo=UTC))


def test_official_request_without_start_is_refused_on_start(examples: dict[str, dict[str, Any]]) -> None:
    record = enrich(examples["appointment-example-request"], examples["patient-example"], examples["location-1"])
    assert "_practitioner" not in record  # the ATND participant has no actor
    with pytest.raises(MappingError) as caught:
        apply(record)
    assert caught.value.field == "start"
    mapping = load_mapping("fhir_r4", "UTC", "AU")
    assert mapping.peek_id(record) == "examplereq"


def test_a_reference_the_server_no_longer_has_keeps_the_id_and_the_display(
        examples: dict[str, dict[str, Any]]) -> None:
    record = enrich(examples["appointment-example"], reads=3)  # nothing included; reads answer 404
    assert record["_patient"] == {"resourceType": "Patient", "id": "example", "_unavailable": 404,
                                  "name": [{"text": "Peter James Chalmers"}]}
    result = apply(record)
    assert result.patient is not None and result.patient.external_id == "example"
    assert result.patient.name == "Peter James Chalmers" and result.patient.phone is None
    assert result.practitioner is not None and result.practitioner.name == "Dr Adam Careful"
    assert result.location == "South Wing, second floor"
    assert len(result.notes) == 3 and all("(HTTP 404); named from the appointment's display" in n
                                          for n in result.notes)


# -- each rule of the preset ----------------------------------------------------------------
def _appointment(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Appointment", "id": "a1", "status": "booked",
        "start": "2026-03-08T09:30:00-05:00", "end": "2026-03-08T10:00:00-05:00",
        "meta": {"versionId": "3", "lastUpdated": "2026-03-01T12:00:00.250+00:00"},
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        "_patient": {"resourceType": "Patient", "id": "p1", "telecom": [], "name": [{"text": "Ana Lima"}]},
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def _patient(**changes: Any) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"text": "Ana Lima"}]}
    patient.update(changes)
    return patient


CASES: list[tuple[str, dict[str, Any], str, Any]] = [
    ("status cancelled as is", _appointment(status="cancelled"), "status", "cancelled"),
    ("status noshow as is", _appointment(status="noshow"), "status", "noshow"),
    ("status entered-in-error", _appointment(status="entered-in-error"), "status", "entered-in-error"),
    ("offset instants to UTC", _appointment(), "start", datetime(2026, 3, 8, 14, 30, tzinfo=UTC)),
    ("minutesDuration without end", _appointment(end=None, minutesDuration=45), "end",
     datetime(2026, 3, 8, 15, 15, tzinfo=UTC)),
    ("lastUpdated", _appointment(), "source_updated_at", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
    ("connector timezone", _appointment(_timezone="America/Chicago"), "timezone", "America/Chicago"),
    ("tz-code on start beats the setting", _appointment(
        _timezone="America/Chicago",
        _start={"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/tz-code",
                               "valueCode": "America/Bogota"}]}), "timezone", "America/Bogota"),
    ("location's timezone extension", _appointment(_location={
        "resourceType": "Location", "id": "l1", "name": "Annex",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": "Europe/Lisbon"}]}),
     "timezone", "Europe/Lisbon"),
    ("type text first", _appointment(appointmentType={"text": "Checkup", "coding": [{"display": "x"}]}),
     "type", "Checkup"),
    ("serviceType before appointmentType", _appointment(
        serviceType=[{"text": "Flu shot"}], appointmentType={"text": "Checkup"}), "type", "Flu shot"),
    ("serviceCategory when nothing else (Epic)", _appointment(serviceCategory=[{"coding": [
        {"code": "surgery", "display": "Surgery"}], "text": "surgery"}]), "type", "Surgery"),
    ("specialty when nothing else", _appointment(specialty=[{"text": "Anesthesiology"}]), "type", "Anesthesiology"),
    ("BCP-47 coding before a vendor code (Oracle Health)", _appointment(_patient=_patient(communication=[
        {"language": {"coding": [{"system": "https://fhir.cerner.com/x/codeSet/36", "code": "151"},
                                 {"system": "urn:ietf:bcp:47", "code": "en"}], "text": "English"},
         "preferred": True}])), "patient.language", "en"),
    ("a vendor code alone falls to the text", _appointment(_patient=_patient(communication=[
        {"language": {"coding": [{"system": "https://fhir.cerner.com/x/codeSet/36", "code": "151"}],
                      "text": "Spanish"}}])), "patient.language", "es"),
    ("serviceType when no appointmentType", _appointment(serviceType=[{"coding": [{"code": "57",
                                                                                    "display": "Immunization"}]}]),
     "type", "Immunization"),
    ("type code when nothing is displayed", _appointment(appointmentType={"coding": [{"code": "WALKIN"}]}),
     "type", "WALKIN"),
    ("mobile first", _appointment(_patient=_patient(telecom=[
        {"system": "phone", "value": "+1 212 555 0101", "use": "home"},
        {"system": "phone", "value": "+1 917 555 0102", "use": "mobile"}])), "patient.phone", "+19175550102"),
    ("sms system counts as mobile", _appointment(_patient=_patient(telecom=[
        {"system": "phone", "value": "+1 212 555 0101", "use": "work"},
        {"system": "sms", "value": "+1 917 555 0103"}])), "patient.phone", "+19175550103"),
    ("home when no mobile", _appointment(_patient=_patient(telecom=[
        {"system": "phone", "value": "+1 212 555 0104", "use": "work"},
        {"system": "phone", "value": "+1 212 555 0105", "use": "home"}])), "patient.phone", "+12125550105"),
    ("an old number is never used", _appointment(_patient=_patient(telecom=[
        {"system": "phone", "value": "+1 212 555 0106", "use": "old"}])), "patient.phone", None),
    ("any current number without use", _appointment(_patient=_patient(telecom=[
        {"system": "phone", "value": "+1 212 555 0106", "use": "old"},
        {"system": "phone", "value": "+1 212 555 0107"}])), "patient.phone", "+12125550107"),
    ("email", _appointment(_patient=_patient(telecom=[
        {"system": "email", "value": "old@example.org", "use": "old"},
        {"system": "email", "value": "Ana@Example.ORG", "use": "work"}])), "patient.email", "Ana@example.org"),
    ("preferred language", _appointment(_patient=_patient(communication=[
        {"language": {"coding": [{"code": "en"}]}},
        {"language": {"coding": [{"code": "pt-BR"}]}, "preferred": True}])), "patient.language", "pt-BR"),
    ("first language when none preferred", _appointment(_patient=_patient(communication=[
        {"language": {"text": "Spanish"}}])), "patient.language", "es"),
    ("name from given and family", _appointment(_patient=_patient(name=[
        {"use": "usual", "given": ["Bea"]}, {"use": "official", "given": ["Beatriz", "Maria"], "family": "Souza"}])),
     "patient.name", "Bea"),
    ("official text first", _appointment(_patient=_patient(name=[
        {"use": "usual", "text": "Bea"}, {"use": "official", "text": "Beatriz Souza"}])),
     "patient.name", "Beatriz Souza"),
    ("practitioner email", _appointment(_practitioner={
        "resourceType": "Practitioner", "id": "d1", "name": [{"given": ["Rui"], "family": "Costa"}],
        "telecom": [{"system": "email", "value": "home@example.org", "use": "home"},
                    {"system": "email", "value": "rui@clinic.example", "use": "work"}]}),
     "practitioner.email", "rui@clinic.example"),
]


def _field(result: NormalizedAppointment, name: str) -> Any:
    value: Any = result
    for part in name.split("."):
        value = getattr(value, part) if value is not None else None
    return value


@pytest.mark.parametrize(("record", "field", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_preset_rule(record: dict[str, Any], field: str, expected: Any) -> None:
    assert _field(apply(copy.deepcopy(record), "America/New_York", "US"), field) == expected


def test_a_bad_phone_names_the_field_not_the_number() -> None:
    record = _appointment(_patient=_patient(telecom=[{"system": "phone", "value": "12", "use": "mobile"}]))
    appointment = apply(record, "America/New_York", "US")  # optional: dropped with a note
    assert appointment.patient is not None and appointment.patient.phone is None
    assert appointment.notes == ("patient.phone: dropped (not a valid phone number (region US))",)
