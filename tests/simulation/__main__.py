"""The soak: ``uv run --frozen python -m tests.simulation`` runs each seed of
CLINICSYNC_SIM_SEEDS (default 1-5) for CLINICSYNC_SIM_DAYS (default 365) with
CLINICSYNC_SIM_FAULTS (comma-separated fault names, ``none``, or ``combinable``, the
default) on CLINICSYNC_SIM_STORE (a store URL; default a SQLite file in a temporary folder),
prints each verdict, and exits 1 if any failed. A failure's report ends with the line that
replays it."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.simulation.faults import COMBINABLE, Fault
from tests.simulation.run import simulate
from tests.simulation.scenario import generate


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def _faults(text: str) -> frozenset[Fault]:
    if text == "combinable":
        return frozenset(COMBINABLE)
    return frozenset(Fault(name.strip()) for name in text.split(",") if name.strip() and name.strip() != "none")


def main() -> int:
    seeds = _seeds(os.environ.get("CLINICSYNC_SIM_SEEDS", "1-5"))
    days = int(os.environ.get("CLINICSYNC_SIM_DAYS", "365"))
    faults = _faults(os.environ.get("CLINICSYNC_SIM_FAULTS", "combinable"))
    store = os.environ.get("CLINICSYNC_SIM_STORE")
    failed = 0
    for seed in seeds:
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"sim-{seed}-") as folder:
            verdict = simulate(generate(seed, days, faults), store or f"sqlite:///{folder}/store.db", Path(folder))
        failed += not verdict.ok
        print(verdict.report() if not verdict.ok else
              f"ok   {verdict.scenario.describe()}: {verdict.expected} messages as expected, "
              f"calendars right at {verdict.calendar_checks} checks", flush=True)
        print(f"     {time.perf_counter() - began:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
