"""settings.yaml: validated up front, every error named by YAML path and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from clinicsync.common.settings_base import SettingsModel
from clinicsync.sync.config.config_loader import ConfigError
from clinicsync.sync.config.settings import config_path, json_schema, load_settings
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return caught.value.problems


def test_the_root_settings_file_is_valid_and_runs_without_credentials() -> None:
    settings = load_settings(ROOT / "settings.yaml")
    assert settings.store.url.startswith("sqlite:///")
    assert [c.kind for c in settings.connectors] == ["csv"]
    assert settings.connectors[0].drop_dir == ROOT / "examples" / "drop"  # type: ignore[attr-defined]


def test_unknown_key_is_named_with_its_path_and_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "clinic:\n  timezone: UTC\n  timzone: UTC\n")
    assert found == ["clinic.timzone (line 3): unknown key (did you mean 'timezone'?) (check the spelling; "
                     "see `clinicsync config schema`)"]


@pytest.mark.parametrize(("text", "problem"), [
    ("reminders:\n  quiet_hour: {start: '21:00', end: '08:00'}\n",
     "reminders.quiet_hour (line 2): unknown key (did you mean 'quiet_hours'?)"),
    ("connectors:\n  - {name: a, kind: csv, mapping: csv_default, drop_dirr: x}\n",
     "connectors[0].drop_dirr (line 2): unknown key (did you mean 'drop_dir'?)"),
    ("reminders:\n  quiet_hours: {start: '21:00', end: '08:00', ennd: '09:00'}\n",
     "reminders.quiet_hours.ennd (line 2): unknown key (did you mean 'end'?)"),
    ("clinic:\n  timezone: UTC\n  colour: blue\n", "clinic.colour (line 3): unknown key (check"),  # nothing near
])
def test_a_misspelt_key_is_told_the_key_the_schema_has_there(tmp_path: Path, text: str, problem: str) -> None:
    found = problems(tmp_path, text)
    assert any(line.startswith(problem) for line in found), found


def test_connector_errors_are_located_inside_the_list(tmp_path: Path) -> None:
    found = problems(tmp_path, (
        "connectors:\n"
        "  - name: a\n    kind: csv\n    mapping: csv_default\n    drop_dir: x\n"
        "  - name: b\n    kind: csv\n    mapping: csv_default\n    drop_dir: y\n    mode: sometimes\n"))
    assert len(found) == 1
    assert found[0].startswith("connectors[1].mode (line 10): Input should be 'delta' or 'snapshot'")


def test_unknown_connector_kind_lists_the_known_ones(tmp_path: Path) -> None:
    found = problems(tmp_path, "connectors:\n  - name: a\n    kind: ftp\n    mapping: csv_default\n")
    assert "connectors[0].kind" in found[0] and "'csv'" in found[0]


def test_every_error_is_collected_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "clinic:\n  timezone: Mars/Olympus\n  default_region: XX\nstore:\n  pool_size: 0\n")
    assert len(found) == 3
    assert any(p.startswith("clinic.timezone (line 2): unknown IANA time zone") for p in found)
    assert any(p.startswith("clinic.default_region (line 3): unknown phone region") for p in found)
    assert any(p.startswith("store.pool_size (line 5)") for p in found)


def test_duplicate_connector_names_are_refused(tmp_path: Path) -> None:
    block = "  - name: a\n    kind: csv\n    mapping: csv_default\n    drop_dir: x\n"
    found = problems(tmp_path, "connectors:\n" + block + block)
    assert "two connectors are named 'a'" in found[0]


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    assert "duplicate key" in problems(tmp_path, "clinic:\n  name: a\n  name: b\n")[0]


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    assert "line 2" in problems(tmp_path, "clinic:\n  name: [unclosed\n")[0]


def test_environment_interpolation_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TZ", "Europe/Berlin")
    monkeypatch.delenv("POOL", raising=False)
    settings = load_settings(write(tmp_path, (
        "clinic:\n  timezone: ${CLINIC_TZ}\n  name: Praxis ${CLINIC_TZ}\n"
        "store:\n  pool_size: ${POOL:-7}\n")))
    assert settings.clinic.timezone == "Europe/Berlin"
    assert settings.clinic.name == "Praxis Europe/Berlin"
    assert settings.store.pool_size == 7  # a whole-value reference keeps YAML typing


def test_missing_environment_variable_is_a_located_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    found = problems(tmp_path, "clinic:\n  name: ${NOPE}\n")
    assert found == ["clinic.name (line 2): environment variable NOPE is not set "
                     "(write ${NOPE:-default} to give a default)"]


def test_relative_paths_are_read_against_the_settings_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, (
        "store:\n  url: sqlite:///state/db.sqlite\n"
        "connectors:\n  - name: a\n    kind: csv\n    mapping: csv_default\n    drop_dir: in\n")))
    assert settings.store.url == f"sqlite:///{tmp_path}/state/db.sqlite"
    assert settings.connectors[0].drop_dir == tmp_path / "in"  # type: ignore[attr-defined]


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINICSYNC_CONFIG", str(tmp_path / "env.yaml"))
    assert config_path(tmp_path / "flag.yaml") == tmp_path / "flag.yaml"
    assert config_path(None) == tmp_path / "env.yaml"
    monkeypatch.delenv("CLINICSYNC_CONFIG")
    assert config_path(None) == Path("settings.yaml")


def test_json_schema_describes_each_connector_kind() -> None:
    schema = json.loads(json_schema())
    assert set(schema["properties"]) >= {"clinic", "store", "connectors", "notifiers"}
    assert "source" not in schema["properties"]
    assert "CsvDropSettings" in json.dumps(schema["properties"]["connectors"]) or "CsvDropSettings" in schema.get(
        "$defs", {})


def test_bad_settings_exit_2_and_name_the_key(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "store:\n  urll: sqlite:///x.db\n")
    _code, _, err = cli(path)("sync", "--once", expect=2)
    assert "store.urll (line 2): unknown key" in err


def test_missing_settings_file_exits_2(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _, _, err = cli(tmp_path / "absent.yaml")("status", expect=2)
    assert "file not found" in err


class _WithSecret(SettingsModel):
    password: SecretStr | None = None


def test_a_secret_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    loaded = _WithSecret.model_validate({"password_file": "pw"}, context={"base_dir": tmp_path})
    assert loaded.password is not None and loaded.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(loaded)


def test_a_secret_from_a_missing_file_or_twice_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="password_file: cannot read"):
        _WithSecret.model_validate({"password_file": "absent"}, context={"base_dir": tmp_path})
    with pytest.raises(ValidationError, match="either password or password_file"):
        _WithSecret.model_validate({"password": "x", "password_file": "pw"}, context={"base_dir": tmp_path})


def test_a_key_left_empty_is_a_named_error_not_a_parser_traceback(tmp_path: Path) -> None:
    """`connectors:` with nothing after it, as an admin leaves it before `discover --write`
    fills it: YAML reads null, and the error names the key and its line."""
    path = tmp_path / "settings.yaml"
    path.write_text("clinic:\n  timezone: UTC\n  phone:\nconnectors:\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert "connectors (line 4): Input should be a valid list" in str(raised.value)
