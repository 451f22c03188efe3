"""Connector health read from the run history (what `status` shows and /metrics exports):
failed runs in a row through the real engine, reset by a success, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import insert

from clinicsync.common.types import utcnow
from clinicsync.sync.checks.queries import connector_health
from clinicsync.sync.cli.demo import generate_rows
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.server.metrics import connector_gauges
from clinicsync.sync.store.model import SyncRun
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.connectors.test_csv_drop import TOMORROW, write_drop

RUNS = SyncRun.__table__  # type: ignore[attr-defined]


def samples(store: Store) -> dict[str, dict[str, float]]:
    """{family name: {connector: value}} of connector_gauges."""
    families: list[GaugeMetricFamily] = list(connector_gauges(store))
    return {f.name: {s.labels["connector"]: s.value for s in f.samples} for f in families}


def settings(write_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return load_settings(write_settings(
        f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'emr'}\n"
        f"- name: lab\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'lab'}\n"))


def test_failing_runs_in_a_row_then_a_success_resets(store: Store, tmp_path: Path,
                                                     write_settings: SettingsFactory) -> None:
    drop = tmp_path / "emr"  # not there yet: every poll of emr fails
    (tmp_path / "lab").mkdir()
    config = settings(write_settings, tmp_path)
    for expected in (1, 2, 3):
        report = sync_once(config, store)
        assert report.connectors["emr"].error and not report.connectors["lab"].error
        assert samples(store)["clinicsync_connector_consecutive_failures"] == {"emr": expected, "lab": 0}
    figures = samples(store)
    assert "emr" not in figures["clinicsync_connector_last_success_timestamp_seconds"]  # never succeeded
    assert set(figures["clinicsync_connector_last_run_timestamp_seconds"]) == {"emr", "lab"}

    drop.mkdir()
    write_drop(drop, "a.csv", generate_rows(TOMORROW, days=1))
    before = utcnow().timestamp()
    assert not sync_once(config, store).connectors["emr"].error
    figures = samples(store)
    assert figures["clinicsync_connector_consecutive_failures"] == {"emr": 0, "lab": 0}
    assert figures["clinicsync_connector_last_success_timestamp_seconds"]["emr"] >= before


def test_counts_only_the_failures_after_the_last_success(store: Store) -> None:
    history = [("emr", "failed"), ("emr", "ok"), ("emr", "failed"), ("emr", "failed"), ("lab", "failed"),
               ("fhir", "ok"), ("emr", "running")]
    with store.engine.begin() as connection:
        for number, (connector, status) in enumerate(history):
            connection.execute(insert(RUNS).values(run_id=f"r{number}", connector=connector, status=status,
                                                   counts="{}", started_at=utcnow(), finished_at=utcnow()))
    with store.engine.connect() as connection:
        health = connector_health(connection)
    assert {name: h.failing_runs for name, h in health.items()} == {"emr": 2, "lab": 1, "fhir": 0}
    assert health["lab"].last_success is None and health["fhir"].last_success is not None


def test_status_shows_the_failing_streak_and_the_last_success(write_settings: SettingsFactory, tmp_path: Path,
                                                              cli: Any) -> None:
    (tmp_path / "lab").mkdir()
    run = cli(write_settings(
        f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'emr'}\n"
        f"- name: lab\n  kind: csv\n  mapping: csv_default\n  drop_dir: {tmp_path / 'lab'}\n"))
    for _ in range(3):
        run("sync", "--once", expect=1)
    _, out, _ = run("status")  # piped: plain columns, two spaces or more apart (sync/cli/output.py)
    rows = {cells[0]: cells for line in out.splitlines()
            if len(cells := re.split(r"\s{2,}", line.strip())) > 3}
    assert rows["emr"][2] == "failed x3" and rows["emr"][3] == "never"
    assert rows["lab"][2] == "ok" and rows["lab"][3] not in ("", "never")
