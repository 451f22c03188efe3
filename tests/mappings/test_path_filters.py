"""The path language's filters for nested resources, and concat over every value."""

from __future__ import annotations

from typing import Any

import pytest

from clinicsync.mappings.engine import CompiledMapping
from clinicsync.mappings.paths import compile_path, compile_values
from clinicsync.mappings.preset_schema import MappingPreset

PATIENT = {
    "name": [{"use": "official", "given": ["Peter", "James"], "family": "Chalmers"},
             {"use": "usual", "given": ["Jim"]}],
    "telecom": [{"system": "phone", "value": "1", "use": "old"}, {"system": "phone", "value": "2"},
                {"system": "phone", "value": "3", "use": "mobile"}],
    "communication": [{"language": {"text": "English"}, "preferred": False},
                      {"language": {"text": "Dutch"}, "preferred": True}],
}


@pytest.mark.parametrize(("path", "expected"), [
    ("telecom[use!=old].value", "2"),
    ("telecom[system=phone][use!=old][use!=mobile].value", "2"),
    ("telecom[use=mobile].value", "3"),
    ("communication[preferred=true].language.text", "Dutch"),
    ("communication[preferred=false].language.text", "English"),
    ("communication[preferred=True].language.text", None),  # JSON spells booleans in lower case
    ("name[use=usual].given", "Jim"),
])
def test_filters(path: str, expected: Any) -> None:
    assert compile_path(path)(PATIENT) == expected


def test_values_flattens_lists_in_order() -> None:
    assert compile_values("name[0].given")(PATIENT) == ["Peter", "James"]
    assert compile_values("name.given")(PATIENT) == ["Peter", "James", "Jim"]
    assert compile_values("nothing.here")(PATIENT) == []


def _mapping(spec: dict[str, Any]) -> CompiledMapping:
    preset = MappingPreset.model_validate({
        "name": "t", "fields": {"external_id": {"value": "x"}, "start": {"value": "2026-01-01T10:00Z"},
                                "duration_minutes": {"value": 10}, "patient.external_id": {"value": "p"},
                                "patient.name": spec}})
    return CompiledMapping(preset, "UTC", "US")


def test_concat_joins_every_value() -> None:
    mapping = _mapping({"concat": ["name[0].given", "name[0].family"]})
    patient = mapping.apply(PATIENT).patient
    assert patient is not None and patient.name == "Peter James Chalmers"


def test_from_first_then_concat() -> None:
    mapping = _mapping({"from": "name[0].text", "concat": ["name[0].given", "name[0].family"]})
    with_text = {"name": [{"text": "P. J. Chalmers", "given": ["Peter"], "family": "Chalmers"}]}
    first, second = mapping.apply(with_text).patient, mapping.apply(PATIENT).patient
    assert first is not None and first.name == "P. J. Chalmers"
    assert second is not None and second.name == "Peter James Chalmers"
