"""Issue 60: the CPU of one idle poll in `clinicsync run` (the service's poll job), at N sources.

    python -m bench.idle_poll 10 50 [--rounds 3]

N CSV sources of 100 rows each (one folder each) on a SQLite store in a temporary folder; each
source is imported once, then every source is polled ``rounds`` more times with nothing new.
The figure is the CPU time of this process (time.process_time: user + system of all its
threads, so waiting for a busy CPU does not count) of one round of N idle polls, divided by
N, the median of the rounds; the poll job is called directly (sync/service/jobs.py
``poll_connector_job``), as the service's poll thread does. When the service has a stages
job (issue 60 on), the CPU of one idle stages pass is measured too: it runs every 5 minutes
for all sources, not per poll. Run it against another checkout with PYTHONPATH=<its root>.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.harness import write_drop, write_settings


def measure(sources: int, rounds: int) -> tuple[float, float | None]:
    from clinicsync.sync.db import make_engine, upgrade
    from clinicsync.sync.service import jobs
    from clinicsync.sync.settings import load_settings
    from clinicsync.sync.store import Store

    folder = Path(tempfile.mkdtemp(prefix="idle-poll-"))
    connectors = []
    for n in range(sources):
        write_drop(folder / f"drop{n}", "a.csv", 100, prefix=f"S{n}-")
        connectors.append({"name": f"s{n}", "drop_dir": str(folder / f"drop{n}")})
    url = f"sqlite:///{folder / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    ctx = jobs.ServiceContext(load_settings(write_settings(folder, url, connectors)), Store(engine))
    names = [c["name"] for c in connectors]
    stages = getattr(jobs, "stages_job", None)
    for name in names:  # the first import, then one idle round to warm the caches
        jobs.poll_connector_job(ctx, name)
    if stages is not None:
        stages(ctx)
    for name in names:
        jobs.poll_connector_job(ctx, name)
    per_poll = []
    for _ in range(rounds):
        began = time.process_time()
        for name in names:
            jobs.poll_connector_job(ctx, name)
        per_poll.append((time.process_time() - began) / sources)
    pass_cpu = None
    if stages is not None:
        began = time.process_time()
        stages(ctx)
        pass_cpu = time.process_time() - began
    return statistics.median(per_poll), pass_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", type=int, nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for sources in args.sources:
        with contextlib.redirect_stdout(io.StringIO()):  # the console log of every poll
            per_poll, pass_cpu = measure(sources, args.rounds)
        stages = f"; one idle stages pass {pass_cpu * 1000:.0f} ms" if pass_cpu is not None else ""
        print(f"{sources} sources: {per_poll * 1000:.1f} ms CPU per idle poll{stages}", file=sys.stderr)


if __name__ == "__main__":
    main()
