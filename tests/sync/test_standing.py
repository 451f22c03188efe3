"""A standing condition is logged when it starts, changes and ends, with a daily reminder,
not at every cron run (sync/runs/standing.py): on SQLite and PostgreSQL, through the
store (each cron run is a process of its own), and through the engine's own conditions — a
source that cannot be read, a source the settings no longer name."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.runs.standing import REMIND_EVERY, Standing
from clinicsync.sync.store.model.housekeeping import HOUSEKEEPING
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import SYNC_RUNS
from tests.conftest import SettingsFactory
from tests.sync.reminders.conftest import appointment, put

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
CRON = timedelta(minutes=5)
FAILING = Standing("connector.failed", "connector")


def levels(logs: list[dict[str, Any]], event: str) -> Counter[str]:
    return Counter(line["log_level"] for line in logs if line["event"] == event)


class Log:
    """A logger that records what it is asked to write (the helper takes the caller's logger)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event, fields))

    def at(self, level: str) -> list[tuple[str, dict[str, Any]]]:
        return [(event, fields) for lv, event, fields in self.lines if lv == level]


def test_a_day_of_cron_runs_of_one_condition_is_one_line_then_a_reminder_then_resolved(store: Store) -> None:
    log = Log()
    for n in range(288):  # a day of `sync --once` every 5 minutes
        FAILING.seen(store.engine, log, "pm", state="cannot open the database", level="error", now=START + n * CRON,
                     error="cannot open the database")
    assert [(e, f["connector"], f["since"]) for e, f in log.at("error")] == [
        ("connector.failed", "pm", "2027-03-01T08:00:00Z")]
    assert len(log.at("debug")) == 287  # the repeats, for whoever debugs
    FAILING.seen(store.engine, log, "pm", state="cannot open the database", level="error",
                 now=START + REMIND_EVERY, error="cannot open the database")
    assert log.at("error")[-1][1]["reminder"] is True and log.at("error")[-1][1]["since"] == "2027-03-01T08:00:00Z"
    assert FAILING.ended(store.engine, log, "pm", now=START + REMIND_EVERY + CRON) == ["pm"]
    assert log.at("info") == [("connector.failed.resolved", {"connector": "pm", "since": "2027-03-01T08:00:00Z",
                                                             "lasted_minutes": 24 * 60 + 5})]
    assert FAILING.ended(store.engine, log, "pm") == []  # said once
    with store.engine.connect() as connection:  # nothing left behind
        assert not connection.execute(select(HOUSEKEEPING).where(HOUSEKEEPING.c.task.startswith("said:"))).all()
    FAILING.seen(store.engine, log, "pm", state="cannot open the database", level="error",
                 now=START + 2 * REMIND_EVERY)  # it comes back: a new condition
    assert "reminder" not in log.at("error")[-1][1] and len(log.at("error")) == 3


def test_a_change_and_a_new_subject_during_a_standing_condition_are_written(store: Store) -> None:
    log = Log()
    FAILING.seen(store.engine, log, "pm", state="timeout", level="error", now=START)
    FAILING.seen(store.engine, log, "pm", state="timeout", level="error", now=START + CRON)
    FAILING.seen(store.engine, log, "front", state="no such folder", level="error", now=START + CRON)
    FAILING.seen(store.engine, log, "pm", state="password refused", level="error", now=START + 2 * CRON)
    FAILING.seen(store.engine, log, "pm", state="password refused", level="error", now=START + 3 * CRON)
    FAILING.seen(store.engine, log, "pm", state="12 visits wait", level="error", now=START + 4 * CRON)
    FAILING.seen(store.engine, log, "pm", state="11 visits wait", level="error", now=START + 5 * CRON)  # a count
    assert [(f["connector"], f.get("changed", False)) for _e, f in log.at("error")] == [
        ("pm", False), ("front", False), ("pm", True), ("pm", True)]
    assert log.at("error")[-1][1]["since"] == "2027-03-01T08:00:00Z"  # the condition's start, not the change's
    # every subject but the ones still seen ends
    assert FAILING.ended(store.engine, log, keep=["front"], now=START + 6 * CRON) == ["pm"]


def test_a_store_that_cannot_be_read_loses_no_line(tmp_path: Path) -> None:
    from clinicsync.sync.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no housekeeping table
    log = Log()
    for _ in range(3):
        FAILING.seen(engine, log, "pm", state="x", level="error", now=START)
    assert len(log.at("error")) == 3
    engine.dispose()


def test_a_long_source_name_keeps_its_rows_apart(store: Store) -> None:
    log = Log()
    long_a, long_b = "a" * 60 + "-one", "a" * 60 + "-two"
    FAILING.seen(store.engine, log, long_a, now=START)
    FAILING.seen(store.engine, log, long_b, now=START)
    FAILING.seen(store.engine, log, long_a, now=START + CRON)
    assert len(log.at("warning")) == 2
    assert len(FAILING.ended(store.engine, log, now=START + CRON)) == 2


def test_a_source_that_cannot_be_read_is_one_error_a_day_under_cron(store: Store, store_url: str,
                                                                  write_settings: SettingsFactory,
                                                                  tmp_path: Path) -> None:
    """Through the engine: `sync --once` every 5 minutes, a source whose folder is gone."""
    drop = tmp_path / "gone"
    settings = load_settings(write_settings(f"- {{name: desk, kind: csv, mapping: csv_default, drop_dir: {drop}}}\n"))
    with capture_logs() as logs, time_machine.travel(START, tick=False) as clock:
        for n in range(12):
            clock.move_to(START + n * CRON)
            assert sync_once(settings, store).connectors["desk"].error
        drop.mkdir()
        clock.move_to(START + 12 * CRON)
        assert not sync_once(settings, store).connectors["desk"].error
    assert levels(logs, "connector.failed") == {"error": 1, "debug": 11}
    assert levels(logs, "connector.failed.resolved") == {"info": 1}


def test_an_orphaned_source_is_one_warning_then_resolved(store: Store, write_settings: SettingsFactory,
                                                       tmp_path: Path) -> None:
    """A source the settings no longer name, whose future visits the store holds, until the
    settings name it again (a typo fixed)."""
    drop = tmp_path / "drop"
    drop.mkdir()
    desk = f"- {{name: desk, kind: csv, mapping: csv_default, drop_dir: {drop}}}\n"
    put(store, appointment("front-A1", START + timedelta(days=3)), connector="front")
    with store.engine.begin() as connection:  # a source is one the store has synced
        connection.execute(insert(SYNC_RUNS).values(run_id="r1", connector="front", status="ok", counts="{}",
                                                    started_at=START, finished_at=START))
    without = load_settings(write_settings(desk))
    with capture_logs() as logs, time_machine.travel(START, tick=False) as clock:
        for n in range(6):
            clock.move_to(START + n * CRON)
            sync_once(without, store)
        named = load_settings(write_settings(desk + desk.replace("desk", "front")))
        clock.move_to(START + 6 * CRON)
        sync_once(named, store)
    assert levels(logs, "source.orphaned") == {"warning": 1, "debug": 5}
    assert [line["connector"] for line in logs if line["event"] == "source.orphaned.resolved"] == ["front"]


def test_a_stage_that_raises_at_each_run_is_one_error_then_resolved(store: Store, write_settings: SettingsFactory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The reminders stage raising run after run (the injected fault: the store's planning
    breaks), then working again."""
    from clinicsync.sync.reminders import stage as planning
    from clinicsync.sync.service import pipeline

    settings = load_settings(write_settings())
    real = planning.planning_stage

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("planning broke")

    monkeypatch.setattr(planning, "planning_stage", broken)
    with capture_logs() as logs, time_machine.travel(START, tick=False) as clock:
        for n in range(5):
            clock.move_to(START + n * CRON)
            assert "error" in pipeline.run_once(settings, store).extras["reminders"]
        monkeypatch.setattr(planning, "planning_stage", real)
        clock.move_to(START + 5 * CRON)
        assert "error" not in pipeline.run_once(settings, store).extras["reminders"]
    assert levels(logs, "stage.failed") == {"error": 1, "debug": 4}
    assert [line["stage"] for line in logs if line["event"] == "stage.failed.resolved"] == ["reminders"]
