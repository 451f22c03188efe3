"""The run history is pruned past ``store.run_history_days`` (a poll a minute and a run per
push would otherwise grow it by ~500,000 rows a year a source), keeping each connector's
newest successful run and every run still running, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.queries import connector_health
from clinicsync.sync.config.settings import load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.store import run_log as store_run_log
from clinicsync.sync.store.model import SyncRun
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory

RUNS = SyncRun.__table__  # type: ignore[attr-defined]
NOW = utcnow()


def add_runs(store: Store, runs: list[tuple[str, str, str, int]]) -> dict[str, int]:
    """(name, connector, status, days ago) -> {name: row id}, inserted in the order given."""
    ids = {}
    with store.engine.begin() as connection:
        for name, connector, status, days in runs:
            started = NOW - timedelta(days=days)
            ids[name] = connection.execute(insert(RUNS).values(
                run_id=name, connector=connector, status=status, counts="{}", started_at=started,
                finished_at=None if status == "running" else started + timedelta(seconds=3))).inserted_primary_key[0]
    return ids


def kept(store: Store) -> set[str]:
    with store.engine.connect() as connection:
        return set(connection.execute(select(RUNS.c.run_id)).scalars())


HISTORY = [("ok-200", "emr", "ok", 200), ("failed-150", "emr", "failed", 150), ("ok-120", "emr", "ok", 120),
           ("failed-100", "emr", "failed", 100), ("running-100", "emr", "running", 100),
           ("failed-10", "emr", "failed", 10), ("lab-failed-100", "lab", "failed", 100),
           ("lab-ok-5", "lab", "ok", 5), ("gone-ok-300", "removed", "ok", 300),
           ("idle-ok-300", "idle", "ok", 300), ("idle-failed-200", "idle", "failed", 200),
           ("idle-failed-190", "idle", "failed", 190)]


def test_old_runs_go_but_the_newest_success_and_running_runs_stay(store: Store) -> None:
    add_runs(store, HISTORY)
    assert store.prune_runs(["emr", "lab", "idle"], NOW) == 5
    # emr's newest success is 120 days old and stays: the status page still says when it last
    # worked and counts the failures since (only the one within the window is left); a source
    # that has not run for months keeps its last run and its last success (the stall check
    # says since when it is silent); a connector no longer configured is not touched.
    assert kept(store) == {"ok-120", "running-100", "failed-10", "lab-ok-5", "gone-ok-300", "idle-ok-300",
                           "idle-failed-190"}
    with store.engine.connect() as connection:
        health = connector_health(connection)
    assert health["emr"].failing_runs == 1 and health["emr"].last_success is not None
    assert store.prune_runs(["emr", "lab", "idle"], NOW) == 0  # nothing left to prune


def test_a_long_history_is_caught_up_in_bounded_steps(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    add_runs(store, [(f"old-{i}", "emr", "ok", 200 - i) for i in range(7)] + [("new", "emr", "ok", 1)])
    monkeypatch.setattr(store_run_log, "RUNS_PRUNED_PER_CALL", 3)
    assert [store.prune_runs(["emr"], NOW) for _ in range(4)] == [3, 3, 1, 0]  # oldest first
    assert kept(store) == {"new"}


def test_each_sync_pass_prunes_by_the_setting(store: Store, tmp_path: Path, write_settings: SettingsFactory) -> None:
    (tmp_path / "emr").mkdir()
    settings = load_settings(write_settings(
        f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'emr'}\n"))
    settings = settings.model_copy(update={"store": settings.store.model_copy(update={"run_history_days": 30})})
    configured = Store.on(store.engine, settings.store)
    add_runs(configured, [("ok-40", "emr", "ok", 40), ("failed-35", "emr", "failed", 35), ("ok-20", "emr", "ok", 20)])
    sync_once(settings, configured)
    left = kept(configured)
    assert "ok-40" not in left and "failed-35" not in left and "ok-20" in left
    assert len(left) == 2  # and this pass's own run
