"""The command keeps its scan of the installed plugins between starts (common/entry_point_cache.py):
an idle cron `sync --once` reads no distribution's metadata when nothing was installed since the
last start, and a package installed, removed or changed since is found as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicsync.common import entry_point_cache, plugins
from tests.cli_start.conftest import settings_text

# The command's own entry (what the console script and `python -m clinicsync` run), with
# importlib.metadata's scan counted: the idle run must be the same run, with no scan when kept.
PROBE = """
import importlib.metadata, sys
real = importlib.metadata.entry_points
def counted(*args, **kwargs):
    sys.stderr.write("\\nSCANNED\\n")
    return real(*args, **kwargs)
importlib.metadata.entry_points = counted
sys.argv = ["clinicsync", "sync", "--once", "--json"]
from clinicsync.sync.cli import entry
entry()
"""


def _start(folder: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CLINICSYNC_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=folder, capture_output=True, text=True, timeout=60,
                          check=False, env=env)


def test_an_idle_sync_once_reads_no_metadata_when_nothing_was_installed(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text(settings_text(tmp_path), encoding="utf-8")
    cache = tmp_path / "cache"
    first = _start(tmp_path, cache)
    assert first.returncode == 0, first.stderr
    assert "SCANNED" in first.stderr  # nothing kept yet: the metadata is read, and kept
    [kept] = cache.glob("entry-points-*.json")
    entries = json.loads(kept.read_text())["entries"]
    assert ["csv", "clinicsync.connectors.csv_drop:CsvDropConnector", "clinicsync.connectors"] in entries
    second = _start(tmp_path, cache)
    assert second.returncode == 0, second.stderr
    assert "SCANNED" not in second.stderr
    report = json.loads(second.stdout)
    assert report["connectors"]["desk"]["fetched"] == 0


@pytest.fixture
def on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process keeping its scan in a folder of the test's own, every cache cleared around."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLINICSYNC_CACHE_DIR", str(cache))
    monkeypatch.setattr(plugins, "_ON_DISK", [True])
    plugins._scan.cache_clear()
    plugins._selected.cache_clear()
    yield cache
    plugins._scan.cache_clear()
    plugins._selected.cache_clear()


def _install(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def _fresh(group: str) -> set[str]:
    """What a new start finds: the process's own caches cleared, the kept file not."""
    plugins._scan.cache_clear()
    plugins._selected.cache_clear()
    return plugins.plugin_names(group)


def test_a_package_installed_removed_or_changed_after_the_scan_was_kept_is_seen(
        on_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    group = "clinicsync.test_kept_scan"
    assert _fresh(group) == set()
    assert list(on_disk.glob("entry-points-*.json"))  # the scan was kept
    _install(site, "acme_one", f"[{group}]\none = json:dumps\n")
    assert _fresh(group) == {"one"}  # installed: a new key, read again
    entry_points = site / "acme_one-1.0.dist-info" / "entry_points.txt"
    entry_points.write_text(f"[{group}]\none = json:dumps\ntwo = json:loads\n")
    os.utime(entry_points, ns=(1, 1))  # the edit is seen even within one clock tick
    assert _fresh(group) == {"one", "two"}
    [two] = [entry for entry in plugins._group(group) if entry.name == "two"]
    assert two.load() is json.loads
    (entry_points.parent / "entry_points.txt").unlink()
    (entry_points.parent / "METADATA").unlink()
    entry_points.parent.rmdir()
    assert _fresh(group) == set()  # removed


def test_the_kept_file_is_used_only_under_its_own_key(on_disk: Path) -> None:
    key = entry_point_cache.installed_key(sys.path)
    assert key is not None
    entry_point_cache.keep(key, [entry_point_cache.Entry("x", "json:dumps", "g")])
    assert entry_point_cache.kept(key) == [entry_point_cache.Entry("x", "json:dumps", "g")]
    assert entry_point_cache.kept("another") is None


def test_a_cache_folder_that_cannot_be_written_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("CLINICSYNC_CACHE_DIR", str(blocked / "cache"))
    entry_point_cache.keep("k", [entry_point_cache.Entry("x", "json:dumps", "g")])
    assert entry_point_cache.kept("k") is None


def test_another_finder_of_distributions_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finder that lists distributions of its own (not on sys.path's folders) cannot be keyed."""

    class Finder:
        @staticmethod
        def find_distributions(*args: object, **kwargs: object) -> list[object]:
            return []

        @staticmethod
        def find_spec(*args: object, **kwargs: object) -> None:
            return None

    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    assert entry_point_cache.installed_key(sys.path) is None
