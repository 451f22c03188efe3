"""The poll pool's own cost per poll: its claims, leases, releases and wake-ups, with polls that
do nothing, so that what is measured is the scheduler alone (docs/operations.md, "Sizing").

One process runs the real PollPool (sync/service/polls.py) over ``--sources`` sources, each due
every ``--interval`` seconds, on a PostgreSQL store (a fresh schema holding the schedule's table
only, dropped at the end). After one interval of warm-up (every source's first poll), it counts
the process's CPU, the polls and the SQL statements it sent (not BEGIN and COMMIT, which psycopg
sends on its own) over ``--seconds``, and prints them per poll. Compare two commits by running
it in each checkout (``PYTHONPATH=<checkout>``), in turn, on the same machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from typing import Any

import psycopg
import structlog
from sqlalchemy import event

from bench.harness import POSTGRES_ADMIN_URL
from bench.many_sources import with_search_path
from clinicsync.common.schedule import Schedule
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.outcome import JobResult
from clinicsync.sync.service.polls import PolledSource, PollPool
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.tables import POLL_SCHEDULE


def measure(sources: int, interval: int, seconds: float, slots: int) -> dict[str, Any]:
    schema = f"bench_sched_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    url = with_search_path(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), schema)
    engine = make_engine(url)
    try:
        POLL_SCHEDULE.create(engine)
        polls = [0]
        statements = [0]

        def poll(_name: str) -> JobResult:
            polls[0] += 1
            return {"failed": False}

        event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
        stop = threading.Event()
        pool = PollPool(engine, [PolledSource(f"s{n:04d}", Schedule(interval=f"{interval}s")) for n in range(sources)],
                        poll, size=slots, board=JobBoard(), stop=stop)
        runner = threading.Thread(target=pool.run, name="polls")
        runner.start()
        time.sleep(interval + 2)  # every source's first poll
        polls[0] = statements[0] = 0
        began = time.process_time()
        time.sleep(seconds)
        cpu, done, sent = time.process_time() - began, polls[0], statements[0]
        stop.set()
        runner.join(30)
        return {"sources": sources, "interval_s": interval, "slots": slots, "seconds": seconds, "polls": done,
                "cpu_s": round(cpu, 3), "cpu_per_poll_ms": round(cpu / max(done, 1) * 1000, 3),
                "statements_per_poll": round(sent / max(done, 1), 2)}
    finally:
        engine.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--interval", type=int, default=10, help="seconds between polls of a source (10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured window (30)")
    parser.add_argument("--slots", type=int, default=4, help="service.poll_workers (4)")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(measure(args.sources, args.interval, args.seconds, args.slots)))


if __name__ == "__main__":
    main()
