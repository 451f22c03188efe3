"""The mapping engine is a pure function: tables of cases, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.paths import compile_path

CSV = load_mapping("csv_default", "America/New_York", "US")
BASE = {"appointment_id": "A1", "start": "2026-07-01 09:00", "duration_minutes": "30", "patient_id": "P1"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("row", "start", "end", "zone"), [
    ({}, utc(2026, 7, 1, 13), utc(2026, 7, 1, 13, 30), "America/New_York"),  # EDT, UTC-4
    ({"start": "2026-12-01 09:00"}, utc(2026, 12, 1, 14), utc(2026, 12, 1, 14, 30), "America/New_York"),  # EST
    ({"start": "2026-07-01T09:00:00+02:00"}, utc(2026, 7, 1, 7), utc(2026, 7, 1, 7, 30), "America/New_York"),
    ({"start": "2026-07-01T09:00Z", "duration_minutes": "", "end": "2026-07-01T10:15Z"},
     utc(2026, 7, 1, 9), utc(2026, 7, 1, 10, 15), "America/New_York"),
    ({"timezone": "Europe/Berlin"}, utc(2026, 7, 1, 7), utc(2026, 7, 1, 7, 30), "Europe/Berlin"),
    ({"start": "07/01/2026 9:00 AM"}, utc(2026, 7, 1, 13), utc(2026, 7, 1, 13, 30), "America/New_York"),
    # The fall-back night: 01:30 happens twice, but with an offset it is exact.
    ({"start": "2026-11-01T01:30-05:00"}, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7), "America/New_York"),
])
def test_times_become_utc_and_keep_their_zone(row: dict[str, str], start: datetime, end: datetime,
                                              zone: str) -> None:
    appointment = CSV.apply({**BASE, **row})
    assert (appointment.start, appointment.end, appointment.timezone) == (start, end, zone)


@pytest.mark.parametrize(("row", "field", "reason"), [
    ({"appointment_id": ""}, "external_id", "missing (required)"),
    ({"start": ""}, "start", "missing"),
    ({"start": "soon"}, "start", "not a date-time"),
    ({"start": "2026-07-01T09:00:00+05:99"}, "start", "not a valid UTC offset"),  # Python alone reads 6 h 39
    ({"start": "2026-07-01T09:00-0475"}, "start", "not a valid UTC offset"),
    ({"start": "2026-03-08 02:30"}, "start", "does not exist in America/New_York"),  # spring-forward gap
    ({"start": "2026-11-01 01:30"}, "start", "ambiguous in America/New_York"),  # fall-back overlap
    ({"duration_minutes": ""}, "end", "give end or duration_minutes"),
    ({"duration_minutes": "", "end": "2026-07-01 08:00"}, "end", "is not after start"),
    ({"duration_minutes": "half an hour"}, "duration_minutes", "not a whole number"),
    ({"status": "perhaps"}, "status", "unknown status word 'perhaps' (add it to the mapping's status_map"),
    ({"status": "Ana Ruiz +1 212 555 0123"}, "status", "unknown status word (value not shown"),  # shifted column
    ({"timezone": "Mars/Base"}, "timezone", "unknown IANA time zone"),
    ({"patient_id": "", "patient_phone": "+12125550123"}, "patient.external_id", "missing"),
])
def test_bad_records_name_the_field_and_never_the_value(row: dict[str, str], field: str, reason: str) -> None:
    record = {**BASE, **row}
    with pytest.raises(MappingError) as caught:
        CSV.apply(record)
    assert caught.value.field == field
    assert reason in caught.value.reason
    if field.startswith("patient.") or "not shown" in reason:
        for value in row.values():
            if value:
                assert value not in str(caught.value)  # patient data never goes into a reason


# The rule for optional data: an unusable optional value is dropped and noted on the
# appointment, never a quarantine; the note names the field and the problem, and the value
# only for fields the mapping marks `quote: true` (codes): never in a CSV, whose shifted
# columns could put anything anywhere.
@pytest.mark.parametrize(("row", "field", "note"), [
    ({"patient_phone": "12345"}, "phone", "patient.phone: dropped (not a valid phone number (region US))"),
    ({"patient_email": "nobody"}, "email", "patient.email: dropped (not a valid email address)"),
    ({"patient_channel": "pigeon"}, "channel", "patient.channel: dropped (unknown channel"),
    ({"patient_language": "Klingonese"}, "language", "patient.language: dropped (not a known language)"),
    ({"patient_language": "151"}, "language", "patient.language: dropped (not a known language)"),
])
def test_an_unusable_optional_value_is_dropped_with_a_note(row: dict[str, str], field: str, note: str) -> None:
    appointment = CSV.apply({**BASE, **row})
    assert appointment.patient is not None and getattr(appointment.patient, field) is None
    assert len(appointment.notes) == 1 and appointment.notes[0].startswith(note)
    assert next(iter(row.values())) not in appointment.notes[0]  # a CSV value is never in a note


def test_a_field_marked_quote_names_its_value(tmp_path: Path) -> None:
    site = tmp_path / "coded.yaml"
    site.write_text("name: coded\nextends: csv_default\nfields:\n"
                    "  patient.language: {from: patient_language, quote: true}\n"
                    "  status: {from: status, quote: true}\n")
    coded = load_mapping(str(site), "America/New_York", "US", tmp_path)
    assert coded.apply({**BASE, "patient_language": "151"}).notes == (
        "patient.language: dropped '151' (not a known language)",)
    with pytest.raises(MappingError, match="unknown status word 'perhaps'"):
        coded.apply({**BASE, "status": "perhaps"})


def test_a_usable_record_has_no_notes_and_an_explicit_quarantine_still_quarantines(tmp_path: Path) -> None:
    assert CSV.apply({**BASE, "patient_language": "es"}).notes == ()
    site = tmp_path / "strict.yaml"
    site.write_text("name: strict\nextends: csv_default\nfields:\n"
                    "  patient.phone: {from: patient_phone, on_invalid: quarantine}\n")
    strict = load_mapping(str(site), "America/New_York", "US", tmp_path)
    with pytest.raises(MappingError, match="not a valid phone number"):
        strict.apply({**BASE, "patient_phone": "12345"})


def test_a_connector_note_travels_with_the_record() -> None:
    appointment = CSV.apply({**BASE, "_notes": ["practitioner: read answered 403; name from the display"]})
    assert appointment.notes == ("practitioner: read answered 403; name from the display",)


@pytest.mark.parametrize(("word", "status"), [
    ("Scheduled", "booked"), ("CONFIRMED", "booked"), ("canceled", "cancelled"), ("Cancelled", "cancelled"),
    ("No-Show", "noshow"), ("completed", "fulfilled"), ("checked in", "checked-in"), ("", "booked"),
    ("entered-in-error", "entered-in-error"), ("waitlist", "waitlist"),
])
def test_status_words_map_case_insensitively(word: str, status: str) -> None:
    assert CSV.apply({**BASE, "status": word}).status == status


@pytest.mark.parametrize(("given", "e164"), [
    ("(212) 555-0123", "+12125550123"), ("212.555.0123", "+12125550123"), ("+44 20 7946 0958", "+442079460958"),
    ("whatsapp:+34612345678", "+34612345678"),
])
def test_phones_become_e164(given: str, e164: str) -> None:
    assert CSV.apply({**BASE, "patient_phone": given}).patient.phone == e164  # type: ignore[union-attr]


def test_a_repeated_value_maps_the_same_every_time() -> None:
    """Conversions are remembered per distinct value within a compiled mapping: a repeat
    gives the same result, and a bad value fails every time with the same reason."""
    mapping = load_mapping("csv_default", "America/New_York", "US")
    good = {**BASE, "patient_phone": "(212) 555-0123", "start": "2027-03-14 09:00"}
    assert [mapping.apply(good).patient.phone for _ in range(2)] == ["+12125550123"] * 2  # type: ignore[union-attr]
    notes = [mapping.apply({**good, "patient_phone": "555-12"}).notes for _ in range(2)]
    assert notes == [("patient.phone: dropped (not a valid phone number (region US))",)] * 2
    gap = {**good, "start": "2027-03-14 02:30"}  # spring-forward gap in New York, asked twice
    for _ in range(2):
        with pytest.raises(MappingError, match="daylight-saving gap"):
            mapping.apply(gap)


@pytest.mark.parametrize(("given", "code"), [("es", "es"), ("Spanish", "es"), ("pt_BR", "pt-BR"), ("EN", "en")])
def test_languages_become_bcp47(given: str, code: str) -> None:
    assert CSV.apply({**BASE, "patient_language": given}).patient.language == code  # type: ignore[union-attr]


def test_a_whole_record_maps_to_patient_practitioner_and_location() -> None:
    appointment = CSV.apply({**BASE, "patient_name": "Ana López", "patient_email": "Ana@Example.COM",
                             "patient_channel": "SMS", "doctor_id": "D1", "doctor_name": "Dr. Who",
                             "doctor_email": "who@clinic.example", "location": "Main", "type": "Checkup"})
    assert appointment.patient is not None and appointment.practitioner is not None
    assert appointment.patient.email == "Ana@example.com"
    assert appointment.patient.channel == "sms"
    assert (appointment.practitioner.external_id, appointment.location, appointment.type) == ("D1", "Main", "Checkup")


def test_practitioner_is_keyed_by_email_when_there_is_no_id() -> None:
    appointment = CSV.apply({**BASE, "doctor_email": "who@clinic.example"})
    assert appointment.practitioner is not None
    assert appointment.practitioner.external_id == "who@clinic.example"


def test_long_text_is_shortened_and_a_long_id_refused() -> None:
    appointment = CSV.apply({**BASE, "type": "x" * 400, "location": "y" * 300})
    assert appointment.type is not None and len(appointment.type) == 255 and appointment.type.endswith("…")
    assert appointment.location is not None and len(appointment.location) == 255
    with pytest.raises(MappingError, match="longer than 255"):
        CSV.apply({**BASE, "appointment_id": "A" * 256})


def test_mapping_is_pure() -> None:
    record: dict[str, Any] = {**BASE}
    assert CSV.apply(record) == CSV.apply(dict(record))
    assert record == BASE


@pytest.mark.parametrize(("path", "expected"), [
    ("id", "a1"),
    ("meta.versionId", "3"),
    ("telecom[system=phone][use=mobile].value", "+1 555"),
    ("telecom[system=email].value", "x@y.z"),
    ("participant[actor.reference^=Patient/].actor.reference", "Patient/p1"),
    ("participant[0].actor.display", "Dr"),
    ("participant[-1].status", "accepted"),
    ("missing.path", None),
    ("telecom[system=fax].value", None),
])
def test_paths_walk_nested_resources(path: str, expected: Any) -> None:
    resource = {"id": "a1", "meta": {"versionId": "3"},
                "telecom": [{"system": "phone", "use": "home", "value": "+1 444"},
                            {"system": "phone", "use": "mobile", "value": "+1 555"},
                            {"system": "email", "value": "x@y.z"}],
                "participant": [{"actor": {"reference": "Practitioner/d1", "display": "Dr"}},
                                {"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}
    assert compile_path(path)(resource) == expected


def test_a_site_mapping_can_extend_a_preset(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "name: site\nextends: csv_default\nstatus_map:\n  booked-online: booked\n"
        "fields:\n  external_id: {from: Appt No, required: true}\n")
    site = load_mapping("site.yaml", "America/New_York", "US", tmp_path)
    assert site.apply({**BASE, "Appt No": "X9", "status": "Booked-Online"}).external_id == "X9"
    assert site.required_sources() == frozenset({"Appt No"})


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nfields:\n  start: {from: s}\n", "needs an external_id field"),
    ("name: x\nfields:\n  external_id: {from: a}\n  colour: {from: c}\n", "unknown field 'colour'"),
    ("name: x\nstatus_map:\n  ok: fine\nfields:\n  external_id: {from: a}\n", "not FHIR statuses"),
    ("name: x\nfields:\n  external_id: {from: a, type: money}\n", "unknown type 'money'"),
    ("name: x\nfields:\n  external_id: {frm: a}\n", "Extra inputs are not permitted"),
])
def test_bad_presets_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_mapping("bad.yaml", "UTC", "US", tmp_path)


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="csv_default"):
        load_mapping("nope", "UTC", "US")
