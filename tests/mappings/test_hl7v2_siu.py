"""mappings/hl7v2_siu.yaml on the third-party SIU samples and on built messages, and the
engine/transforms features it relies on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clinicsync.connectors.hl7v2.parse import decode, parse_message, split_messages
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import MappingError, NormalizedAppointment
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.mappings.transforms import TransformError, as_duration_minutes, as_hl7_datetime, as_language
from tests.connectors.hl7v2_support import siu


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def siu_mapping() -> CompiledMapping:
    return load_mapping("hl7v2_siu", "America/New_York", "US")


def apply(mapping: CompiledMapping, text: str, timezone: str | None = None) -> NormalizedAppointment:
    record = dict(parse_message(text).record)
    if timezone:
        record["timezone"] = timezone
    return mapping.apply(record)


def fixture_text(shared_fixtures: Path, name: str) -> str:
    [message] = split_messages(decode((shared_fixtures / "hl7" / f"{name}.hl7").read_bytes(), "auto"))
    return message


# (file, status, start, end, location, practitioner, sent) - the v2.8 samples give offsets (+0215).
MS_SAMPLES = [
    ("ms_fhirconverter_siu_s12_01", "booked", utc(2021, 9, 24, 7, 15), utc(2021, 9, 24, 8, 5),
     "055 Room01 GH Clinic", ("1210", "Robert GE"), utc(2021, 9, 14, 9, 5)),
    ("ms_fhirconverter_siu_s12_02", "booked", utc(2021, 8, 18, 9, 15), utc(2021, 8, 18, 10, 15),
     "LabUnit101 Lab Room 01 GHH Hospital", ("400", "Tim PB"), utc(2021, 8, 10, 9, 15)),
    ("ms_fhirconverter_siu_s12_1", "booked", utc(2020, 10, 4, 9, 11), utc(2020, 10, 8, 9, 11),
     "4E 136 CommunityHospital", ("400", "G Tim"), utc(1989, 8, 18, 9, 11)),
    ("ms_fhirconverter_siu_s13_01", "booked", utc(2021, 9, 24, 7, 15), utc(2021, 9, 24, 8, 5),
     "055 Room01 GH Clinic", ("1210", "Robert GE"), utc(2021, 9, 20, 9, 11)),
    ("ms_fhirconverter_siu_s13_02", "booked", utc(2021, 8, 20, 9, 15), utc(2021, 8, 20, 10, 15),
     "LabUnit101 Lab Room 01 GHH Hospital", ("400", "Tim PB"), utc(2021, 8, 18, 9, 15)),
    ("ms_fhirconverter_siu_s14_01", "booked", utc(2021, 9, 24, 7, 15), utc(2021, 9, 24, 8, 5),
     "055 Room02 GH Clinic", ("1210", "Robert GE"), utc(2021, 9, 20, 9, 11)),
    ("ms_fhirconverter_siu_s14_02", "booked", utc(2021, 8, 18, 9, 15), utc(2021, 8, 18, 10, 15),
     "LabUnit102 Lab Room 01 GHH Hospital", ("400", "Tim PB"), utc(2021, 8, 17, 9, 15)),
    ("ms_fhirconverter_siu_s15_01", "cancelled", utc(2021, 9, 24, 7, 15), utc(2021, 9, 24, 8, 5),
     "055 Room01 GH Clinic", ("1210", "Robert GE"), utc(2021, 9, 23, 9, 11)),
    ("ms_fhirconverter_siu_s15_02", "cancelled", utc(2021, 8, 18, 9, 15), utc(2021, 8, 18, 10, 15),
     "LabUnit101 Lab Room 01 GHH Hospital", ("400", "Tim PB"), utc(2021, 8, 18, 8, 15)),
    ("ms_fhirconverter_siu_s26_01", "noshow", utc(2021, 9, 24, 7, 15), utc(2021, 9, 24, 8, 5),
     "055 Room01 GH Clinic", ("1210", "Robert GE"), utc(2021, 9, 24, 7, 45)),
    ("ms_fhirconverter_siu_s26_02", "noshow", utc(2021, 8, 18, 9, 15), utc(2021, 8, 18, 10, 15),
     "LabUnit101 Lab Room 01 GHH Hospital", ("400", "Tim PB"), utc(2021, 8, 18, 9, 15)),
]


@pytest.mark.parametrize(("name", "status", "start", "end", "location", "doctor", "sent"), MS_SAMPLES,
                         ids=[s[0] for s in MS_SAMPLES])
def test_the_fhir_converter_siu_samples_map(shared_fixtures: Path, siu_mapping: CompiledMapping, name: str,
                                            status: str, start: datetime, end: datetime, location: str,
                                            doctor: tuple[str, str], sent: datetime) -> None:
    appointment = apply(siu_mapping, fixture_text(shared_fixtures, name))
    assert appointment.external_id == "36996"  # the filler id (SCH-2), not the placer's 12345
    assert (appointment.status, appointment.start, appointment.end) == (status, start, end)
    assert appointment.location == location
    assert appointment.practitioner is not None
    assert (appointment.practitioner.external_id, appointment.practitioner.name) == doctor
    assert appointment.source_updated_at == sent
    assert appointment.timezone == "America/New_York"
    patient = appointment.patient
    assert patient is not None
    assert (patient.external_id, patient.name) == ("PATID1234", "ADAM EVERYMAN")  # the MR identifier
    assert patient.language == "ar"  # PID-15 'ara' (ISO 639-2)
    # The samples' phone numbers (78788788, 2222, 1111) are no numbers anywhere: dropped.
    assert patient.phone is None and patient.email is None


def test_the_v23_orsos_sample_reads_sch11_timing_in_the_senders_zone(shared_fixtures: Path,
                                                                     siu_mapping: CompiledMapping) -> None:
    appointment = apply(siu_mapping, fixture_text(shared_fixtures, "hapi_siu_s14_orsos_nested_rgs"),
                        timezone="America/Toronto")
    assert appointment.external_id == "569576"
    # SCH-11.4 20100407161000 is Toronto time (EDT, -4); SCH-9/10: 379 MIN.
    assert appointment.start == utc(2010, 4, 7, 20, 10)
    assert appointment.end == utc(2010, 4, 8, 2, 29)
    assert appointment.timezone == "America/Toronto"
    assert appointment.status == "booked"
    assert appointment.source_updated_at == utc(2010, 4, 6, 17, 28, 3)  # MSH-7, naive, also Toronto
    assert appointment.type == "BYPASS AXILLOFEMORAL"  # AIS-3.2: SCH-7 is empty
    assert appointment.practitioner is not None and appointment.practitioner.external_id == "51873"
    assert appointment.patient is not None and appointment.patient.external_id == "990119205"


@pytest.mark.parametrize(("event", "status", "expected"), [
    ("S12", "Booked", "booked"), ("S12", "Pending", "pending"), ("S12", "", "booked"),
    ("S13", "Booked", "booked"), ("S14", "Complete", "fulfilled"), ("S14", "Started", "arrived"),
    ("S15", "Booked", "cancelled"), ("S15", "", "cancelled"), ("S16", "Booked", "cancelled"),
    ("S26", "Booked", "noshow"), ("S14", "Noshow", "noshow"), ("S14", "Cancelled", "cancelled"),
    ("S14", "DC", "cancelled"), ("S14", "Deleted", "entered-in-error"), ("S19", "Waitlist", "waitlist"),
])
def test_the_trigger_says_what_happened_else_the_filler_status(siu_mapping: CompiledMapping, event: str,
                                                               status: str, expected: str) -> None:
    assert apply(siu_mapping, siu(event, "1", "20300301120000", status=status)).status == expected


# SCH-25 outside table 0278 (real S12s carry `Confirmed`): the trigger event says, with a
# note naming the word; where the trigger itself says what happened, no note.
@pytest.mark.parametrize(("event", "word", "status", "noted"), [
    ("S12", "Confirmed", "booked", True), ("S13", "Confirmed", "booked", True),
    ("S14", "Tentativeish", "booked", True), ("S15", "Confirmed", "cancelled", False),
    ("S17", "Confirmed", "cancelled", False), ("S26", "Confirmed", "noshow", False),
    ("S19", "Confirmed", "booked", True), ("S12", "Booked", "booked", False),
])
def test_an_unmappable_filler_status_takes_the_trigger_events_status(
        siu_mapping: CompiledMapping, event: str, word: str, status: str, noted: bool) -> None:
    appointment = apply(siu_mapping, siu(event, "1", "20300301120000", status=word))
    assert appointment.status == status
    expected = (f"status: dropped '{word}' (value '{word}' not in the mapping's value map (add it under "
                f"`status: map:` in a site mapping that extends this one)); used '{status}' from the fallback "
                "(event)")
    assert appointment.notes == ((expected,) if noted else ())


def test_an_unmappable_filler_status_with_no_trigger_status_quarantines_naming_the_word() -> None:
    site = MappingPreset.model_validate({"name": "t", "fields": {
        "external_id": {"from": "id"}, "start": {"value": "2030-01-01T10:00Z"}, "duration_minutes": {"value": 5},
        "status": {"from": ["event", "s"], "on_invalid": "drop", "map": {"S12": None, "booked": "booked"},
                   "quote": True,
                   "fallback": {"from": "event", "map": {"S12": "booked"}}}}})
    mapping = CompiledMapping(site, "UTC", "US")
    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": "1", "event": "S99", "s": "Confirmed"})
    assert caught.value.field == "status" and caught.value.reason.startswith("value 'Confirmed' not in the")


def test_a_built_v25_message_maps_every_field(siu_mapping: CompiledMapping) -> None:
    appointment = apply(siu_mapping, siu("S12", "1", "20300301120000", start="203003041000", minutes=45))
    assert appointment.start == utc(2030, 3, 4, 15, 0)  # 10:00 in New York (EST)
    assert appointment.end == utc(2030, 3, 4, 15, 45)  # SCH-9/10 when TQ1 has no end
    assert appointment.type == "Checkup"
    assert appointment.patient is not None
    assert appointment.patient.phone == "+16175550123"  # XTN-5/6/7 of the mobile number
    assert appointment.patient.email == "jane.doe@example.org"
    assert appointment.patient.language == "es"
    assert appointment.practitioner is not None and appointment.practitioner.name == "Stephen Strange"


def test_times_without_an_offset_use_the_senders_zone_and_refuse_dst_gaps(siu_mapping: CompiledMapping) -> None:
    text = siu("S12", "1", "20300301120000", start="203003041000")
    assert apply(siu_mapping, text, timezone="Europe/Berlin").start == utc(2030, 3, 4, 9, 0)
    gap = siu("S12", "1", "20300301120000", start="203003100230")  # 02:30 does not exist in New York
    with pytest.raises(MappingError) as caught:
        apply(siu_mapping, gap)
    assert caught.value.field == "start" and "gap" in caught.value.reason


def test_an_offset_in_the_message_wins_over_the_zone(siu_mapping: CompiledMapping) -> None:
    text = siu("S12", "1", "20300301120000+0100", start="203003041000-0500")
    appointment = apply(siu_mapping, text, timezone="Asia/Tokyo")
    assert appointment.start == utc(2030, 3, 4, 15, 0)
    assert appointment.source_updated_at == utc(2030, 3, 1, 11, 0)


def test_sch11_timing_of_older_versions_and_no_timing_at_all(siu_mapping: CompiledMapping) -> None:
    older = apply(siu_mapping, siu("S12", "1", "20300301120000", start="203003041000", timing="SCH11"))
    assert older.start == utc(2030, 3, 4, 15, 0)
    with pytest.raises(MappingError) as caught:
        apply(siu_mapping, siu("S12", "1", "20300301120000", timing="none"))
    assert (caught.value.field, caught.value.reason) == ("start", "missing (required)")


def test_a_site_mapping_extends_the_preset_to_prefer_the_placer_id(tmp_path: Path) -> None:
    (tmp_path / "ours.yaml").write_text(
        "name: ours\nextends: hl7v2_siu\nfields:\n  external_id: {from: [SCH.1.1, SCH.2.1], required: true}\n")
    mapping = load_mapping("ours.yaml", "America/New_York", "US", tmp_path)
    assert apply(mapping, siu("S12", "1", "20300301120000", appointment="A5")).external_id == "PLA5"


# -- the engine features the preset relies on ------------------------------------------------------
def compile_fields(fields: dict[str, Any]) -> CompiledMapping:
    preset = MappingPreset.model_validate({"name": "t", "fields": {
        "external_id": {"from": "id"}, "start": {"value": "2030-01-01T10:00Z"}, "duration_minutes": {"value": 5},
        **fields}})
    return CompiledMapping(preset, "UTC", "US")


def test_a_value_mapped_to_null_passes_over_to_the_next_path() -> None:
    mapping = compile_fields({"type": {"from": ["a", "b"], "map": {"x": None, "y": "why", "z": "zed"}}})
    assert mapping.apply({"id": "1", "a": "x", "b": "z"}).type == "zed"
    assert mapping.apply({"id": "1", "a": "y", "b": "z"}).type == "why"
    assert mapping.apply({"id": "1", "a": "x"}).type is None
    # an optional field's unmapped word passes over to the next path; with none left, a note
    assert mapping.apply({"id": "1", "a": "other", "b": "z"}).type == "zed"
    assert mapping.apply({"id": "1", "a": "other"}).notes[0].startswith("type: dropped (value not in the")
    status = compile_fields({"status": {"from": "s", "map": {"ok": "booked"}, "quote": True}})
    with pytest.raises(MappingError, match="value 'perhaps' not in the mapping's value map"):
        status.apply({"id": "1", "s": "perhaps"})  # a core field quarantines, naming its word


def test_on_invalid_drop_passes_over_values_that_do_not_convert() -> None:
    mapping = compile_fields({"patient.external_id": {"from": "pid"},
                              "patient.phone": {"from": ["p1", "p2"], "on_invalid": "drop"},
                              "patient.email": {"from": "mail"}})
    appointment = mapping.apply({"id": "1", "pid": "P", "p1": "12", "p2": "(617) 555-0123", "mail": "a@b.org"})
    assert appointment.patient is not None and appointment.patient.phone == "+16175550123"
    appointment = mapping.apply({"id": "1", "pid": "P", "p1": "12", "mail": "a@b.org"})
    assert appointment.patient is not None and appointment.patient.phone is None
    # without on_invalid an optional field drops too (the default), and says so in a note
    dropped = mapping.apply({"id": "1", "pid": "P", "mail": "not-an-address"})
    assert dropped.patient is not None and dropped.patient.email is None
    assert dropped.notes == ("patient.email: dropped (not a valid email address)",)
    strict = compile_fields({"patient.external_id": {"from": "pid"},
                             "patient.email": {"from": "mail", "on_invalid": "quarantine"}})
    with pytest.raises(MappingError) as caught:  # on_invalid: quarantine keeps the old rule
        strict.apply({"id": "1", "pid": "P", "mail": "not-an-address"})
    assert caught.value.field == "patient.email"


def test_a_required_field_with_only_unusable_values_says_so() -> None:
    mapping = compile_fields({"location": {"from": ["l1", "l2"], "map": {"none": None}, "required": True}})
    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": "1", "l1": "none"})
    assert caught.value.reason == "no usable value (required)"
    with pytest.raises(MappingError) as caught:
        mapping.apply({"id": "1"})
    assert caught.value.reason == "missing (required)"


def test_concat_is_the_fallback_after_the_from_paths() -> None:
    mapping = compile_fields({"patient.external_id": {"from": "pid"},
                              "patient.phone": {"from": ["p1"], "concat": ["area", "local"], "on_invalid": "drop"}})
    fallback = mapping.apply({"id": "1", "pid": "P", "p1": "12", "area": "617", "local": "5550123"})
    assert fallback.patient is not None and fallback.patient.phone == "+16175550123"
    first = mapping.apply({"id": "1", "pid": "P", "p1": "617 555 0199", "area": "617", "local": "5550123"})
    assert first.patient is not None and first.patient.phone == "+16175550199"


def test_a_naive_update_time_is_read_in_the_records_zone_leniently() -> None:
    mapping = compile_fields({"timezone": {"from": "tz"}, "source_updated_at": {"from": "updated"}})
    assert mapping.apply({"id": "1", "tz": "America/New_York",
                          "updated": "2030-01-01T08:00"}).source_updated_at == utc(2030, 1, 1, 13, 0)
    # 01:30 happens twice when New York falls back; an ordering hint takes the first.
    assert mapping.apply({"id": "1", "tz": "America/New_York",
                          "updated": "2030-11-03T01:30"}).source_updated_at == utc(2030, 11, 3, 5, 30)


@pytest.mark.parametrize(("text", "expected"), [
    ("203003041000", datetime(2030, 3, 4, 10, 0)),
    ("20300304100059", datetime(2030, 3, 4, 10, 0, 59)),
    ("20300304100059.25", datetime(2030, 3, 4, 10, 0, 59, 250000)),
    ("203003041000+0215", utc(2030, 3, 4, 7, 45)),
    ("20300304100000-0030", utc(2030, 3, 4, 10, 30)),
])
def test_hl7_datetime(text: str, expected: datetime) -> None:
    value = as_hl7_datetime(text)
    assert value == expected and (value.tzinfo is None) == (expected.tzinfo is None)


@pytest.mark.parametrize("text", ["2030030410", "20300304", "2030-03-04T10:00", "203013041000", "203003041000+2500",
                                  "203003041000+0599"])
def test_hl7_datetime_refuses_what_is_no_time_of_day(text: str) -> None:
    with pytest.raises(TransformError):
        as_hl7_datetime(text)


@pytest.mark.parametrize(("text", "minutes"), [
    ("379 MIN", 379), ("50 min", 50), ("45", 45), ("2 hours", 120), ("1.5 h", 90), ("60 s", 1), ("90 s", 2),
    ("1 d", 1440), ("0:30", 30), ("1:15", 75), ("0:45:00", 45),
])
def test_duration(text: str, minutes: int) -> None:
    assert as_duration_minutes(text) == minutes


@pytest.mark.parametrize("text", ["3 weeks", "MIN", "", "ten min"])
def test_duration_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(TransformError):
        as_duration_minutes(text)


@pytest.mark.parametrize(("text", "code"), [
    ("ara", "ar"), ("eng", "en"), ("spa", "es"), ("ger", "de"), ("es", "es"), ("es_MX", "es-MX"),
    ("pt-BR", "pt-BR"), ("Spanish", "es"),
])
def test_language_keeps_only_a_region_it_was_given(text: str, code: str) -> None:
    assert as_language(text) == code
