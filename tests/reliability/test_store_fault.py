"""The store fails in the middle of a run: every connection of the run is terminated on
the server (what a PostgreSQL restart looks like from the client; the server itself is
shared with other tests, so it is not restarted). The run fails cleanly or recovers,
nothing is half-written, and the next run completes the import exactly once."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import orjson
import psycopg
import pytest

from clinicsync.sync.store.db import make_engine, upgrade
from tests.conftest import POSTGRES_URL
from tests.reliability.harness import Child, Probe, assert_consistent, wait_for, write_drop, write_settings

pytestmark = pytest.mark.postgres

ROWS, BATCH = 2000, 80


def _terminate(application: str) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = %s AND pid <> pg_backend_pid()", (application,)).fetchall()
    return len(rows)


@pytest.mark.parametrize("seed", [5])
def test_connections_killed_mid_run(seed: int, postgres_url: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    application = f"cs_fault_{uuid.uuid4().hex[:10]}"
    url = f"{postgres_url}&application_name={application}"
    drop = write_drop(tmp_path / "drop", "export.csv", ROWS, prefix="F-")
    config = write_settings(tmp_path, url, [{"name": "emr", "drop_dir": str(tmp_path / "drop"),
                                             "batch_size": BATCH}])
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    probe = Probe(postgres_url)
    try:
        child = Child(config, "sync", "--once", "--json", tag="fault")
        target = rng.randint(BATCH, ROWS // 2)
        hit = wait_for(lambda: probe.count("emr") >= target, child)
        terminated = _terminate(application) if hit else 0
        code = child.wait()
        assert "Traceback" not in child.stderr, child.stderr
        report = orjson.loads(child.stdout)["connectors"]["emr"]
        if terminated:
            assert code == 1 or report["error"] is None, (code, report)
            assert report["fetched"] >= BATCH, report  # what it stored before the fault is reported
        if report["error"] is not None:
            assert code == 1
            assert "Patient" not in report["error"] and "+1212555" not in report["error"]  # no row values
        assert probe.running_runs("emr") == 0, "the failed run was not recorded as failed"
        assert assert_consistent(probe, "emr", drop) <= ROWS
        cli(config)("sync", "--once", "--json")
        assert assert_consistent(probe, "emr", drop) == ROWS
        assert set(probe.ids("emr")) == drop.valid_ids
        assert probe.running_runs("emr") == 0
    finally:
        probe.close()
    assert terminated >= 1, "the fault was not injected while the run was going on"
