"""The mapping audit: which mapped columns/paths a source sample lacks, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from clinicsync.mappings.audit import audit_columns, audit_paths, suggest
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.preset_schema import MappingPreset


def preset(**fields: Any) -> MappingPreset:
    return MappingPreset.model_validate({"name": "t", "fields": {"external_id": {"from": "id"}, **fields}})


@pytest.mark.parametrize(("name", "columns", "expected"), [
    ("specialtyy", ["specialty", "id"], "specialty"),
    ("Specialty", ["specialty"], "specialty"),
    ("type", ["time", "id"], None),
    ("patient_phone", ["id"], None),
])
def test_suggest(name: str, columns: list[str], expected: str | None) -> None:
    assert suggest(name, columns) == expected


@pytest.mark.parametrize(("fields", "own", "columns", "levels"), [
    ({"type": {"from": "specialtyy"}}, set(), ["id", "specialty"], {"specialtyy": "error"}),  # near: always
    ({"type": {"from": "kind"}}, {"type"}, ["id", "x"], {"kind": "error"}),  # the site's own field
    ({"type": {"from": "kind"}}, set(), ["id", "x"], {"kind": "warning"}),  # a preset's optional column
    ({"type": {"from": "kind", "required": True}}, set(), ["id"], {"kind": "error"}),
    ({"type": {"from": ["kind", "x"]}}, {"type"}, ["id", "x"], {"kind": "warning"}),  # another path has it
    ({"start": {"date": "day", "time": "clock"}}, {"start"}, ["id", "day", "clock"], {}),
    ({"type": {"from": "meta.kind"}}, {"type"}, ["id", "meta"], {}),  # a JSON column, read inside
])
def test_flat_sources(fields: dict[str, Any], own: set[str], columns: list[str], levels: dict[str, str]) -> None:
    findings = audit_columns(preset(**fields), columns, frozenset(own))
    assert {f.path: f.level for f in findings} == levels


RESOURCES = [
    {"id": "1", "start": "2026-03-01T10:00:00Z", "_start": {"extension": []},
     "appointmentType": {"coding": [{"code": "ROUTINE", "display": "Routine"}]},
     "participant": [{"actor": {"reference": "Patient/p1"}}]},
    {"id": "2", "start": "2026-03-02T10:00:00Z", "participant": [{"actor": {"reference": "Patient/p2"}}]},
]


@pytest.mark.parametrize(("path", "level"), [
    ("appointmentType.coding[0].display", None),  # found on one resource of two
    ("appointmentType.coding[0].dispaly", "error"),
    ("apointmentType.text", "error"),
    ("participant[actor.reference^=Patient/].actor.referense", "error"),
    ("serviceType[0].text", "warning"),  # an optional element this sample lacks
    ("appointmentType.text", "warning"),  # `text` absent, no near key beside it
    ("participant[actor.reference^=Location/].actor.reference", "warning"),  # the filter finds nothing
])
def test_nested_sources(path: str, level: str | None) -> None:
    findings = audit_paths(preset(type={"from": path}), RESOURCES, "Appointment")
    assert {f.path: f.level for f in findings}.get(path) == level


def test_an_optional_field_with_alternative_paths_is_one_warning() -> None:
    paths = ["serviceType[0].text", "serviceType[1].text", "appointmentType.text"]
    [finding] = audit_paths(preset(type={"from": paths}), RESOURCES, "Appointment")
    assert finding.level == "warning" and finding.path == paths[0]
    assert "none of its 3 paths" in finding.message and all(path in finding.message for path in paths)


def test_a_fhir_primitive_extension_is_no_misspelling() -> None:
    resources = [{"id": "1", "start": "2026-03-01T10:00:00Z"}]
    [finding] = audit_paths(preset(timezone={"from": "_start.extension[0].valueCode"}), resources, "Appointment")
    assert finding.level == "warning"


def test_a_default_is_converted_once_and_a_bad_one_names_the_key(tmp_path: Any) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: g\nextends: csv_default\nfields:\n  patient.channel: {default: SMS}\n")
    mapping = load_mapping(str(good), "UTC", "US")
    row = {"appointment_id": "A1", "start": "2026-03-01T10:00:00Z", "duration_minutes": "30", "patient_id": "P1"}
    patient = mapping.apply(row).patient
    assert patient is not None and patient.channel == "sms"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nextends: csv_default\nfields:\n  duration_minutes: {default: half an hour}\n")
    with pytest.raises(ValueError, match=r"fields\.duration_minutes\.default 'half an hour': not a whole number"):
        load_mapping(str(bad), "UTC", "US")
