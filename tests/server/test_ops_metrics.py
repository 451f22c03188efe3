"""/metrics for alerting: store figures read at scrape time (connectors, unknown reminders,
calendar token refusals, outbox lag), a store that cannot be read, and the jobs of
`clinicsync run --serve`."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from clinicsync.common.schedule import Schedule
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.server.app import create_app
from clinicsync.sync.service.jobs import PeriodicJob, ServiceContext, ServiceOptions, collect_jobs, server_jobs
from clinicsync.sync.service.runner import Service
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.outbox import CONSUMERS
from clinicsync.sync.store.store import Store
from tests.server.metrics_helpers import scrape, values
from tests.sync.service.test_runner import fast_clock
from tests.ui.seed import NOW, seed

pytestmark = pytest.mark.anyio
HANG_GUARD = 60  # seconds; only reached when the behaviour under test is broken


def seed_for_alerts(store: Store) -> None:
    """The status page's store, plus a calendar link Google refused a token for and the
    reminder planner one event behind."""
    ids = seed(store)
    with store.engine.begin() as connection:
        connection.execute(insert(LINKS).values(
            appointment_id=ids["A5"], provider="google", account="hart@clinic.example", calendar_id="hart",
            event_id="g5", state="pending", attempts=3, last_error="token refused: invalid_grant", updated_at=NOW))
        connection.execute(insert(CONSUMERS).values(consumer="reminders", last_event_id=1, updated_at=NOW))


async def test_store_figures_for_alerting(store: Store) -> None:
    seed_for_alerts(store)
    samples = await scrape(create_app(Settings(), store))
    assert values(samples, "clinicsync_store_up") == {"": 1.0}
    # the seed's csv connector: ok three hours ago, then one failed run
    assert values(samples, "clinicsync_connector_consecutive_failures", "connector") == {"csv": 1.0}
    assert values(samples, "clinicsync_connector_last_success_timestamp_seconds", "connector") == {
        "csv": (NOW - timedelta(hours=3)).timestamp()}
    assert values(samples, "clinicsync_connector_last_run_timestamp_seconds", "connector") == {
        "csv": (NOW - timedelta(hours=1)).timestamp()}
    assert values(samples, "clinicsync_reminders_oldest_unknown_timestamp_seconds") == {"": NOW.timestamp()}
    failing = {(s.labels["provider"], s.labels["cause"]): s.value for s in samples
               if s.name == "clinicsync_calendar_failing_links"}
    assert failing == {("ics", "other"): 1.0, ("google", "token"): 1.0}
    assert values(samples, "clinicsync_outbox_lag_events", "consumer") == {"reminders": 1.0}  # two events, at 1


async def test_the_lag_gauge_names_the_consumers_switched_on_as_the_age_gauge_does(store: Store) -> None:
    """A consumer whose stage is switched off (the waiting list, off by default) reads nothing
    on purpose, and an offset row of a name no stage reads ("calendar", as this file's seed and
    docs/architecture.md named one; the calendar reads no outbox) is no consumer: neither is a
    series of clinicsync_outbox_lag_events. On main both were (4 and 4
    events behind, for ever: ClinicsyncOutboxLagging fires past 1000) while the age gauge and
    the stall had left them out. Switched on, the waiting list is counted."""
    seed(store)  # two events
    with store.engine.begin() as connection:
        connection.execute(insert(CONSUMERS), [
            {"consumer": "reminders", "last_event_id": 2, "updated_at": NOW},
            {"consumer": "waitlist", "last_event_id": 0, "updated_at": NOW},
            {"consumer": "calendar", "last_event_id": 0, "updated_at": NOW}])
    samples = await scrape(create_app(Settings(), store))
    lag = values(samples, "clinicsync_outbox_lag_events", "consumer")
    assert lag == {"reminders": 0.0}  # main: {"reminders": 0, "waitlist": 2, "calendar": 2}
    assert lag.keys() == values(samples, "clinicsync_outbox_oldest_unconsumed_age_seconds", "consumer").keys()
    waiting_list_on = Settings.model_validate({"waitlist": {"enabled": True}})
    samples = await scrape(create_app(waiting_list_on, store))
    assert values(samples, "clinicsync_outbox_lag_events", "consumer") == {"reminders": 0.0, "waitlist": 2.0}


async def test_figures_without_data_have_no_samples(store: Store) -> None:
    samples = await scrape(create_app(Settings(), store))
    assert values(samples, "clinicsync_store_up") == {"": 1.0}
    for name in ("clinicsync_connector_consecutive_failures", "clinicsync_reminders_oldest_unknown_timestamp_seconds",
                 "clinicsync_calendar_failing_links"):
        assert values(samples, name) == {}


async def test_an_unreadable_store_is_a_figure_not_a_failed_scrape(tmp_path: Path) -> None:
    gone = Store(make_engine(f"sqlite:///{tmp_path / 'no such folder' / 'store.db'}"))
    samples = await scrape(create_app(Settings(), gone))
    assert values(samples, "clinicsync_store_up") == {"": 0.0}
    assert "clinicsync_connector_consecutive_failures" not in {s.name for s in samples}
    gone.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_run_serve_exports_its_jobs(store: Store) -> None:
    """A job that fails twice then succeeds, in a real service hosting the real server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = ServiceContext(Settings(server=ServerSettings(port=port)), store, ServiceOptions(serve=True))
    outcomes = iter([RuntimeError("source down"), {"failed": True, "error": "timeout"}, {"sent": 1}])
    settled = threading.Event()

    def flaky(c: ServiceContext) -> object:
        outcome = next(outcomes, None)
        if outcome is None:  # the fourth run stays in flight until the service stops
            settled.set()
            c.stop.wait()
            return None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    jobs = [PeriodicJob("remind", Schedule(interval="1h"), flaky, writes_store=False),  # type: ignore[arg-type]
            *collect_jobs(ctx, [server_jobs])]
    service = Service(ctx, jobs, clock=fast_clock())  # type: ignore[arg-type]  # every hourly run due at once
    service.start()
    try:
        assert settled.wait(HANG_GUARD)
        for _ in range(600):  # until the server is listening; the bound only guards a hang
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                break
            except httpx.TransportError:
                ctx.stop.wait(0.1)
    finally:
        assert service.shutdown(timedelta(seconds=HANG_GUARD)) == []
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    runs = {(s.labels["job"], s.labels["outcome"]): s.value for s in samples if s.name == "clinicsync_job_runs_total"}
    assert runs[("remind", "ok")] == 1 and runs[("remind", "failed")] == 2
    assert values(samples, "clinicsync_job_consecutive_failures", "job")["remind"] == 0
    assert values(samples, "clinicsync_job_duration_seconds_count", "job")["remind"] == 3
    assert "remind" in values(samples, "clinicsync_job_last_success_timestamp_seconds", "job")
    assert values(samples, "clinicsync_job_running_seconds", "job")["remind"] >= 0  # in flight: a sample
    assert "serve" in values(samples, "clinicsync_job_running_seconds", "job")
