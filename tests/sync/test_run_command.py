"""`clinicsync run` refusals (exit 2), and the poll lock as `sync --once` sees it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select

from clinicsync.common.types import utcnow
from clinicsync.sync.store.locks import poll_lock, sqlite_worker_lock
from clinicsync.sync.store.model import SyncRun
from clinicsync.sync.store.store import Store
from tests.reliability.harness import write_drop

RUNS = SyncRun.__table__  # type: ignore[attr-defined]


def _connectors(drop_dir) -> str:  # type: ignore[no-untyped-def]
    return "".join(f"""
        - name: {name}
          kind: csv
          mapping: csv_default
          drop_dir: {drop_dir / name}
          settle_seconds: 0
    """ for name in ("emr", "lab"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_run_refuses_a_second_worker_on_one_sqlite_file(write_settings, cli, store: Store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    config = write_settings(_connectors(drop_dir))
    with sqlite_worker_lock(store.engine):
        _, _, err = cli(config)("run", expect=2)
    assert "another `clinicsync run`" in err and "SQLite supports one worker" in " ".join(err.split())


@pytest.mark.parametrize(("args", "problem"), [
    (["--connector", "nope"], "no connector named nope"),
])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_run_refuses_what_it_cannot_do(write_settings, cli, drop_dir, args, problem) -> None:  # type: ignore[no-untyped-def]
    _, _, err = cli(write_settings(_connectors(drop_dir)))("run", *args, expect=2)
    assert problem in err


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_run_with_nothing_to_do_says_so(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    _, _, err = cli(write_settings(extra="reminders: {enabled: false}"))("run", expect=2)
    assert "nothing to run" in err


def test_a_bad_shutdown_grace_names_the_key(write_settings, cli) -> None:  # type: ignore[no-untyped-def]
    _, _, err = cli(write_settings(extra="service:\n  shutdown_grace: soon\n"))("config", "validate", expect=2)
    assert "service.shutdown_grace" in err and "bad duration" in err


def test_sync_once_skips_a_connector_another_worker_is_polling(write_settings, cli, store: Store,  # type: ignore[no-untyped-def]
                                                               drop_dir) -> None:
    for name in ("emr", "lab"):
        write_drop(drop_dir / name, "a.csv", 30, prefix=name)
    run = cli(write_settings(_connectors(drop_dir)))
    with poll_lock(store.engine, "emr") as held:
        assert held is not None
        _, out, _ = run("sync", "--once", "--json")  # exit 0: skipping is not failing
        report = json.loads(out)["connectors"]
        assert "another worker" in report["emr"]["skipped"] and report["emr"]["fetched"] == 0
        assert report["lab"]["skipped"] is None and report["lab"]["created"] == 30
        _, text, _ = run("sync", "--once")
        assert "another worker" in text
    _, out, _ = run("sync", "--once", "--json")
    assert json.loads(out)["connectors"]["emr"]["created"] == 30


def test_runs_a_dead_worker_left_running_are_closed(write_settings, cli, store: Store, drop_dir) -> None:  # type: ignore[no-untyped-def]
    with store.engine.begin() as connection:
        connection.execute(insert(RUNS).values(run_id="dead", connector="emr", status="running", counts="{}",
                                               started_at=utcnow()))
    (drop_dir / "emr").mkdir()
    (drop_dir / "lab").mkdir()
    cli(write_settings(_connectors(drop_dir)))("sync", "--once")
    with store.engine.connect() as connection:
        row = connection.execute(select(RUNS.c.status, RUNS.c.error).where(RUNS.c.run_id == "dead")).one()
    assert row.status == "failed" and row.error.startswith("abandoned")


def test_status_counts_the_failed_runs_since_the_last_good_one(write_settings, cli, store: Store) -> None:  # type: ignore[no-untyped-def]
    rows = [("a", "emr", "failed"), ("b", "emr", "ok"), ("c", "emr", "failed"), ("d", "emr", "failed"),
            ("e", "lab", "failed"), ("f", "fhir", "ok")]
    with store.engine.begin() as connection:
        for run_id, connector, status in rows:
            connection.execute(insert(RUNS).values(run_id=run_id, connector=connector, status=status,
                                                   counts="{}", started_at=utcnow(), finished_at=utcnow()))
    _, out, _ = cli(write_settings())("status", "--json")
    failing = {row["connector"]: row["failing_runs"] for row in json.loads(out)["connectors"]}
    assert failing == {"emr": 2, "lab": 1, "fhir": 0}


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_pool_too_small_for_the_jobs_is_warned_about(store: Store) -> None:
    from structlog.testing import capture_logs

    from clinicsync.sync.cli.run import _check_pool
    from clinicsync.sync.config.settings import Settings

    small = Settings.model_validate({"store": {"pool_size": 2, "max_overflow": 1}})
    with capture_logs() as logs:
        _check_pool(small, store, needed=7)
        _check_pool(Settings(), store, needed=7)
    assert [(e["event"], e["suggested"]) for e in logs] == [("store.pool_small", 7)]


def test_the_connections_needed_follow_the_poll_pool_not_the_sources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """200 sources need no more connections than 4: the pool polls poll_workers at a time
    (issue 60: the advice was 2 x sources + 2, which no pool could hold for 200)."""
    from clinicsync.sync.config.settings import Settings, load_settings
    from clinicsync.sync.service.jobs import ServiceContext, ServiceOptions, collect_jobs, store_connections
    from clinicsync.sync.store.db import make_engine
    from tests.reliability.harness import write_settings

    def needed(sources: int, serve: bool) -> int:
        config = write_settings(tmp_path, f"sqlite:///{tmp_path}/s.db",
                                [{"name": f"s{n}", "drop_dir": str(tmp_path)} for n in range(sources)])
        ctx = ServiceContext(load_settings(config), Store(make_engine(f"sqlite:///{tmp_path}/s.db")),
                             ServiceOptions(serve=serve))
        return store_connections(ctx, collect_jobs(ctx))

    assert needed(200, serve=True) == needed(4, serve=True) == 2 * (4 + 4) + 1  # polls, stages, remind, settings, serve
    assert needed(2, serve=False) == 2 * (2 + 3) + 1
    defaults = Settings().store
    assert defaults.pool_size + defaults.max_overflow >= needed(200, serve=True)
