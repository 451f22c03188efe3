"""The clinic simulation's process as a long-lived service (`clinicsync run`): one process,
one store, every sync, dispatch, push and reply of the run, and the memory it keeps. Python's
``tracemalloc`` starts a day before the first measured day (tracing slows every allocation,
so the first days run untraced) and, at the first tick of each measured day, after a full
collection, counts the bytes still held that this process's own code allocated (the
simulation's driver, oracle and mailbag, which remember the whole run, left out).

``python -m tests.simulation.memory [days] [seed]`` prints the measured days and the lines that
grew most between them (docs/development.md, "Soak tests")."""

from __future__ import annotations

import gc
import sys
import tempfile
import tracemalloc
from datetime import datetime
from pathlib import Path

from tests.simulation.clinic import Worker
from tests.simulation.run import Driver, quiet_logs
from tests.simulation.scenario import FIRST_TICK, TZ, Scenario, generate

# Allocations of the simulation's own code (its folder) and of tracemalloc are not the service's.
SERVICE_ONLY = (tracemalloc.Filter(False, f"{Path(__file__).parent}/*"),
                tracemalloc.Filter(False, tracemalloc.__file__))


class MemoryDriver(Driver):
    """Driver with a tracemalloc snapshot of the service's allocations at the first tick of
    each of ``days`` (days since the first day, i.e. that many days done)."""

    def __init__(self, scenario: Scenario, store_url: str, folder: Path, days: tuple[int, ...]) -> None:
        super().__init__(scenario, store_url, folder)
        self.days = days
        self.snapshots: dict[int, tracemalloc.Snapshot] = {}
        self.started = False

    def after_tick(self, worker: Worker, now: datetime) -> None:
        local = now.astimezone(TZ)
        if local.time() != FIRST_TICK:
            return
        day = (local.date() - self.s.first_day).days
        if not self.started and day >= self.days[0] - 1:
            tracemalloc.start(1)
            self.started = True
        if day in self.days and day not in self.snapshots:
            gc.collect()
            self.snapshots[day] = tracemalloc.take_snapshot().filter_traces(SERVICE_ONLY)

    def held(self) -> dict[int, int]:
        """Bytes held at each measured day."""
        return {day: sum(trace.size for trace in snapshot.traces) for day, snapshot in sorted(self.snapshots.items())}


def measure(scenario: Scenario, folder: Path, days: tuple[int, ...]) -> MemoryDriver:
    """Run ``scenario`` on a SQLite store in ``folder``; the driver holds the snapshots."""
    quiet_logs()
    driver = MemoryDriver(scenario, f"sqlite:///{folder / 'store.db'}", folder, days)
    try:
        verdict = driver.run()
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    assert verdict.ok, verdict.report()
    return driver


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 61
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    days = tuple(sorted({10, total - 1, *(d for d in (20, 40, 60) if d < total)}))
    if total < 12:
        raise SystemExit("give 12 days or more: the first measured day is the tenth")
    with tempfile.TemporaryDirectory() as tmp:
        driver = measure(generate(seed, total), Path(tmp), days)
    held = driver.held()
    for day, size in held.items():
        print(f"day {day:3d}: {size / 1e3:9.1f} kB held")
    first, last = min(held), max(held)
    print(f"growth day {first} -> {last}: {(held[last] - held[first]) / 1e3:.1f} kB, "
          f"{(held[last] - held[first]) / (last - first) / 1e3:.1f} kB/day; lines that grew most:")
    for stat in driver.snapshots[last].compare_to(driver.snapshots[first], "lineno")[:20]:
        frame = stat.traceback[0]
        print(f"{stat.size_diff / 1e3:9.1f} kB {stat.count_diff:7d} blocks  {frame.filename}:{frame.lineno}")


if __name__ == "__main__":
    main()
