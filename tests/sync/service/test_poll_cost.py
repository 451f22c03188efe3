"""What an idle poll costs must not grow with the sources a worker is configured for: a worker
polls each of N sources once an interval, so work per poll that walks all N sources makes its
minute grow with N². Counted in calls and statements, never in seconds (the machine is shared)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.config.settings.sites import SiteSettings
from clinicsync.sync.service.pipeline import poll_once
from clinicsync.sync.store.store import Store

SITES = """
sites:
  north: {name: North Dental, timezone: America/Denver}
  south: {name: South Dental}
"""


def _group(write_settings: Callable[..., Path], tmp_path: Path, count: int) -> Settings:
    """``count`` CSV sources over two sites, each with an empty drop folder (an idle poll)."""
    lines = []
    for n in range(count):
        folder = tmp_path / f"drop{n}"
        folder.mkdir(exist_ok=True)
        site = "north" if n % 2 else "south"
        lines.append(f"- {{name: s{n}, kind: csv, mapping: csv_default, drop_dir: '{folder}', site: {site}}}\n")
    return load_settings(write_settings(connectors="".join(lines), extra=SITES))


def _settings_walks(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the calls that look up a source's clinic (its site over `clinic:`)."""
    calls: Counter[str] = Counter()

    def counted(cls: type, name: str) -> None:
        real = getattr(cls, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)

    counted(Settings, "clinic_for")
    counted(SiteSettings, "as_clinic")
    return calls


def test_an_idle_polls_settings_lookups_do_not_grow_with_the_configured_sources(
        store: Store, write_settings: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    per_poll = {}
    for count in (4, 40):
        settings = _group(write_settings, tmp_path, count)
        poll_once(settings, store, "s0")  # the first poll of these settings works out what they all share
        calls = _settings_walks(monkeypatch)
        report = poll_once(settings, store, "s1")
        assert not report.failed, report.as_dict()
        per_poll[count] = sum(calls.values())
        monkeypatch.undo()
    assert per_poll[40] == per_poll[4], per_poll
