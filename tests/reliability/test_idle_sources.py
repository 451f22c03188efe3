"""Issue 60: in `clinicsync run`, a poll that finds nothing new runs no post-sync stage; a poll
that stores a change rings the stages job, which runs once for the polls that finish close
together, and the change's reminders are planned within the poll interval plus seconds.

The real service loop (runner.Service) with real CSV sources on a SQLite store, in short
real time: polls every second, the stages' settle shortened from 2 s to 0.3 s."""

from __future__ import annotations

import dataclasses
import threading
import time
import types
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clinicsync.common.schedule import Schedule
from clinicsync.sync.engine import ConnectorReport, RunReport
from clinicsync.sync.model import Appointment
from clinicsync.sync.model.reminders import REMINDERS
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.jobs import (
    STAGES,
    PeriodicJob,
    ServiceContext,
    collect_jobs,
    connector_jobs,
    poll_connector_job,
    stages_job,
    stages_jobs,
)
from clinicsync.sync.service.pipeline import needs_stages
from clinicsync.sync.service.runner import Service
from clinicsync.sync.service.wake import Wake
from clinicsync.sync.settings import load_settings
from clinicsync.sync.store import Counts, Store
from tests.reliability.harness import write_drop, write_settings

SOURCES = 4
INTERVAL = 1.0  # seconds between polls of each source


def _runs(service: Service, name: str) -> int:
    return service.ctx.board.jobs[name].runs


def _wait(condition, limit: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _reminders_of(store: Store, external_id: str) -> int:
    table = Appointment.__table__  # type: ignore[attr-defined]
    with store.engine.connect() as connection:
        return int(connection.execute(
            select(func.count()).select_from(REMINDERS.join(table, REMINDERS.c.appointment_id == table.c.id))
            .where(table.c.external_id == external_id)).scalar_one())


@pytest.fixture
def idle_service(tmp_path: Path, store: Store, store_url: str):  # type: ignore[no-untyped-def]
    """SOURCES CSV sources, each imported once (with its stages) before the service starts."""
    connectors = []
    for n in range(SOURCES):
        write_drop(tmp_path / f"drop{n}", "a.csv", 20, prefix=f"S{n}-")
        connectors.append({"name": f"s{n}", "drop_dir": str(tmp_path / f"drop{n}"),
                           "schedule": {"interval": f"{INTERVAL:g}s"}})
    ctx = ServiceContext(load_settings(write_settings(tmp_path, store_url, connectors)), store)
    for n in range(SOURCES):
        poll_connector_job(ctx, f"s{n}")
    stages_job(ctx)
    ctx.changes.take()
    jobs = [job if job.name != STAGES else dataclasses.replace(job, settle=0.3)  # type: ignore[arg-type]
            for job in collect_jobs(ctx, [connector_jobs, stages_jobs])]
    service = Service(ctx, jobs)
    yield service, tmp_path
    service.shutdown(timedelta(seconds=10))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_idle_polls_run_no_stage_and_a_change_runs_them_once(idle_service) -> None:  # type: ignore[no-untyped-def]
    service, folder = idle_service
    service.start()
    polls = [f"poll:s{n}" for n in range(SOURCES)]
    # The stages job runs once as the service starts (what a crash or a push left); then only when rung.
    assert _wait(lambda: _runs(service, STAGES) == 1)
    assert _wait(lambda: all(_runs(service, poll) >= 2 for poll in polls)), service.ctx.board.snapshot()
    assert _runs(service, STAGES) == 1, "an idle poll ran the stages"

    before = {poll: _runs(service, poll) for poll in polls}
    write_drop(folder / "drop1", "b.csv", 1, prefix="NEW-A")
    write_drop(folder / "drop2", "b.csv", 1, prefix="NEW-B")
    changed = time.monotonic()
    assert _wait(lambda: _reminders_of(service.ctx.store, "NEW-A000000") > 0
                 and _reminders_of(service.ctx.store, "NEW-B000000") > 0)
    latency = time.monotonic() - changed
    assert latency <= INTERVAL + 3.0, f"the change was planned {latency:.1f} s after it was written"
    # The polls that stored the two changes finished close together: one stage pass for both.
    assert _wait(lambda: service.ctx.board.jobs[STAGES].running_since is None)
    assert _runs(service, STAGES) == 2

    assert _wait(lambda: all(_runs(service, poll) >= before[poll] + 2 for poll in polls))
    assert _runs(service, STAGES) == 2, "idle polls after the change ran the stages"
    assert not service.failed


def test_rings_close_together_make_one_run_and_a_ring_during_a_run_makes_the_next() -> None:
    """The runner's side of the coalescing, with a job that counts its runs."""
    runs: list[float] = []
    release = threading.Event()
    wake = Wake()

    def job(_ctx: object) -> None:
        runs.append(time.monotonic())
        if len(runs) == 2:
            release.wait(5)  # the second run is slow: rings during it ask for a third

    ctx = ServiceContext.__new__(ServiceContext)  # only stop, board and settings are read
    ctx.stop = threading.Event()
    ctx.board = JobBoard()
    ctx.settings = types.SimpleNamespace(clinic=types.SimpleNamespace(timezone="UTC"))  # type: ignore[assignment]
    service = Service(ctx, [PeriodicJob("stages", Schedule.every("1h"), job, writes_store=False,  # type: ignore[arg-type]
                                        wake=wake, settle=0.2)])
    service.start()
    try:
        assert _wait(lambda: len(runs) == 1)  # the first run, at start
        for _ in range(5):
            wake.ring()
            time.sleep(0.02)
        assert _wait(lambda: len(runs) == 2)
        time.sleep(0.4)
        assert len(runs) == 2  # five rings within the settle: one run
        wake.ring()  # during the (slow) second run
        release.set()
        assert _wait(lambda: len(runs) == 3)
        time.sleep(0.4)
        assert len(runs) == 3
    finally:
        service.shutdown(timedelta(seconds=2))
    assert not any(thread.is_alive() for thread in service._threads)


def test_what_a_poll_must_ring_for(tmp_path: Path) -> None:
    """A change rings; fetched-but-unchanged and quarantined rows do not; a waiting-list
    source (read by the waitlist_sources stage, never by sync_once) always does."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = load_settings(write_settings(tmp_path, url, [
        {"name": "emr", "drop_dir": str(tmp_path)},
        {"name": "waiting", "drop_dir": str(tmp_path), "mapping": "csv_waitlist"}]))

    def report(**counts: int) -> RunReport:
        return RunReport("r", {"emr": ConnectorReport(Counts(**counts))})

    assert not needs_stages(settings, report(fetched=40, unchanged=39, quarantined=1), "emr")
    for change in ("created", "updated", "rescheduled", "cancelled", "noshow", "deleted"):
        assert needs_stages(settings, report(fetched=1, **{change: 1}), "emr"), change
    assert not needs_stages(settings, RunReport("r"), "emr")  # stopping: not polled
    assert needs_stages(settings, RunReport("r"), "waiting")


def test_an_idle_poll_costs_a_few_rounds_of_the_store(tmp_path: Path, store: Store, store_url: str) -> None:
    """Issue 60 (stop 61): an idle poll's bookkeeping in few rounds of the store (each a pool
    checkout, pinged on PostgreSQL): the lock, the run's row with the abandoned runs, the
    import stage's row, the baseline and cursor, the open quarantine, the run's and stage's
    end, the conditions that ended, the unlock; 13 (SQLite) to 14 (PostgreSQL) before. Its run
    is still recorded."""
    from sqlalchemy import event

    write_drop(tmp_path / "drop", "a.csv", 20, prefix="I-")
    ctx = ServiceContext(load_settings(write_settings(tmp_path, store_url, [
        {"name": "emr", "drop_dir": str(tmp_path / "drop")}])), store)
    poll_connector_job(ctx, "emr")
    checkouts: list[object] = []
    listener = lambda *_args: checkouts.append(1)  # noqa: E731
    event.listen(store.engine.pool, "checkout", listener)
    try:
        result = poll_connector_job(ctx, "emr")
    finally:
        event.remove(store.engine.pool, "checkout", listener)
    assert result is not None and not result["failed"] and result["emr"]["created"] == 0
    assert len(checkouts) <= 10, f"{len(checkouts)} rounds of the store for an idle poll"
    with store.engine.connect() as connection:
        runs = connection.exec_driver_sql("SELECT status FROM syncrun WHERE connector = 'emr'").scalars().all()
    assert runs == ["ok", "ok"]
