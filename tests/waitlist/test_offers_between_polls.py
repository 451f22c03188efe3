"""Issue 58: under `clinicsync run`, a "No thanks" reaches the next patient within a minute
whatever the connectors' poll schedule (5 minutes by default), in simulated time: the jobs the
service would run (sync/service/jobs.py) are asked when each is next due after the decline,
and only those due within 60 s are run, at that moment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine

from clinicsync.common.schedule import DEFAULT_POLL
from clinicsync.connectors.csv_drop import CsvDropSettings
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.responses.record import handle_reply
from clinicsync.sync.service.jobs import PeriodicJob, ServiceContext, collect_jobs, polled_sources
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.accept import decline
from clinicsync.sync.waitlist.stage import run_waitlist
from tests.sync.reminders.conftest import SettingsMaker
from tests.waitlist.test_offers import DAY, PHONE, make, offers, texts, waiting_patients


def test_a_declined_offer_reaches_the_next_patient_within_a_minute_under_run(
        store: Store, reminder_settings: SettingsMaker, tmp_path: Path) -> None:
    settings: Settings = make(reminder_settings, "sequential")
    (tmp_path / "drop").mkdir()
    source = CsvDropSettings(name="c1", kind="csv", mapping="csv_default", drop_dir=tmp_path / "drop")  # 5-min poll
    settings = settings.model_copy(update={"connectors": [source]})
    assert source.schedule == DEFAULT_POLL
    ids = waiting_patients(store)
    handle_reply(settings, store, "sms", PHONE, "cancel", "SM1", DAY)
    run_waitlist(settings, store, DAY)  # a poll's stage: W2 is offered the slot
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550202"]

    ctx = ServiceContext(settings, store)
    jobs = [job for job in collect_jobs(ctx) if isinstance(job, PeriodicJob)]
    # every job last ran at DAY (the polls with their stages too); W2 says no thanks 10 s later
    declined_at = DAY + timedelta(seconds=10)
    assert decline(store.engine, offers(store)[ids["W2"]].id, declined_at) == "declined"
    due = {job.name: job.schedule.next_due(DAY, declined_at, settings.clinic.timezone) for job in jobs}
    soon = sorted((at, job.name) for job in jobs if (at := due[job.name]) <= declined_at + timedelta(seconds=60))
    polls = {source.name: source.schedule.slot_after(DAY, declined_at, settings.clinic.timezone)
             for source in polled_sources(ctx)}
    assert polls == {"c1": DAY + timedelta(minutes=5)}  # the poll (and its stages) is minutes away
    for at, name in soon:
        with time_machine.travel(at, tick=False):
            next(job for job in jobs if job.name == name).run(ctx)
        if len(texts(tmp_path)) > 1:
            break
    assert [m["to"] for m in texts(tmp_path)] == ["+12125550202", "+12125550201"]  # W1, within the minute
    assert at - declined_at <= timedelta(seconds=60)
