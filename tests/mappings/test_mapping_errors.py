"""A mistake in a site's own mapping file is named where the admin must look: that file,
the line, the mapping's own name (not the preset it extends), the key, and the nearest
real name; `check`, `config validate` and `sync` show it alike, one line, exit 2 (issue 31
obs 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinicsync.mappings.engine import load_mapping

SITE = """\
name: desk
description: The front desk's nightly export.
extends: {extends}
fields:
  external_id: {{from: appointment_id, required: true}}
  {field}: {{from: Phone}}
"""


def site_file(folder: Path, extends: str = "csv_default", field: str = "patient.phone",
              name: str = "desk.yaml") -> Path:
    path = folder / name
    path.write_text(SITE.format(extends=extends, field=field), encoding="utf-8")
    return path


def load_error(ref: str, folder: Path) -> str:
    with pytest.raises(ValueError) as caught:
        load_mapping(ref, "America/New_York", "US", folder)
    return str(caught.value)


def test_a_field_typo_is_named_in_the_site_file_with_its_line_and_the_real_name(tmp_path: Path) -> None:
    path = site_file(tmp_path, field="patient.phnoe")
    message = load_error("desk.yaml", tmp_path)
    assert message == (f"mapping 'desk' ({path}, line 6): unknown field 'patient.phnoe'; "
                       "did you mean 'patient.phone'?")
    assert "csv_default" not in message  # the preset it extends is not blamed


def test_a_site_file_without_a_name_is_named_by_its_file_not_its_preset(tmp_path: Path) -> None:
    (tmp_path / "front.yaml").write_text("extends: csv_default\nfields:\n  patient.emial: {from: Mail}\n")
    message = load_error("front.yaml", tmp_path)
    assert message.startswith(f"mapping 'front' ({tmp_path / 'front.yaml'}, line 3): unknown field 'patient.emial'")
    assert message.endswith("did you mean 'patient.email'?")


def test_a_field_nothing_resembles_points_to_the_list_instead_of_dumping_it(tmp_path: Path) -> None:
    site_file(tmp_path, field="colour")
    message = load_error("desk.yaml", tmp_path)
    assert "unknown field 'colour' (the targets are listed in docs/mappings.md)" in message
    assert "patient.allow_sms" not in message


def test_a_misspelt_preset_in_extends_is_suggested_at_the_extends_line(tmp_path: Path) -> None:
    path = site_file(tmp_path, extends="csv_defualt")
    assert load_error("desk.yaml", tmp_path) == (
        f"mapping 'desk' ({path}, line 3): extends: no preset 'csv_defualt'; did you mean 'csv_default'?")


def test_a_misspelt_preset_named_in_the_settings_is_suggested(tmp_path: Path) -> None:
    assert load_error("fhir_r5", tmp_path) == "mapping 'fhir_r5': no preset 'fhir_r5'; did you mean 'fhir_r4'?"
    # nothing close: the list
    assert "presets: acuity, calcom, clinic_tables, csv_default" in load_error("zzz", tmp_path)


def test_a_misspelt_option_of_a_field_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "desk.yaml").write_text("name: desk\nextends: csv_default\nfields:\n  type:\n    fro: specialty\n")
    message = load_error("desk.yaml", tmp_path)
    assert message.startswith(f"mapping 'desk' ({tmp_path / 'desk.yaml'}, line 5): fields.type.fro: Extra inputs")


@pytest.mark.parametrize(("body", "line", "detail"), [
    ("fields:\n  timezone:\n    default: America/New_Yrok\n", 5, "fields.timezone.default: unknown IANA time zone"),
    ("status_map:\n  ok: fine\n", 4, "status_map targets ['fine'] are not FHIR statuses"),
])
def test_a_bad_value_in_the_site_file_names_its_line(tmp_path: Path, body: str, line: int, detail: str) -> None:
    (tmp_path / "desk.yaml").write_text(f"name: desk\nextends: csv_default\n{body}")
    assert load_error("desk.yaml", tmp_path).startswith(
        f"mapping 'desk' ({tmp_path / 'desk.yaml'}, line {line}): {detail}")


def test_a_correct_site_file_still_loads_under_its_own_name(tmp_path: Path) -> None:
    site_file(tmp_path)
    assert load_mapping("desk.yaml", "America/New_York", "US", tmp_path).preset.name == "desk"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.mark.parametrize(("field", "extends", "expected"), [
    ("patient.phnoe", "csv_default", "line 6): unknown field 'patient.phnoe'; did you mean 'patient.phone'?"),
    ("patient.phone", "csv_defualt", "line 3): extends: no preset 'csv_defualt'; did you mean 'csv_default'?"),
])
@pytest.mark.parametrize("command", [("config", "validate"), ("check",), ("sync", "--once")])
def test_check_validate_and_sync_show_it_alike_on_one_line_exit_2(
        command: tuple[str, ...], field: str, extends: str, expected: str, tmp_path: Path, drop_dir: Path,
        write_settings: Callable[..., Path], cli: Any) -> None:
    path = site_file(tmp_path, extends=extends, field=field)
    settings = write_settings(f"- name: front\n  kind: csv\n  mapping: desk.yaml\n  drop_dir: {drop_dir}\n")
    _, out, err = cli(settings)(*command, expect=2)
    assert out == ""
    assert err.splitlines() == [
        f"invalid configuration in {settings}:",
        f"  - connectors[0].mapping (front): mapping 'desk' ({path}, {expected}"]
    assert "Traceback" not in err
