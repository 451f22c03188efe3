"""Where the service's jobs come from, and what a connector's poll job does."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sync.engine import sync_once
from sync.service.jobs import (
    PeriodicJob,
    ServiceContext,
    ServiceOptions,
    collect_jobs,
    connector_jobs,
    poll_connector_job,
)
from sync.service.schedule import Schedule
from sync.settings import load_settings
from sync.store import Store
from tests.reliability.harness import write_drop


def _connectors(drop_dir: Path) -> str:
    return f"""
        - name: emr
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir}
          settle_seconds: 0
          batch_size: 50
          schedule: {{cron: "*/10 7-19 * * 1-5"}}
        - name: lab
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir}
        - name: old
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir}
          enabled: false
    """


def test_one_poll_job_per_enabled_connector_on_its_schedule(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(write_settings(_connectors(drop_dir)))
    jobs = connector_jobs(ServiceContext(settings, store))
    assert [(j.name, j.schedule) for j in jobs if isinstance(j, PeriodicJob)] == [
        ("poll:emr", Schedule(cron="*/10 7-19 * * 1-5")), ("poll:lab", Schedule(interval="5m"))]
    only = connector_jobs(ServiceContext(settings, store, ServiceOptions(connectors=("lab",))))
    assert [j.name for j in only] == ["poll:lab"]


def test_job_names_are_unique(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    ctx = ServiceContext(load_settings(write_settings(_connectors(drop_dir))), store)
    with pytest.raises(ValueError, match="poll:emr"):
        collect_jobs(ctx, [connector_jobs, connector_jobs])


def test_a_poll_job_syncs_its_connector_and_reports(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    write_drop(drop_dir, "a.csv", 120, prefix="J")
    ctx = ServiceContext(load_settings(write_settings(_connectors(drop_dir))), store)
    result = poll_connector_job(ctx, "emr")
    assert result is not None and result["failed"] is False
    assert result["emr"]["created"] == 119 and result["emr"]["quarantined"] == 1
    assert "lab" not in result


def test_once_stopping_no_connector_is_claimed(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    write_drop(drop_dir, "a.csv", 10, prefix="J")
    ctx = ServiceContext(load_settings(write_settings(_connectors(drop_dir))), store)
    ctx.stop.set()
    result = poll_connector_job(ctx, "emr")
    assert result is not None and "emr" not in result and result["failed"] is False


def test_a_poll_stops_after_the_batch_in_flight_when_asked(write_settings, store: Store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    drop = write_drop(drop_dir, "a.csv", 400, prefix="J")
    settings = load_settings(write_settings(_connectors(drop_dir)))
    stop = threading.Event()
    report = sync_once(settings, store, only=["emr"], on_batch=lambda _name, _counts: stop.set(), stop=stop)
    emr = report.connectors["emr"]
    assert emr.error is not None and "shutting down" in emr.error
    assert emr.counts.fetched == 50  # one batch, stored with its cursor
    cursor = store.load_cursor("emr")
    assert cursor is not None and cursor["current"] == {"hash": drop.digest, "rows": 50}
