"""What an idle poll costs must not grow with the sources a worker is configured for: a worker
polls each of N sources once an interval, so work per poll that walks all N sources makes its
minute grow with N². Counted in calls and statements, never in seconds (the machine is shared)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.sql.elements import ClauseElement

from clinicsync.connectors.base import ConnectorSettings
from clinicsync.connectors.sql_session import dispose_kept_engines
from clinicsync.mappings.preset_schema import MappingPreset
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.config.settings.sites import SiteSettings
from clinicsync.sync.ingest import engine
from clinicsync.sync.service.pipeline import poll_once
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store

SQL_MAPPING = Path(__file__).parents[2] / "connectors" / "data" / "sql_appointments.yaml"
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


class _Counted(list):  # type: ignore[type-arg]
    """A source list that counts the walks over it."""

    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def test_a_poll_finds_its_source_without_walking_the_others(
        store: Store, write_settings: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service polls one source a run: finding it (the run's own loop, ``Settings.connector``)
    looks it up by name; a walk over every configured source made each poll grow with them."""
    settings = _group(write_settings, tmp_path, 40)
    poll_once(settings, store, "s0")  # the first poll of these settings may build what they all share
    settings.connector("s0")
    counted = _Counted(settings.connectors)
    settings = settings.model_copy(update={"connectors": counted})
    settings.connector("s39")  # a new list: indexed once
    _Counted.walks = 0
    for n in range(40):
        assert settings.connector(f"s{n}").name == f"s{n}"
    with pytest.raises(KeyError):
        settings.connector("nowhere")
    assert _Counted.walks == 0
    looked: Counter[str] = Counter()
    real = engine.is_polled

    def is_polled(config: Any) -> bool:
        looked[config.name] += 1
        return real(config)

    monkeypatch.setattr(engine, "is_polled", is_polled)
    report = poll_once(settings, store, "s7")
    assert not report.failed and list(report.connectors) == ["s7"], report.as_dict()
    assert dict(looked) == {"s7": 1}


def _dumps(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the pydantic dumps of a source's settings and of its mapping's preset."""
    dumped: Counter[str] = Counter()
    real = BaseModel.model_dump

    def model_dump(self: BaseModel, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self, ConnectorSettings):
            dumped["connector"] += 1
        elif isinstance(self, MappingPreset):
            dumped["preset"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(BaseModel, "model_dump", model_dump)
    return dumped


def test_an_idle_poll_describes_its_source_and_mapping_once_per_settings_load(
        store: Store, write_settings: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read and mapping epochs (sync/ingest/fingerprint.py) describe the source's settings and
    its mapping: dumped at the first poll of a load, not again at each idle poll after it; a new
    load of the settings (a change) is described again."""
    settings = _group(write_settings, tmp_path, 4)
    poll_once(settings, store, "s1")
    dumped = _dumps(monkeypatch)
    report = poll_once(settings, store, "s1")
    assert not report.failed, report.as_dict()
    assert dumped == Counter()
    again = _group(write_settings, tmp_path, 4)
    report = poll_once(again, store, "s1")
    assert not report.failed and report.connectors["s1"].counts.fetched == 0, report.as_dict()
    assert dumped["connector"] >= 1, dumped  # its settings are a new object


@pytest.mark.postgres
def test_a_table_sources_read_is_compiled_once_not_at_every_poll(
        store: Store, write_settings: Callable[..., Path], postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``table:`` source's SELECT is built and compiled once for its engine (kept across the
    service's polls: sql_session.read_engine), not at each poll."""
    source = make_engine(postgres_url)
    with source.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE poll_cost_appts (id INTEGER PRIMARY KEY, patient_id VARCHAR(20), "
                                   "starts_at TIMESTAMP, minutes INTEGER, status VARCHAR(20), updated_at TIMESTAMP)")
    source.dispose()
    settings = load_settings(write_settings(connectors=(
        f"- {{name: db, kind: sql, url: '{postgres_url}', table: poll_cost_appts, mapping: '{SQL_MAPPING}', "
        "cursor_column: updated_at}\n")))
    try:
        assert not poll_once(settings, store, "db").failed
        compiled: list[str] = []
        real = ClauseElement.compile

        def compile(self: ClauseElement, *args: Any, **kwargs: Any) -> Any:
            found = real(self, *args, **kwargs)
            compiled.append(str(found))
            return found

        monkeypatch.setattr(ClauseElement, "compile", compile)
        report = poll_once(settings, store, "db")
        assert not report.failed and report.connectors["db"].counts.fetched == 0, report.as_dict()
        assert compiled == []
    finally:
        dispose_kept_engines()
