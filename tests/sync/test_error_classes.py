"""What a failed run of a source is filed as: a source or settings problem (the admin's to fix,
`connector.failed`) or a bug (`connector.crashed`, its whole traceback in the log). A mapping
that does not load raises its own error type; any other ValueError is a bug, never a settings
problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from clinicsync.connectors.csv_drop import CsvDropConnector
from clinicsync.mappings.engine import load_mapping
from clinicsync.mappings.model import MappingLoadError
from clinicsync.sync.cli.demo import generate_rows
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.connectors.test_csv_drop import TOMORROW, write_drop


def _settings(write_settings: SettingsFactory, tmp_path: Path, mapping: str = "csv_default") -> Settings:
    drop = tmp_path / "emr"
    drop.mkdir(exist_ok=True)
    write_drop(drop, "a.csv", generate_rows(TOMORROW, days=1))
    return load_settings(write_settings(f"- name: emr\n  kind: csv\n  mapping: {mapping}\n  drop_dir: {drop}\n"))


def test_a_mapping_that_does_not_load_raises_its_own_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "site.yaml"
    broken.write_text("name: site\nextends: csv_default\nfields:\n  start: [unclosed\n")
    with pytest.raises(MappingLoadError, match=r"site\.yaml is not valid YAML \(line 5"):
        load_mapping("site.yaml", "America/Chicago", "US", base_dir=tmp_path)
    with pytest.raises(MappingLoadError, match="no preset 'csv_defualt'; did you mean 'csv_default'"):
        load_mapping("csv_defualt", "America/Chicago", "US")


def test_a_mapping_that_does_not_load_is_a_failure_of_the_source(store: Store, tmp_path: Path,
                                                                 write_settings: SettingsFactory) -> None:
    (tmp_path / "site.yaml").write_text("name: site\nextends: csv_default\nfields:\n  nonsense: {column: x}\n")
    config = _settings(write_settings, tmp_path, mapping=str(tmp_path / "site.yaml"))
    with capture_logs() as logs:
        error = sync_once(config, store).connectors["emr"].error
    assert error is not None and "nonsense" in error and not error.startswith("internal error")
    events = {entry["event"] for entry in logs}
    assert "connector.failed" in events and "connector.crashed" not in events
    assert "connector.crash_traceback" not in events


def test_a_value_error_from_a_bug_is_a_crash_with_its_whole_traceback(
        store: Store, tmp_path: Path, write_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    def deep(n: int) -> Any:
        if n == 0:
            raise ValueError("a bug three frames down")
        return deep(n - 1)

    def fetch(self: CsvDropConnector, cursor: Any) -> Any:
        deep(2)
        yield from ()

    monkeypatch.setattr(CsvDropConnector, "fetch", fetch)
    config = _settings(write_settings, tmp_path)
    with capture_logs() as logs:
        error = sync_once(config, store).connectors["emr"].error
    assert error == "internal error: ValueError: a bug three frames down"
    events = {entry["event"]: entry for entry in logs}
    assert "connector.crashed" in events and "connector.failed" not in events
    crash = events["connector.crash_traceback"]
    assert crash["where"] == "deep" and isinstance(crash["exc_info"], ValueError)
    frames = []
    tb = crash["exc_info"].__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-4:] == ["fetch", "deep", "deep", "deep"]


def test_check_raises_a_bug_while_loading_a_mapping_instead_of_blaming_the_mapping(
        tmp_path: Path, write_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` says "mapping does not load" only for a mapping that does not (MappingLoadError);
    a ValueError from a bug is raised with its traceback, not filed as the admin's mapping to fix."""
    from clinicsync.sync.checks.source_check import check_connector
    from clinicsync.sync.ingest import source_settings

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug while compiling")

    config = _settings(write_settings, tmp_path)
    assert check_connector(config, config.connectors[0]).problems == []  # the mapping itself loads
    monkeypatch.setattr(source_settings, "load_mapping", broken)
    with pytest.raises(ValueError, match="a bug while compiling"):
        check_connector(config, config.connectors[0])
