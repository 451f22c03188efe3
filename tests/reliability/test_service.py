"""`clinicsync run` as a process: it runs the embedded demo continuously, refuses a second
worker on the same SQLite file, and SIGTERM stops it cleanly (exit 0), ending a poll in
flight after its last stored batch."""

from __future__ import annotations

import json
import signal
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from clinicsync.sync.cli.demo import generate_rows, write_csv
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.locks import sqlite_worker_lock
from tests.conftest import ROOT
from tests.reliability.harness import Child, Probe, assert_consistent, wait_for, write_drop, write_settings


def _demo_settings(folder: Path) -> Path:
    text = (ROOT / "settings.yaml").read_text()
    config = folder / "settings.yaml"
    drop = folder / "drop"
    write_csv(generate_rows(date.today() + timedelta(days=1)), drop / "appointments.csv")
    config.write_text(text.replace("drop_dir: examples/drop", f"drop_dir: {drop}")
                      .replace("${CLINICSYNC_STORE_URL:-sqlite:///.clinicsync/clinicsync.db}",
                               "sqlite:///.clinicsync/clinicsync.db"))
    return config


def _appointments(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return int(connection.execute("SELECT count(*) FROM appointment").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_run_on_the_embedded_default_until_sigterm(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    config = _demo_settings(tmp_path)
    database = tmp_path / ".clinicsync" / "clinicsync.db"
    service = Child(config, "run", tag="service")
    try:
        assert wait_for(lambda: _appointments(database) > 200, service), service.stderr
        _, _, err = cli(config)("run", expect=2)  # a second worker on the same SQLite file
        assert "already using the SQLite store" in " ".join(err.split())
        service.process.send_signal(signal.SIGTERM)
        assert service.wait() == 0, service.stderr
    finally:
        if service.running():
            service.kill()
    events = [json.loads(line) for line in service.stderr.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names[0] == "service.started" and "job.finished" in names
    assert events[-1] == {**events[-1], "event": "service.stopped", "clean": True}
    assert any(e["event"] == "service.stopping" and e["signal"] == "SIGTERM" for e in events)
    engine = make_engine(f"sqlite:///{database}")
    with sqlite_worker_lock(engine):  # released when the process exited
        pass
    engine.dispose()


@pytest.mark.postgres
def test_sigterm_ends_a_poll_in_flight_after_its_stored_batch(postgres_url: str, tmp_path: Path) -> None:
    drop = write_drop(tmp_path / "drop", "big.csv", 2000, prefix="T-")
    config = write_settings(tmp_path, postgres_url, [{"name": "emr", "drop_dir": str(tmp_path / "drop"),
                                                      "batch_size": 80}])
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    probe = Probe(postgres_url)
    service = Child(config, "run", tag="service")
    try:
        assert wait_for(lambda: probe.count("emr") >= 160, service)
        service.process.send_signal(signal.SIGTERM)
        assert service.wait() == 0, service.stderr
        rows = assert_consistent(probe, "emr", drop)
        status, error = probe.rows("SELECT status, error FROM syncrun WHERE connector = 'emr'")[0]
        if rows < len(drop.ids):  # it was stopped mid-file: recorded, and resumable from the cursor
            assert status == "failed" and "shutting down" in error
        assert probe.running_runs("emr") == 0
    finally:
        if service.running():
            service.kill()
        probe.close()
