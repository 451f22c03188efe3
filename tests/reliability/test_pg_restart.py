"""The store's server restarts in the middle of a run (``pg_ctlcluster … restart``): the run
fails cleanly or recovers, nothing is half-written, and the next run completes the import
exactly once.

Restarting the shared PostgreSQL would break every other test running at the same time, so
this runs only when ``CLINICSYNC_PG_RESTART=1``: `.ci/run` runs it on its own after the suite.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import orjson
import psycopg
import pytest

from clinicsync.sync.store.db import make_engine, upgrade
from tests.conftest import POSTGRES_URL
from tests.reliability.harness import Child, Probe, assert_consistent, wait_for, write_drop, write_settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(os.environ.get("CLINICSYNC_PG_RESTART") != "1",
                       reason="restarts the shared PostgreSQL server: run alone with CLINICSYNC_PG_RESTART=1"),
]

ROWS, BATCH = 3000, 60


def _restart_postgres() -> None:
    """A clean restart. The checkpoint first leaves the shutdown little to write: under heavy
    I/O a shutdown checkpoint took 375 s, past pg_ctl's 60 s wait, and the cluster was left
    stopped for whatever ran next. pg_ctl waits up to 300 s (``-t``), and a restart that fails
    all the same starts the cluster before the failure is raised."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("CHECKPOINT")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    try:
        subprocess.run([*command, "restart", "--", "-t", "300"], check=True, capture_output=True, timeout=330)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        subprocess.run([*command, "start"], capture_output=True, timeout=330)
        raise
    deadline = time.monotonic() + 60
    while True:  # a hang guard only
        try:
            with psycopg.connect(POSTGRES_URL, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_postgres_restarted_mid_run(postgres_url: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    drop = write_drop(tmp_path / "drop", "export.csv", ROWS, prefix="R-")
    config = write_settings(tmp_path, postgres_url, [{"name": "emr", "drop_dir": str(tmp_path / "drop"),
                                                      "batch_size": BATCH}])
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    probe = Probe(postgres_url)
    try:
        child = Child(config, "sync", "--once", "--json", tag="restart")
        hit = wait_for(lambda: probe.count("emr") >= ROWS // 5, child)
        assert hit, "the run ended before the restart could happen (make ROWS larger)"
        _restart_postgres()
        probe.engine.dispose()  # its pooled connections died with the server
        code = child.wait()
        assert "Traceback" not in child.stderr, child.stderr
        assert code in (0, 1), (code, child.stderr[-2000:])
        if code == 1:  # failed cleanly: says so, names no patient data
            assert "Patient" not in child.stdout and "+1212555" not in child.stdout
        stored = assert_consistent(probe, "emr", drop)  # no half-written batch, cursor matches the data
        assert stored >= ROWS // 5
        cli(config)("sync", "--once", "--json")
        assert assert_consistent(probe, "emr", drop) == ROWS
        assert set(probe.ids("emr")) == drop.valid_ids
        assert probe.running_runs("emr") == 0, "a run is still marked running after the next run completed"
        report = orjson.loads(child.stdout) if child.stdout.strip() else None
        assert report is None or "emr" in report["connectors"]
    finally:
        probe.close()
