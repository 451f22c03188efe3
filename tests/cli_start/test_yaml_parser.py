"""settings.yaml is read by libyaml when PyYAML has it (issue 31, obs 6: ~1 ms instead of ~20 ms
on every start); what an admin reads must not depend on it: the same data, lines, deferred
secrets, and the same errors (wording, line, column) as the pure-Python loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clinicsync.sync.config import config_loader
from clinicsync.sync.config.config_loader import ConfigError, load_yaml_text

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    "a: [1,2", "a:\n  b: 1\n c: 2", "a: &x [*x]", "a: b: c", "key: 'unterminated", "\t a: 1", "a:\n- 1\n- 2\n b",
    "[" * 60 + "]" * 60, "a: &a [1]\nb: *c", "a: !!python/object x", "%YAML 2.0\n---\na: 1", "a: 1\na: 2",
    "? [1]\n: 2", "connectors:\n", "", "---\na: 1\n---\nb: 2", "a: ${CLINICSYNC_TEST_UNSET_X:-5432}",
    "a: ${CLINICSYNC_TEST_UNSET_X}", "connectors: [{p: ${CLINICSYNC_TEST_UNSET_Y}}]", "a: {b: 1, b: 2}",
    # a whole-value reference is typed by the same loader as the file (config_loader._value)
    'a: "${CLINICSYNC_TEST_UNSET_X:-[1, 2}"', 'a: "${CLINICSYNC_TEST_UNSET_X:-yes}"',
    'a: "${CLINICSYNC_TEST_UNSET_X:-b: c: d}"', 'a: "${CLINICSYNC_TEST_UNSET_X:-\t[1]}"',
    'a: "${CLINICSYNC_TEST_UNSET_X:-\x07}"', 'a: "${CLINICSYNC_TEST_UNSET_X:-!!python/object x}"',
    'x: "\\q"', "a: @b", "a: `b", "- a\nb: 1", "a: |\n  x\n y", "a: 0o17", "a: 1e3", "a: .inf", "a: ~", "a: yes",
    "a: 0x1F", "a: 2026-01-01 10:00", "a: &b [*b, 1]\nc: *b", "x: &a [&b [*a]]",
    (ROOT / "settings.yaml").read_text(encoding="utf-8"),
    *(path.read_text(encoding="utf-8") for path in sorted((ROOT / "examples").rglob("*.yaml"))),
]


def _read(text: str, loader: type[yaml.SafeLoader], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(config_loader, "_FAST_LOADER", loader)
    try:
        loaded = load_yaml_text(text, "settings.yaml", frozenset({"connectors"}))
    except ConfigError as exc:
        return ("error", exc.problems)
    return ("ok", loaded.data, loaded.lines, loaded.unset)


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml")
@pytest.mark.parametrize("text", CASES, ids=range(len(CASES)))
def test_libyaml_and_pure_python_read_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_loader._FAST_LOADER is yaml.CSafeLoader  # the fast path is the one in use
    fast = _read(text, yaml.CSafeLoader, monkeypatch)
    assert fast == _read(text, yaml.SafeLoader, monkeypatch)


def test_a_file_libyaml_refuses_gets_the_pure_python_message() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml_text("store:\n  url: x\n pool_size: 2\n", "settings.yaml")
    assert caught.value.problems == [
        "not valid YAML (line 3, column 2): expected <block end>, but found '<block mapping start>'; "
        "while parsing a block mapping at line 1"]


def test_a_tag_no_safe_loader_builds_is_one_line_not_a_traceback() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml_text("clinic:\n  name: !!python/object x\n", "settings.yaml")
    assert caught.value.problems == [
        "not valid YAML (line 2, column 9): could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object'"]


# Mapping files (mappings/engine.py) are read by the same loader: the same data and key lines for
# every preset, and a broken one's error is the pure-Python loader's.
PRESETS = sorted((ROOT / "mappings").glob("*.yaml"))


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml")
def test_mapping_files_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    from clinicsync.mappings import preset_files

    assert preset_files.FAST_LOADER is yaml.CSafeLoader and PRESETS
    for path in PRESETS:
        stat = path.stat()
        fast = preset_files._parsed_yaml.__wrapped__(path, stat.st_mtime_ns, stat.st_size)
        monkeypatch.setattr(preset_files, "FAST_LOADER", yaml.SafeLoader)
        assert fast == preset_files._parsed_yaml.__wrapped__(path, stat.st_mtime_ns, stat.st_size), path.name
        monkeypatch.undo()


def test_a_broken_mapping_file_gets_the_pure_python_message(tmp_path: Path) -> None:
    from clinicsync.mappings.engine import load_mapping

    (tmp_path / "mine.yaml").write_text("name: mine\nfields:\n  a: 1\n b: 2\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_mapping(str(tmp_path / "mine.yaml"), "UTC", "US")
    assert "is not valid YAML (line 4, column 2): expected <block end>, but found '<block mapping start>'" in str(
        caught.value)
