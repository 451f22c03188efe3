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


def test_a_length_in_decimal_hours_gives_the_end_and_nonsense_is_refused(tmp_path: Path) -> None:
    """`type: duration_hours` (Odoo's float hours): 1/3 h is 20 minutes, in both the generated and
    the interpreted mapping; a negative or a more-than-a-day length is refused, by field."""
    (tmp_path / "odoo.yaml").write_text(
        "name: odoo\nfields:\n  external_id: {from: id}\n  start: {from: starts_at}\n"
        "  duration_minutes: {from: planned_duration, type: duration_hours}\n"
        "  patient.external_id: {from: patient_id}\n",
        encoding="utf-8")
    mapping = load_mapping("odoo.yaml", "Europe/Madrid", "ES", tmp_path)
    for apply in (mapping.apply, mapping.apply_interpreted):
        for hours, minutes in ((0.25, 15), (1 / 3, 20), ("0.50", 30), (1.5, 90)):
            visit = apply(_record(planned_duration=hours))  # type: ignore[arg-type]
            assert (visit.end - visit.start).total_seconds() == minutes * 60
        for wrong in (-0.5, 25, "half"):
            with pytest.raises(MappingError, match="duration_minutes"):
                apply(_record(planned_duration=wrong))  # type: ignore[arg-type]
