"""Where the service's jobs come from, and what a connector's poll job does."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from clinicsync.common.schedule import Schedule
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.reminders.dispatch import RoutingError
from clinicsync.sync.service.jobs import (
    POLLS,
    REMIND_EVERY,
    PeriodicJob,
    ResidentJob,
    ServiceContext,
    ServiceOptions,
    collect_jobs,
    connector_jobs,
    poll_connector_job,
    polled_sources,
    remind_job,
    reminder_jobs,
    server_jobs,
)
from clinicsync.sync.service.polls import PolledSource
from clinicsync.sync.service.runner import Service, _failure
from clinicsync.sync.store.store import Store
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


def test_one_poll_pool_for_the_enabled_polled_connectors_each_on_its_schedule(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(write_settings(_connectors(drop_dir)))
    ctx = ServiceContext(settings, store)
    assert polled_sources(ctx) == [PolledSource("emr", Schedule(cron="*/10 7-19 * * 1-5")),
                                   PolledSource("lab", Schedule(interval="5m"))]
    jobs = connector_jobs(ctx)
    assert [(j.name, type(j)) for j in jobs] == [(POLLS, ResidentJob)]  # not a thread per source
    assert sorted(ctx.board.jobs) == ["poll:emr", "poll:lab"]  # each source's polls on the board
    only = ServiceContext(settings, store, ServiceOptions(connectors=("lab",)))
    assert [source.name for source in polled_sources(only)] == ["lab"]
    connector_jobs(only)
    assert sorted(only.board.jobs) == ["poll:lab"]


def test_job_names_are_unique(write_settings, store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    ctx = ServiceContext(load_settings(write_settings(_connectors(drop_dir))), store)
    with pytest.raises(ValueError, match=POLLS):
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


def test_the_reminder_dispatcher_is_a_job_unless_reminders_are_off(write_settings, store) -> None:  # type: ignore[no-untyped-def]
    on = ServiceContext(load_settings(write_settings()), store)
    assert [(j.name, j.schedule) for j in reminder_jobs(on) if isinstance(j, PeriodicJob)] == [("remind", REMIND_EVERY)]
    off = ServiceContext(load_settings(write_settings(extra="reminders: {enabled: false}")), store)
    assert reminder_jobs(off) == []


def test_the_reminder_job_dispatches_with_the_settings(write_settings, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outbox = f"notifiers: [{{name: outbox, kind: outbox, directory: {tmp_path / 'outbox'}}}]"
    ctx = ServiceContext(load_settings(write_settings(extra=outbox)), store)
    result = remind_job(ctx)
    assert result == {"sent": 0, "send_failed": 0, "skipped": 0, "unknown": 0, "retrying": 0, "deferred": 0}
    assert _failure(result) is None
    wrong = ServiceContext(load_settings(write_settings(extra=outbox + "\nreminders: {routes: {sms: nope}}")), store)
    with pytest.raises(RoutingError, match="no notifier named 'nope'"):
        remind_job(wrong)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_serve_hosts_the_http_server_until_stop(store) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = ServiceContext(Settings(server=ServerSettings(port=port)), store, ServiceOptions(serve=True))
    assert server_jobs(ServiceContext(ctx.settings, store)) == []
    service = Service(ctx, collect_jobs(ctx, [server_jobs]))
    service.start()
    try:
        for _ in range(600):  # until the server is listening; the bound only guards a hang
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                ctx.stop.wait(0.1)
        assert response.status_code == 200
    finally:
        assert service.shutdown(timedelta(seconds=60)) == []
    assert not service.failed
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")
