"""A field's ``fallback:`` is converted by the field's ``type:`` (issue 57 obs 8): a duration
read as "50 min" from the fallback is 50 minutes, as from the field's own paths. When the
fallback's value cannot be read as that type, the note (optional field) or the quarantine
reason (required field) says so, naming the field and the setting — never the value. Both
engines (generated and interpreted) agree."""

from __future__ import annotations

from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.model import MappingError
from clinicsync.mappings.preset_schema import MappingPreset

BASE: dict[str, Any] = {"external_id": {"from": "id", "required": True}, "start": {"from": "start"},
                        "end": {"from": "end"}}
ROW = {"id": "A1", "start": "2030-03-04T09:00:00"}  # no end: the duration decides, where a test gives one


def _mapping(fields: dict[str, Any]) -> CompiledMapping:
    return CompiledMapping(MappingPreset.model_validate({"name": "site", "fields": {**BASE, **fields}}),
                           "America/New_York", "US")


def _both(mapping: CompiledMapping, record: dict[str, Any]) -> Any:
    generated, interpreted = mapping.apply(record), mapping.apply_interpreted(record)
    assert repr(generated) == repr(interpreted)
    return generated


def test_the_fallback_is_converted_by_the_fields_type() -> None:
    mapping = _mapping({"duration_minutes": {"concat": ["len", "unit"], "type": "duration",
                                             "fallback": {"concat": ["alt_len", "alt_unit"]}}})
    own = _both(mapping, {**ROW, "len": "2", "unit": "hours"})
    assert own.end is not None and (own.end - own.start).total_seconds() == 2 * 3600
    fallen = _both(mapping, {**ROW, "alt_len": "50", "alt_unit": "min"})
    assert fallen.end is not None and (fallen.end - fallen.start).total_seconds() == 50 * 60
    assert fallen.notes == ()


def test_a_fallback_of_its_own_type_keeps_it() -> None:
    mapping = _mapping({"location": {"from": "room", "type": "integer",
                                     "fallback": {"from": "room_name", "type": "string"}}})
    assert _both(mapping, {**ROW, "end": "2030-03-04T09:30:00", "room_name": "Annex"}).location == "Annex"


def test_an_unusable_fallback_is_named_in_the_note() -> None:
    mapping = _mapping({"duration_minutes": {"from": "len", "type": "duration",
                                             "fallback": {"concat": ["alt_len", "alt_unit"]}}})
    appointment = _both(mapping, {**ROW, "end": "2030-03-04T09:30:00", "alt_len": "fifty-ish",
                                  "alt_unit": "fortnights"})
    note = next(n for n in appointment.notes if n.startswith("duration_minutes:"))
    assert "fields.duration_minutes.fallback (alt_len, alt_unit) gave no usable duration" in note
    assert "fifty-ish" not in note  # the value is not named: it may be patient data


def test_an_unusable_fallback_of_a_required_field_is_the_quarantine_reason() -> None:
    mapping = _mapping({"patient.external_id": {"from": "pid", "type": "integer", "required": True,
                                                "fallback": {"from": "chart"}}})
    for apply in (mapping.apply, mapping.apply_interpreted):
        with pytest.raises(MappingError) as caught:
            apply({**ROW, "end": "2030-03-04T09:30:00", "chart": "MRN-77"})
        assert caught.value.field == "patient.external_id"
        assert "fields.patient.external_id.fallback (chart) gave no usable integer" in str(caught.value)
        assert "MRN-77" not in str(caught.value)
