"""kill -9 at random points of a sync, restart, and check the store's invariants
(shared/DESIGN.md: a cursor never advances past data that was not stored; nothing is
half-written or duplicated; every row is eventually imported once)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import orjson
import pytest

from clinicsync.sync.store.db import make_engine, upgrade
from tests.reliability.harness import (
    Child,
    Probe,
    assert_consistent,
    soak_after_first,
    wait_for,
    write_drop,
    write_settings,
)

pytestmark = pytest.mark.postgres

ROWS, BATCH = 2000, 80  # 25 committed batches per complete import
SEEDS = [int(s) for s in os.environ.get("CLINICSYNC_CRASH_SEEDS", "11,12").split(",")]
KILLS_PER_SEED = int(os.environ.get("CLINICSYNC_CRASH_KILLS", "2"))


def _migrated(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


@pytest.mark.parametrize("seed", soak_after_first(SEEDS))
def test_kill_9_during_sync_then_restart(seed: int, postgres_url: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    drop = write_drop(tmp_path / "drop", "export.csv", ROWS, prefix=f"S{seed}-")
    config = write_settings(tmp_path, postgres_url, [{
        "name": "emr", "drop_dir": str(tmp_path / "drop"), "archive_dir": str(tmp_path / "archive"),
        "batch_size": BATCH}])
    _migrated(postgres_url)
    probe = Probe(postgres_url)
    valid = len(drop.valid_ids)
    killed_mid_run = 0
    try:
        for _ in range(KILLS_PER_SEED):
            before = probe.count("emr")
            target = before + rng.randint(1, max(1, (valid - before) // 3))
            child = Child(config, "sync", "--once", "--json", tag="killed")
            if wait_for(lambda target=target: probe.count("emr") >= target, child):
                time.sleep(rng.uniform(0, 0.05))  # land anywhere: mid-batch, mid-commit, between batches
                killed_mid_run += child.running()
                child.kill()
            else:
                assert child.wait() == 0, child.stderr
            assert_consistent(probe, "emr", drop)
        cli(config)("sync", "--once", "--json")  # the restart, to completion (in-process: same code path)
        assert assert_consistent(probe, "emr", drop) == ROWS
        assert set(probe.ids("emr")) == drop.valid_ids
        cursor = probe.cursor("emr")
        assert cursor is not None and cursor["current"] is None and drop.digest in cursor["done"]
        assert probe.running_runs("emr") == 0, "a killed run was left `running`"
        assert not drop.path.exists() and (tmp_path / "archive" / "export.csv").exists()
        assert list((tmp_path / "archive").iterdir()) == [tmp_path / "archive" / "export.csv"]
        _, out, _ = cli(config)("sync", "--once", "--json")
        assert orjson.loads(out)["connectors"]["emr"]["fetched"] == 0
    finally:
        probe.close()
    assert killed_mid_run >= 1, "no kill landed while the sync was running"


def test_kill_9_during_snapshot_rereads_whole_file(postgres_url: str, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A snapshot's cursor only moves at the end of the file: a restart rereads it whole,
    and rows already stored are recognized as unchanged (no second `created` event)."""
    drop = write_drop(tmp_path / "drop", "snapshot.csv", 1500, prefix="N-")
    config = write_settings(tmp_path, postgres_url, [{
        "name": "pms", "drop_dir": str(tmp_path / "drop"), "mode": "snapshot", "batch_size": BATCH}])
    _migrated(postgres_url)
    probe = Probe(postgres_url)
    try:
        child = Child(config, "sync", "--once", "--json", tag="killed")
        killed = wait_for(lambda: probe.count("pms") >= len(drop.valid_ids) // 2, child)
        child.kill()
        assert probe.cursor("pms") is None or not killed
        ids = probe.ids("pms")
        assert len(ids) == len(set(ids)) and set(ids) <= drop.valid_ids
        _, out, _ = cli(config)("sync", "--once", "--json")
        report = orjson.loads(out)["connectors"]["pms"]
        assert report["created"] + report["unchanged"] == len(drop.valid_ids) and report["deleted"] == 0
        assert set(probe.ids("pms")) == drop.valid_ids
        events = probe.events("pms")
        assert sorted(kind for _a, kind, _v in events) == ["created"] * len(drop.valid_ids)
        per_run: dict[str, list[str]] = {}
        for run_id, position, _reason in probe.quarantine("pms"):
            per_run.setdefault(run_id, []).append(position)
        assert all(len(p) == len(set(p)) for p in per_run.values())
        assert probe.running_runs("pms") == 0
    finally:
        probe.close()
