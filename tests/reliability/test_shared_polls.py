"""Issue 60, end to end: two `clinicsync run` processes on one PostgreSQL store share the
sources' polls by lease (each source polled once per interval in all, not once per worker), and
when one is killed (SIGKILL) the other polls all the sources from then on. Real processes and
a real clock (2 s intervals, ~25 s): out of the main suite, where tests/sync/service/test_polls.py
proves the same with simulated clocks (run: pytest -m soak)."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.tables import SYNC_RUNS
from tests.reliability.harness import Child, wait_for, write_drop, write_settings

pytestmark = [pytest.mark.soak, pytest.mark.postgres]
SOURCES, INTERVAL = 6, 2


def _polls_since(url: str, since: datetime) -> Counter[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return Counter(connection.execute(select(SYNC_RUNS.c.connector)
                                              .where(SYNC_RUNS.c.started_at >= since)).scalars())
    finally:
        engine.dispose()


def _polled_by(child: Child) -> int:
    return len(re.findall(r'"event": "job.finished"[^\n]*"job": "poll:', child.stderr + child.stdout))


def test_two_workers_share_the_polls_and_a_killed_one_loses_its_sources(postgres_url: str, tmp_path: Path) -> None:
    connectors = []
    for n in range(SOURCES):
        write_drop(tmp_path / f"drop{n}", "a.csv", 5, prefix=f"S{n}-")
        connectors.append({"name": f"s{n}", "drop_dir": str(tmp_path / f"drop{n}"),
                           "schedule": {"interval": f"{INTERVAL}s"}})
    config = write_settings(tmp_path, postgres_url, connectors)
    assert Child(config, "db", "upgrade", tag="upgrade").wait() == 0
    a, b = Child(config, "run", tag="a"), Child(config, "run", tag="b")
    try:
        begun = datetime.now(UTC)
        assert wait_for(lambda: sum(_polls_since(postgres_url, begun).values()) >= 2 * SOURCES, a)
        since = datetime.now(UTC)
        time.sleep(5 * INTERVAL)
        window = _polls_since(postgres_url, since)
        # Five slots in the window, one poll each (one more at an edge): never one per worker (ten).
        assert set(window) == {f"s{n}" for n in range(SOURCES)}
        assert all(4 <= count <= 6 for count in window.values()), window
        assert _polled_by(a) > 0 and _polled_by(b) > 0, "one worker did every poll"

        a.kill()  # SIGKILL: its leases are left to run out (one interval)
        after = datetime.now(UTC) + timedelta(seconds=INTERVAL + 1)
        time.sleep(INTERVAL + 1 + 4 * INTERVAL)
        taken = _polls_since(postgres_url, after)
        assert all(taken[f"s{n}"] >= 3 for n in range(SOURCES)), taken
    finally:
        for child in (a, b):
            if child.running():
                child.process.send_signal(signal.SIGTERM)
                child.wait(30)
