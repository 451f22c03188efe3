"""Several workers on one PostgreSQL store: each connector is polled by one of them at a
time (an advisory lock), so every row is fetched and imported exactly once."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from clinicsync.sync.store.db import make_engine, upgrade
from tests.reliability.harness import Child, Probe, assert_consistent, write_drop, write_settings

pytestmark = pytest.mark.postgres

ROWS, BATCH = 800, 80
CONNECTORS = ("north", "south", "east")


def test_two_concurrent_sync_once_workers_split_the_connectors(postgres_url: str, tmp_path: Path) -> None:
    drops = {name: write_drop(tmp_path / name, f"{name}.csv", ROWS, prefix=f"{name}-") for name in CONNECTORS}
    config = write_settings(tmp_path, postgres_url, [
        {"name": name, "drop_dir": str(tmp_path / name), "batch_size": BATCH} for name in CONNECTORS])
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    workers = [Child(config, "sync", "--once", "--json", tag=f"worker{n}") for n in range(2)]
    codes = [w.wait() for w in workers]
    assert codes == [0, 0], [w.stderr for w in workers]
    reports = [w.report()["connectors"] for w in workers]
    probe = Probe(postgres_url)
    try:
        for name, drop in drops.items():
            polls = [r[name] for r in reports if r[name]["skipped"] is None]
            skips = [r[name] for r in reports if r[name]["skipped"] is not None]
            assert polls, f"nobody polled {name}"
            # Never read twice: a worker that came after the first found nothing new.
            assert sum(p["fetched"] for p in polls) == ROWS
            assert sum(p["created"] for p in polls) == len(drop.valid_ids)
            assert all("another worker" in s["skipped"] for s in skips)
            assert assert_consistent(probe, name, drop) == ROWS
            runs = probe.rows("SELECT started_at, finished_at FROM syncrun WHERE connector = :c "
                              "ORDER BY started_at", c=name)
            for earlier, later in itertools.pairwise(runs):
                assert earlier.finished_at <= later.started_at, f"two polls of {name} overlapped"
    finally:
        probe.close()
