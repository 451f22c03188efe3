"""The `calendar:` section: defaults that run without credentials, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.config.settings.calendar import TEMPLATE_SAMPLE, CalendarSettings
from tests.conftest import ROOT


def load(tmp_path: Path, text: str) -> CalendarSettings:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return load_settings(path).calendar


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.render()


def test_no_section_means_no_calendar(tmp_path: Path) -> None:
    settings = load(tmp_path, "clinic:\n  timezone: UTC\n")
    assert settings.provider == "none" and settings.cancelled_action == "delete" and not settings.invite_patient


def test_the_embedded_default_writes_ics_files() -> None:
    settings = load_settings(ROOT / "settings.yaml").calendar
    assert settings.provider == "ics" and settings.ics.directory == ROOT / ".clinicsync" / "calendars"


def test_google_needs_a_readable_service_account_key(tmp_path: Path, key_file: Path) -> None:
    assert "provider google needs google.key_file" in problems(tmp_path, "calendar:\n  provider: google\n")
    message = problems(tmp_path, "calendar:\n  provider: google\n  google:\n    key_file: nowhere.json\n")
    assert "calendar.google.key_file" in message and "cannot read" in message
    (tmp_path / "user.json").write_text('{"type": "authorized_user"}')
    message = problems(tmp_path, "calendar:\n  provider: google\n  google:\n    key_file: user.json\n")
    assert "calendar.google.key_file" in message and "not a service-account key" in message
    settings = load(tmp_path, f"calendar:\n  provider: google\n  google:\n    key_file: {key_file}\n"
                              "    api_root: http://127.0.0.1:9/root\n")
    assert settings.google.api_root == "http://127.0.0.1:9/root/"


@pytest.mark.parametrize(("yaml", "expected"), [
    ("  google:\n    batch_size: 51\n", "calendar.google.batch_size"),
    ("  google:\n    api_root: ftp://x\n", "not an http(s) URL"),
    ("  summary: '{{ type'\n", "template error"),
    ("  summary: '{{ patient_dob }}'\n", "'patient_dob' is undefined"),
    ("  description: '{{ type.__class__.__mro__ }}'\n", "template error"),
    ("  calendars:\n    - calendar_id: x\n", "exactly one of `email` or `practitioner`"),
    ("  calendars:\n    - email: a@b.c\n      connector: csv\n", "`connector` only narrows"),
    ("  cancelled_action: hide\n", "calendar.cancelled_action"),
    ("  provider: outlook\n", "calendar.provider"),
    ("  color: blue\n", "unknown key"),
])
def test_bad_settings_name_the_key(tmp_path: Path, yaml: str, expected: str) -> None:
    assert expected in problems(tmp_path, "calendar:\n" + yaml)


def test_template_names_are_documented_by_the_sample() -> None:
    assert {"type", "patient_initials", "cancelled", "noshow", "start_local"} <= set(TEMPLATE_SAMPLE)


def test_a_patients_cancellation_is_marked_unless_told_otherwise(tmp_path: Path) -> None:
    assert load(tmp_path, "calendar:\n  provider: ics\n").patient_cancelled == "mark"
    assert load(tmp_path, "calendar:\n  provider: ics\n  patient_cancelled: cancel\n").patient_cancelled == "cancel"
    message = problems(tmp_path, "calendar:\n  provider: ics\n  patient_cancelled: remove\n")
    assert "calendar.patient_cancelled" in message and "mark" in message
