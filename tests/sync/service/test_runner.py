"""The service loop with real threads: stop wakes sleeping jobs at once, failures are
counted, a job in flight gets its grace, a dead resident job stops the service."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from clinicsync.common.schedule import Schedule
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.service.jobs import PeriodicJob, ResidentJob, ServiceContext
from clinicsync.sync.service.runner import Service
from clinicsync.sync.store.store import Store

HANG_GUARD = 60  # seconds; only ever reached when the behaviour under test is broken
GRACE = timedelta(seconds=HANG_GUARD)


@pytest.fixture
def ctx(tmp_path) -> ServiceContext:  # type: ignore[no-untyped-def]
    from clinicsync.sync.store.db import make_engine

    return ServiceContext(Settings(), Store(make_engine(f"sqlite:///{tmp_path / 'store.db'}")))


def fast_clock() -> object:
    """Each reading is an hour after the last: every interval job is due at once."""
    ticks = count()
    start = datetime(2031, 1, 1, tzinfo=UTC)
    return lambda: start + timedelta(hours=next(ticks))


def test_stop_wakes_a_sleeping_job_at_once(ctx: ServiceContext) -> None:
    ran = threading.Event()
    runs = []

    def job(_ctx: ServiceContext) -> None:
        runs.append(1)
        ran.set()

    service = Service(ctx, [PeriodicJob("hourly", Schedule(interval="1h"), job)])
    service.start()
    assert ran.wait(HANG_GUARD)
    # The job now sleeps for an hour; shutdown must not wait for that.
    assert service.shutdown(GRACE) == []
    assert runs == [1]
    assert ctx.board.snapshot()["hourly"]["runs"] == 1


def test_failures_are_counted_and_a_success_resets_the_streak(ctx: ServiceContext) -> None:
    outcomes = iter([RuntimeError("boom"), {"failed": True, "emr": {"error": "source down"}}, {"failed": False}])
    seen = []

    def job(c: ServiceContext) -> dict[str, object]:
        seen.append(c.board.snapshot()["flaky"]["consecutive_failures"])
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        if len(seen) == 3:
            c.stop.set()
        return outcome

    service = Service(ctx, [PeriodicJob("flaky", Schedule(interval="1m"), job)], clock=fast_clock())  # type: ignore[arg-type]
    service.start()
    assert ctx.stop.wait(HANG_GUARD)
    assert service.shutdown(GRACE) == []
    status = ctx.board.snapshot()["flaky"]
    assert seen == [0, 1, 2]
    assert status["runs"] == 3 and status["failures"] == 2 and status["consecutive_failures"] == 0


def test_the_error_of_a_failed_run_is_kept(ctx: ServiceContext) -> None:
    def job(c: ServiceContext) -> dict[str, object]:
        c.stop.set()
        return {"failed": True, "emr": {"error": "source down"}, "lab": {"error": None}}

    service = Service(ctx, [PeriodicJob("poll", Schedule(interval="1m"), job)])
    service.start()
    assert ctx.stop.wait(HANG_GUARD)
    service.shutdown(GRACE)
    assert ctx.board.snapshot()["poll"]["last_error"] == "emr: source down"


def test_a_cron_job_waits_for_its_time(ctx: ServiceContext) -> None:
    runs = []
    scheduled = threading.Event()
    now = datetime(2031, 1, 10, 15, 0, tzinfo=UTC)

    def clock() -> datetime:
        scheduled.set()
        return now

    service = Service(ctx, [PeriodicJob("agenda", Schedule(cron="0 7 * * *"), lambda c: runs.append(1))],
                      clock=clock)
    service.start()
    assert scheduled.wait(HANG_GUARD)
    service.shutdown(GRACE)
    assert runs == []
    assert ctx.board.snapshot()["agenda"]["next_due"] == "2031-01-11T07:00:00+00:00"  # settings: UTC clinic


def test_a_job_in_flight_finishes_at_its_safe_point(ctx: ServiceContext) -> None:
    started, finished = threading.Event(), []

    def job(c: ServiceContext) -> None:
        started.set()
        c.stop.wait()  # e.g. a poll between two batches
        finished.append(1)

    service = Service(ctx, [PeriodicJob("poll", Schedule(interval="1h"), job)])
    service.start()
    assert started.wait(HANG_GUARD)
    assert service.shutdown(GRACE) == []
    assert finished == [1]


def test_a_job_that_ignores_stop_is_abandoned_after_the_grace(ctx: ServiceContext) -> None:
    started, release = threading.Event(), threading.Event()

    def job(_c: ServiceContext) -> None:
        started.set()
        release.wait(HANG_GUARD)

    service = Service(ctx, [PeriodicJob("stuck", Schedule(interval="1h"), job)])
    service.start()
    assert started.wait(HANG_GUARD)
    try:
        assert service.shutdown(timedelta(milliseconds=50)) == ["stuck"]
    finally:
        release.set()


def test_a_resident_job_that_dies_stops_the_service(ctx: ServiceContext) -> None:
    woken = threading.Event()

    def server(_c: ServiceContext) -> None:
        raise OSError("address already in use")

    service = Service(ctx, [ResidentJob("serve", server),
                            PeriodicJob("poll", Schedule(interval="1h"), lambda c: None)], on_stop=woken.set)
    service.start()
    assert woken.wait(HANG_GUARD)
    assert service.shutdown(GRACE) == []
    assert service.failed and ctx.stop.is_set()
    assert ctx.board.snapshot()["serve"]["last_error"] == "OSError in server"


def test_a_resident_job_runs_until_stop(ctx: ServiceContext) -> None:
    up = threading.Event()

    def server(c: ServiceContext) -> None:
        up.set()
        c.stop.wait()

    service = Service(ctx, [ResidentJob("serve", server)])
    service.start()
    assert up.wait(HANG_GUARD)
    assert service.shutdown(GRACE) == [] and not service.failed
