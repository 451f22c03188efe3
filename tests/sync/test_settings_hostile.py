"""Bad settings files, through the CLI as an IT person meets them (issue 16, observation 8):
each ends in a clear message naming the key (and line), exit code 2, no traceback, no hang."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Cli

EXIT_CONFIG = 2


def run_cli(path: Path, *args: str, timeout: float = 300) -> tuple[int, str, float]:
    """`clinicsync` as a separate process: a hang or a crash shows as it would for a user.
    Returns the CPU seconds it used (wall time on a shared CI machine says little)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "clinicsync.sync.cli", "--config", str(path), *args],
                            capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return result.returncode, result.stdout + result.stderr, cpu


def refused(cli: Callable[[Path | None], Cli], path: Path, *args: str) -> str:
    code, out, err = cli(path)(*args, expect=None)
    text = out + err
    assert code == EXIT_CONFIG, (code, text)
    assert "Traceback" not in text and "Error:" not in text.split(":", 1)[0]
    return text


@pytest.mark.parametrize("url", ["not a url", "postgresql+nosuchdriver://x/y", "sqlite:////proc/nope/x.db"])
def test_an_invalid_or_unusable_store_url_names_the_key(tmp_path: Path, cli: Callable[[Path | None], Cli],
                                                        url: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f'store:\n  url: "{url}"\n')
    assert "store.url" in refused(cli, path, "status")


def test_an_unreachable_store_names_the_key_without_its_password(tmp_path: Path,
                                                                 cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text('store:\n  url: "postgresql://clinic:s3cr3t-pw@127.0.0.1:1/none"\n  pool_timeout: 2\n')
    text = refused(cli, path, "status")
    assert "store.url" in text and "s3cr3t-pw" not in text


def test_a_10000_character_zone_is_a_settings_error(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"clinic:\n  timezone: {'A' * 10_000}\n")
    assert "clinic.timezone (line 2)" in refused(cli, path, "config", "validate")


def test_a_settings_file_that_is_not_utf8_names_the_line(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_bytes(b"clinic:\n  name: Cl\xednica\n")
    text = refused(cli, path, "config", "validate")
    assert "UTF-8" in text and "line 2" in text


def test_yaml_nested_5000_deep_is_refused(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("clinic: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested deeper" in refused(cli, path, "config", "validate")


def test_recursive_yaml_is_refused(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("clinic: &loop\n  name: x\n  again: *loop\n")
    text = refused(cli, path, "config", "validate")
    assert "clinic" in text


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "settings.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, text, cpu_seconds = run_cli(path, "config", "validate")
    print(f"\nalias bomb refused after {cpu_seconds:.1f} s of CPU (start-up included)")
    assert code == EXIT_CONFIG and "Traceback" not in text, text
    assert "aliases" in text and cpu_seconds < 30  # unbounded, it ran past 90 s with growing memory


def test_a_huge_settings_file_is_refused_before_parsing(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("clinic:\n  name: x\n" + "# padding\n" * 1_700_000)  # 17 MB
    assert "larger than" in refused(cli, path, "config", "validate")


def test_a_10000_character_hl7_zone_is_a_settings_error(tmp_path: Path, cli: Callable[[Path | None], Cli]) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"connectors:\n  - name: siu\n    kind: hl7v2\n    timezone: {'A' * 10_000}\n    listen: {{}}\n")
    assert "connectors[0].timezone (line 4)" in refused(cli, path, "config", "validate")


def sql_sources_text(count: int, alias: bool = False) -> str:
    """``count`` SQL sources written out in full, as a group without a fleet list writes them
    (the project's bench/many_sources.py's shape); ``alias``: each names the one database by *db."""
    query = ("SELECT t.id, t.patient_id, t.patient_name, t.patient_phone, t.doctor_id, t.doctor_name, "
             "t.visit_type, t.starts_at, t.minutes, t.status, t.updated_at FROM s.t{0:05d} AS t")
    url = "*db" if alias else "'postgresql://u@db.example/x'"
    lines = ["clinic: {name: Group, timezone: America/Chicago}", "notifiers: []",
             "database: &db 'postgresql://u@db.example/x'" if alias else "", "connectors:"]
    lines += [f"  - {{name: p{i:05d}, schedule: {{interval: 60s}}, kind: sql, url: {url}, "
              f"query: '{query.format(i)}', mapping: clinic_tables, cursor_column: updated_at, "
              f"timezone: America/Chicago, timeout: 30}}" for i in range(count)]
    return "\n".join(lines) + "\n"


def test_a_settings_file_with_1000_sql_sources_validates(tmp_path: Path) -> None:
    """~12 values a source: the guard that counted every value refused from ~830 sources on
    (exit 2, "an alias bomb?"); it now counts only what aliases add."""
    from clinicsync.sync.config.settings import load_settings

    path = tmp_path / "settings.yaml"
    path.write_text(sql_sources_text(1000))
    assert len(load_settings(path).connectors) == 1000


def test_10000_sql_sources_and_one_alias_each_are_read(tmp_path: Path) -> None:
    """~3.7 MB (over the old 1 MiB bound) and 10,000 values added by aliases, one per source:
    read (~3 s of CPU on the project's 2-core machine, linear: 0.3 s for 1,000)."""
    from clinicsync.sync.config.config_loader import load_yaml_text

    data = load_yaml_text(sql_sources_text(10_000, alias=True), "settings.yaml").data
    assert len(data["connectors"]) == 10_000
    assert data["connectors"][-1]["url"] == "postgresql://u@db.example/x"


def test_an_alias_bomb_after_a_large_fleet_is_still_refused(tmp_path: Path) -> None:
    """What the file writes buys no room for a bomb beyond its own size: 1,000 sources, then
    nine levels of nine aliases (387 M values)."""
    from clinicsync.sync.config.config_loader import ConfigError, load_yaml_text

    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(ConfigError, match=r"aliases \(\*name\) add more than 10000 values"):
        load_yaml_text(sql_sources_text(1000) + "\n".join(lines) + "\n", "settings.yaml")
