"""What grows with time rather than with visits is bounded by the retention pass, on
SQLite and PostgreSQL:

- a service whose sources only push runs the retention pass too: on main only a poll's run
  (``sync_once``) did, so `clinicsync run` with a REST API, webhooks or MLLP alone kept every
  push's run row (a run a push: ~525,000 a year at one a minute) and never forgot a patient;
- the stages' progress rows: a stage that never runs again (a removed source's import) and a
  row a killed worker left `running` go after a week, each stage's newest row aside;
- an outbox consumer whose stage is switched off holds no events and shows no lag; switched
  back on it reads from its offset what is left, the changes of the visits still in the window.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.connectors.rest_api import key_digest
from clinicsync.sync.checks.stalls import find_stalls
from clinicsync.sync.config.settings import Settings, load_settings
from clinicsync.sync.ingest.engine import sync_once
from clinicsync.sync.runs.run_progress import STAGES, running_stages
from clinicsync.sync.service.pipeline import run_stages
from clinicsync.sync.store.model import Appointment, SyncRun
from clinicsync.sync.store.outbox import CONSUMERS, EVENTS, read_events
from clinicsync.sync.store.store import Store
from tests.conftest import SettingsFactory
from tests.sync.test_retention import seed

A = Appointment.__table__  # type: ignore[attr-defined]
RUNS = SyncRun.__table__  # type: ignore[attr-defined]
NOW = utcnow()
KEY = "csk_test-history-0123456789abcdefghijklmnopqrs"


def push_only(write_settings: SettingsFactory, extra: str = "") -> Settings:
    return load_settings(
        write_settings(
            connectors=f"""
- name: emr
  kind: rest_api
  api_keys: [{{name: site, sha256: {key_digest(KEY)}}}]
""",
            extra=extra,
        )
    )


def test_a_service_whose_sources_only_push_prunes_its_runs_and_forgets_old_visits(
    store: Store, write_settings: SettingsFactory
) -> None:
    settings = push_only(write_settings)
    ids = seed(store)  # visits of source "emr": V-old ended 400 days ago
    with store.engine.begin() as c:
        c.execute(
            insert(RUNS),
            [
                {
                    "run_id": f"push-{days}",
                    "connector": "emr",
                    "status": "ok",
                    "counts": "{}",
                    "started_at": NOW - timedelta(days=days),
                    "finished_at": NOW - timedelta(days=days),
                }
                for days in (200, 150, 100, 5, 1)
            ],
        )
    run_stages(settings, Store.on(store.engine, settings.store))  # the service's `stages:pushed` job
    with store.engine.connect() as c:
        runs = set(c.execute(select(RUNS.c.run_id).where(RUNS.c.run_id.like("push-%"))).scalars())
        old = c.execute(select(A.c.patient_ref, A.c.forgotten_at).where(A.c.id == ids["V-old"])).one()
    assert runs == {"push-5", "push-1"}  # past store.run_history_days (90) they go, as a poll's runs do
    assert old.patient_ref is None and old.forgotten_at is not None  # store.patient_data_days (365)


def stage_row(run_id: str, stage: str, status: str, days: float, heartbeat_days: float | None = None) -> dict[str, Any]:
    started = NOW - timedelta(days=days)
    # A heartbeat given is counted back from the real time of the insert, not from NOW (read at
    # collection): a suite that takes longer than run_progress.STALE_AFTER after collection made a
    # "still beating" row stale (failed twice in loaded fresh-clone runs).
    beat = NOW - timedelta(days=days) if heartbeat_days is None else utcnow() - timedelta(days=heartbeat_days)
    return {
        "run_id": run_id,
        "stage": stage,
        "status": status,
        "rows": 1,
        "host": "gone-host",
        "pid": 1,
        "started_at": started,
        "heartbeat_at": beat,
        "finished_at": None if status == "running" else beat,
    }


def test_the_stages_rows_of_a_stage_that_never_runs_again_and_of_killed_workers_go_after_a_week(
    store: Store, write_settings: SettingsFactory, drop_dir: Path
) -> None:
    settings = load_settings(
        write_settings(f"- name: emr\n  kind: csv\n  mapping: csv_default\n  drop_dir: {drop_dir}\n")
    )
    with store.engine.begin() as c:
        c.execute(
            insert(STAGES),
            [
                stage_row("r1", "import removed", "ok", 30),
                stage_row("r2", "import removed", "ok", 20),
                stage_row("r3", "import removed", "failed", 9),  # its newest: it never runs again
                stage_row("r4", "calendar", "running", 40),  # a worker killed mid-stage, weeks ago
                stage_row("r5", "calendar", "ok", 10),
                stage_row("r6", "calendar", "failed", 2),
                stage_row("r7", "reminders", "running", 8, heartbeat_days=0),  # still beating: alive
                stage_row("r8", "reminders", "ok", 1),
            ],
        )
    sync_once(settings, Store.on(store.engine, settings.store))
    with store.engine.connect() as c:
        left = {(r.run_id, r.stage) for r in c.execute(select(STAGES.c.run_id, STAGES.c.stage))}
    assert left == {("r3", "import removed"), ("r6", "calendar"), ("r7", "reminders"), ("r8", "reminders")}
    # what `status`, the stalls and the gauges read is kept: each stage's newest row
    assert [s.subject for s in find_stalls(store, settings) if s.kind == "stage_failed"] == ["calendar"]
    assert [a.run_id for a in running_stages(store)] == ["r7"]


def events_of(store: Store) -> list[int]:
    with store.engine.connect() as c:
        return sorted(c.execute(select(EVENTS.c.id)).scalars())


def test_a_consumer_switched_off_holds_no_events_and_reads_what_is_left_when_switched_on(
    store: Store, write_settings: SettingsFactory
) -> None:
    """The waiting list was used, then switched off months ago: its offset (1) stays. The old
    visit's events (2, 3) go with its patient data though the waitlist never read them; the
    recent visit's (4) and the newest stay. Switched back on, it reads 4 and 5: a change of a
    visit still in the window is not lost, and a visit forgotten brings nothing to do."""
    off = push_only(write_settings)  # waitlist.enabled: false by default
    ids = seed(store)
    with store.engine.begin() as c:
        changes = (
            ("V-recent", "created"),
            ("V-old", "created"),
            ("V-old", "cancelled"),
            ("V-recent", "cancelled"),
            ("V-back-ahead", "created"),
        )
        c.execute(
            insert(EVENTS),
            [
                {
                    "id": n,
                    "appointment_id": ids[ext],
                    "kind": kind,
                    "version": 1,
                    "payload": "{}",
                    "created_at": NOW - timedelta(days=100 - n),
                }
                for n, (ext, kind) in enumerate(changes, 1)
            ],
        )
        c.execute(
            insert(CONSUMERS),
            [
                {"consumer": "reminders", "last_event_id": 5, "updated_at": NOW},
                {"consumer": "waitlist", "last_event_id": 1, "updated_at": NOW},
            ],
        )
    assert not [s for s in find_stalls(store, off) if s.kind == "outbox_lag"]  # off on purpose: no lag
    run_stages(off, Store.on(store.engine, off.store))
    assert events_of(store) == [1, 4, 5]

    on = push_only(write_settings, extra="waitlist:\n  enabled: true\n")
    assert [s.subject for s in find_stalls(store, on) if s.kind == "outbox_lag"] == ["waitlist"]
    with store.engine.connect() as c:
        assert [(e.id, e.kind) for e in read_events(c, 1)] == [(4, "cancelled"), (5, "created")]


def test_a_consumer_switched_on_holds_the_events_it_has_not_read(store: Store, write_settings: SettingsFactory) -> None:
    """The same store with the waiting list on: nothing it has not read goes."""
    from clinicsync.sync.store.tables import live_consumers  # here: the module's tests also run on main's code

    on = push_only(write_settings, extra="waitlist:\n  enabled: true\n")
    ids = seed(store)
    with store.engine.begin() as c:
        c.execute(
            insert(EVENTS),
            [
                {
                    "id": n,
                    "appointment_id": ids[ext],
                    "kind": "created",
                    "version": 1,
                    "payload": "{}",
                    "created_at": NOW - timedelta(days=50),
                }
                for n, ext in enumerate(("V-old", "V-old", "V-recent"), 1)
            ],
        )
        c.execute(
            insert(CONSUMERS),
            [
                {"consumer": "reminders", "last_event_id": 3, "updated_at": NOW},
                {"consumer": "waitlist", "last_event_id": 1, "updated_at": NOW},
            ],
        )
    Store.on(store.engine, on.store).forget_patient_data(NOW, consumers=live_consumers(on))
    assert events_of(store) == [2, 3]


@pytest.mark.mariadb
def test_the_stages_rows_are_pruned_on_mariadb(mariadb_store: Store) -> None:
    """The same prune on MySQL/MariaDB (the stage names by a recursive CTE, then a probe each)."""
    from clinicsync.sync.runs.run_progress import prune_stages  # here: the module's tests also run on main's code

    with mariadb_store.engine.begin() as c:
        c.execute(
            insert(STAGES),
            [
                stage_row("r1", "import removed", "ok", 30),
                stage_row("r2", "import removed", "failed", 9),
                stage_row("r3", "calendar", "running", 40),
                stage_row("r4", "calendar", "ok", 2),
            ],
        )
    assert prune_stages(mariadb_store) == 2
    with mariadb_store.engine.connect() as c:
        assert set(c.execute(select(STAGES.c.run_id)).scalars()) == {"r2", "r4"}
