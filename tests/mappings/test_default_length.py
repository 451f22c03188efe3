"""No visit refused for a missing end when a length is in reach: the record's own length, then a
joined default length (a ward's, a service's or a type's column, given as a second path of
`duration_minutes`), then the clinic's usual slot (clinic.default_visit_minutes), with a note on
the visit saying so. Without any of them the record is quarantined, the reason naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingError

SITE = """\
name: wards
fields:
  external_id: {from: id}
  start: {from: starts_at}
  end: {from: ends_at}
  duration_minutes: {from: [length_minutes, service_default_minutes]}
  patient.external_id: {from: patient_id}
"""


def _record(**values: str) -> dict[str, str]:
    return {"id": "V1", "starts_at": "2030-03-12T10:00:00", "patient_id": "P1", **values}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "wards.yaml").write_text(SITE, encoding="utf-8")
    return tmp_path


def test_the_joined_default_length_gives_the_end(site: Path) -> None:
    mapping = load_mapping("wards.yaml", "Europe/Madrid", "ES", site, default_minutes=15)
    for apply in (mapping.apply, mapping.apply_interpreted):
        visit = apply(_record(service_default_minutes="40"))
        assert (visit.end - visit.start).total_seconds() == 40 * 60
        assert visit.notes == ()  # the mapping's own path: no guess to note


def test_the_clinic_default_slot_gives_the_end_with_a_note(site: Path) -> None:
    mapping = load_mapping("wards.yaml", "Europe/Madrid", "ES", site, default_minutes=15)
    for apply in (mapping.apply, mapping.apply_interpreted):
        visit = apply(_record())
        assert (visit.end - visit.start).total_seconds() == 15 * 60
        assert visit.notes == ("end: missing: clinic.default_visit_minutes (15 min) used",)
        own = apply(_record(ends_at="2030-03-12T10:50:00"))
        assert (own.end - own.start).total_seconds() == 50 * 60 and own.notes == ()


def test_without_a_default_the_record_is_quarantined_naming_the_fix(site: Path) -> None:
    mapping = load_mapping("wards.yaml", "Europe/Madrid", "ES", site)
    for apply in (mapping.apply, mapping.apply_interpreted):
        with pytest.raises(MappingError) as caught:
            apply(_record())
        assert caught.value.field == "end" and "clinic.default_visit_minutes" in caught.value.reason


def test_the_setting_is_checked() -> None:
    from pydantic import ValidationError

    from clinicsync.sync.config.clinic import ClinicSettings

    assert ClinicSettings(default_visit_minutes=20).default_visit_minutes == 20
    with pytest.raises(ValidationError, match="default_visit_minutes"):
        ClinicSettings(default_visit_minutes=0)
