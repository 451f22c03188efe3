"""One store whatever the directory (issue 28 obs 2): every relative path in the settings,
the defaults included, is read against the settings file's folder, so the same file run by
cron from ``/`` and by hand from a home folder opens one store and writes one outbox."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from clinicsync.sync.cli.demo import generate_rows, write_csv
from clinicsync.sync.config.settings import load_settings


def _paths(value: Any, where: str = "") -> list[tuple[str, str]]:
    """Every path and SQLite URL in validated settings, by where it is."""
    found: list[tuple[str, str]] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name != "base_dir":
                found += _paths(getattr(value, name), f"{where}.{name}".lstrip("."))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += _paths(item, f"{where}[{i}]")
    elif isinstance(value, Path):
        found.append((where, str(value)))
    elif isinstance(value, str) and value.startswith("sqlite:///"):
        found.append((where, value.removeprefix("sqlite:///")))
    return found


def test_every_default_path_is_read_against_the_settings_folder(tmp_path: Path, monkeypatch: Any) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "settings.yaml").write_text(
        "connectors:\n  - {name: a, kind: csv, mapping: csv_default, drop_dir: drop}\n"
        "notifiers:\n  - {name: dry, kind: outbox}\n"
        "calendar: {provider: ics}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(Path("../conf/settings.yaml"))
    paths = dict(_paths(settings))
    assert paths["store.url"] == str(folder / ".clinicsync/clinicsync.db")
    assert paths["calendar.ics.directory"] == str(folder / ".clinicsync/calendars")
    assert paths["notifiers[0].directory"] == str(folder / ".clinicsync/outbox")
    assert paths["connectors[0].drop_dir"] == str(folder / "drop")
    assert all(Path(p).is_absolute() and Path(p).is_relative_to(folder) for p in paths.values()), paths


def _created(report: dict[str, Any]) -> int:
    return sum(counts["created"] for counts in report["connectors"].values())


def test_the_same_settings_from_two_directories_use_one_store(tmp_path: Path, monkeypatch: Any, cli: Any) -> None:
    """The real CLI, once in-process from a home folder (a relative --config) and once as a
    process started from another folder, as cron would: the second run finds what the first
    stored (nothing new to it), and no store appears in either working directory."""
    folder = tmp_path / "clinic"
    (folder / "drop").mkdir(parents=True)
    write_csv(generate_rows(date.today() + timedelta(days=1))[:20], folder / "drop" / "appointments.csv")
    (folder / "settings.yaml").write_text(  # no store: key: the default store
        "clinic: {timezone: America/New_York}\n"
        "connectors:\n  - {name: a, kind: csv, mapping: csv_default, drop_dir: drop, settle_seconds: 0}\n",
        encoding="utf-8")
    home, root = tmp_path / "home", tmp_path / "cron-root"
    home.mkdir()
    root.mkdir()
    monkeypatch.chdir(home)
    _, out, _ = cli(Path("../clinic/settings.yaml"))("sync", "--once", "--json")
    first = json.loads(out[out.index("{"):])
    done = subprocess.run([sys.executable, "-m", "clinicsync.sync.cli", "--config", str(folder / "settings.yaml"),
                           "sync", "--once", "--json"], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)
    assert _created(first) == 20
    assert _created(second) == 0, second  # the same store: nothing is new to it
    assert second["connectors"]["a"]["error"] is None
    assert (folder / ".clinicsync" / "clinicsync.db").exists()
    assert not (home / ".clinicsync").exists() and not (root / ".clinicsync").exists()
