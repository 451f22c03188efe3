"""Vendor shapes of SIU the preset reads (issue 57 obs 8), on fixtures derived from Microsoft
FHIR-Converter's published samples (tests/fixtures/hl7_siu/SOURCE.txt says what was edited):
the only duration in the service segment (AIS-7/8, SCH-9/10 empty) and an S15 whose filler
status (SCH-25) is NOSHOW."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from clinicsync.connectors.hl7v2.parse import decode, parse_message, split_messages
from clinicsync.mappings.engine import CompiledMapping, load_mapping
from clinicsync.mappings.model import NormalizedAppointment
from tests.connectors.hl7v2_support import siu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7_siu"


@pytest.fixture(scope="module")
def mapping() -> CompiledMapping:
    return load_mapping("hl7v2_siu", "America/New_York", "US")


def both(mapping: CompiledMapping, text: str) -> NormalizedAppointment:
    record = dict(parse_message(text).record)
    generated, interpreted = mapping.apply(record), mapping.apply_interpreted(record)
    assert repr(generated) == repr(interpreted)
    return generated


def fixture(name: str) -> str:
    [message] = split_messages(decode((FIXTURES / f"{name}.hl7").read_bytes(), "auto"))
    return message


def test_the_service_segments_duration_ends_the_visit(mapping: CompiledMapping) -> None:
    appointment = both(mapping, fixture("derived_siu_s12_ais_duration_only"))
    assert appointment.start == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)  # AIS-4
    assert appointment.end == datetime(2021, 9, 24, 8, 5, tzinfo=UTC)  # + AIS-7/8: 50 min
    assert not [n for n in appointment.notes if n.startswith("duration_minutes")]


def test_an_ais_duration_without_units_is_minutes_and_sch_9_still_wins(mapping: CompiledMapping) -> None:
    text = fixture("derived_siu_s12_ais_duration_only")
    bare = text.replace("|||50|min^Minutes^ISO||Booked|5001", "|||45|||Booked|5001", 1)
    assert bare != text
    appointment = both(mapping, bare)
    assert appointment.end is not None and (appointment.end - appointment.start).total_seconds() == 45 * 60
    schedule = text.replace("|Add|EMERGENCY|Normal||||", "|Add|EMERGENCY|Normal|2|hours||", 1)
    assert schedule != text
    appointment = both(mapping, schedule)
    assert appointment.end is not None and (appointment.end - appointment.start).total_seconds() == 2 * 3600


def test_an_unreadable_ais_duration_is_named(mapping: CompiledMapping) -> None:
    text = fixture("derived_siu_s12_ais_duration_only").replace("|||50|min^Minutes^ISO||Booked|5001",
                                                                "|||50|fortnights||Booked|5001", 1)
    with pytest.raises(Exception, match="end: missing"):
        mapping.apply(dict(parse_message(text).record))
    ended = text.replace("|Add|EMERGENCY|Normal||||", "|Add|EMERGENCY|Normal|||^^^^20210924102000+0215|", 1)
    assert ended != text
    appointment = both(mapping, ended)  # with an end (SCH-11.5), it maps and says why it has no duration
    assert any("fields.duration_minutes.fallback (AIS.7, AIS.8.1) gave no usable duration" in n
               for n in appointment.notes), appointment.notes


@pytest.mark.parametrize("word", ["NOSHOW", "Noshow", "noshow", "NoShow"])
def test_a_cancellation_whose_filler_status_is_noshow_is_a_noshow(mapping: CompiledMapping, word: str) -> None:
    text = fixture("derived_siu_s15_noshow").replace("|NOSHOW|", f"|{word}|", 1)
    assert both(mapping, text).status == "noshow"


def test_other_filler_statuses_leave_the_trigger_in_charge(mapping: CompiledMapping) -> None:
    assert both(mapping, fixture("derived_siu_s15_noshow").replace("|NOSHOW|", "|Booked|", 1)).status == "cancelled"
    assert both(mapping, siu("S12", "C1", "20300301090000", status="Noshow")).status == "noshow"
    assert both(mapping, siu("S12", "C2", "20300301090000", status="Booked")).status == "booked"
    assert both(mapping, siu("S15", "C3", "20300301090000", status="Booked")).status == "cancelled"
