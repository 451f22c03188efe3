"""End to end, for groups of practices: two `clinicsync run` processes on one PostgreSQL store share the
sources' polls by lease (each source polled once per interval in all, not once per worker), and
when one is killed (SIGKILL) the other polls all the sources from then on. Real processes and
a real clock (2 s intervals, ~25 s): out of the main suite, where tests/sync/service/test_polls.py
proves the same with simulated clocks (run: pytest -m soak)."""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store
from tests.reliability.harness import Child, wait_for, write_drop, write_settings

pytestmark = [pytest.mark.soak, pytest.mark.postgres]
SOURCES, INTERVAL = 6, 2
NAMES = [f"s{n}" for n in range(SOURCES)]


def _polls(url: str) -> Counter[str]:
    """Each source's polls so far, as the run history records them (RunLog.polls_recorded:
    consecutive idle polls share one row, which counts them)."""
    store = Store(make_engine(url))
    try:
        return Counter(store.polls_recorded(NAMES))
    finally:
        store.engine.dispose()


def _polls_between(before: Counter[str], after: Counter[str]) -> Counter[str]:
    return Counter({name: after[name] - before[name] for name in after if after[name] > before[name]})


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
        assert wait_for(lambda: sum(_polls(postgres_url).values()) >= 2 * SOURCES, a)
        since = _polls(postgres_url)
        time.sleep(5 * INTERVAL)
        window = _polls_between(since, _polls(postgres_url))
        # Five slots in the window, one poll each (one more at an edge): never one per worker (ten).
        assert set(window) == set(NAMES)
        assert all(4 <= count <= 6 for count in window.values()), window
        assert _polled_by(a) > 0 and _polled_by(b) > 0, "one worker did every poll"

        a.kill()  # SIGKILL: its leases are left to run out (one interval)
        time.sleep(INTERVAL + 1)
        after = _polls(postgres_url)
        time.sleep(4 * INTERVAL)
        taken = _polls_between(after, _polls(postgres_url))
        assert all(taken[f"s{n}"] >= 3 for n in range(SOURCES)), taken
    finally:
        for child in (a, b):
            if child.running():
                child.process.send_signal(signal.SIGTERM)
                child.wait(30)
