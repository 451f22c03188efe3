"""The store figures read at every Prometheus scrape, `status` and status-page load, on a store
that has run for three years (docs/performance.md, "The store over years").

``python -m bench.scrape_reads [--url URL] [--scale 1.0] [--rounds 7]``: a fresh store at
migration 0038 (SQLite in a temporary folder unless ``--url`` names an empty database) is
filled like an inflated demo store (147,456 visits over three years, 563,200 reminders,
140,800 calendar links, 262,144 runs kept; the live work a six-doctor practice has: ~2,000
reminders waiting, a few pending or failing links), then each read's statements as they were
when they counted whole tables (at migration 0038) are timed, the store is migrated to head
(0040: the calendar links' partial indexes) and the reads of this code are timed. Median ms of
``--rounds``, with the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, insert, select

from clinicsync.sync.calendar.metrics import calendar_gauges
from clinicsync.sync.reminders.queries import reminder_counts
from clinicsync.sync.responses.metrics import response_gauges
from clinicsync.sync.server.metrics import sync_gauges
from clinicsync.sync.store.db import make_engine, upgrade
from clinicsync.sync.store.model import Appointment, SyncRun
from clinicsync.sync.store.model.calendar import LINKS
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.model.responses import RESPONSES, WRITEBACKS
from clinicsync.sync.store.store import Store
from clinicsync.sync.ui.queries import calendar_health

NOW = datetime.now(UTC).replace(microsecond=0)
YEARS3 = timedelta(days=3 * 365)
A = Appointment.__table__  # type: ignore[attr-defined]
RUNS = SyncRun.__table__  # type: ignore[attr-defined]
SETTLED = ["delivered"] * 60 + ["sent"] * 15 + ["cancelled"] * 15 + ["skipped"] * 7 + ["failed"] * 3


def fill(connection: Connection, scale: float) -> None:
    rng = random.Random(53)
    visits = int(147_456 * scale)
    past = visits - 2_000  # the rest are the next 60 days' bookings
    starts = [NOW - YEARS3 * (1 - i / past) for i in range(past)] + [
        NOW + timedelta(days=60 * i / 2_000) for i in range(visits - past)
    ]
    for lo in range(0, visits, 20_000):
        connection.execute(
            insert(A),
            [
                {
                    "connector": "csv",
                    "external_id": f"A{i}",
                    "status": "booked",
                    "start_utc": s,
                    "end_utc": s + timedelta(minutes=30),
                    "timezone": "America/New_York",
                    "type": "Checkup",
                    "patient_ref": f"P{i % 5000}",
                    "practitioner_ref": f"D{i % 6}",
                    "content_hash": "h",
                    "version": 1,
                    "created_at": s - timedelta(days=7),
                    "updated_at": s,
                }
                for i, s in enumerate(starts[lo : lo + 20_000], lo)
            ],
        )
    ids = [row.id for row in connection.execute(select(A.c.id).order_by(A.c.start_utc))]
    reminders, links = int(563_200 * scale), int(140_800 * scale)
    batch: list[dict[str, Any]] = []
    for n in range(reminders):
        k = n * len(ids) // reminders
        due = starts[k] - timedelta(days=1)
        status = ("pending" if due > NOW else rng.choice(SETTLED)) if n % 5000 else "unknown"
        batch.append(
            {
                "key": f"r{n}",
                "appointment_id": ids[k],
                "connector": "csv",
                "recipient": "patient",
                "kind": "reminder",
                "offset": "1d",
                "version": 1,
                "due_at": due,
                "status": status,
                "channel": rng.choice(("sms", "sms", "email")),
                "tried": "",
                "attempts": 0,
                "created_at": due,
                "updated_at": due,
            }
        )
        if len(batch) == 20_000:
            connection.execute(insert(REMINDERS), batch)
            batch = []
    connection.execute(insert(REMINDERS), batch) if batch else None
    for lo in range(0, links, 20_000):
        connection.execute(
            insert(LINKS),
            [
                {
                    "appointment_id": ids[i],
                    "provider": "ics",
                    "account": "",
                    "calendar_id": f"D{i % 6}",
                    "event_id": f"e{i}",
                    "state": "pending" if i % 40_000 == 7 else "deleted" if i % 10 == 0 else "present",
                    "attempts": 2 if i % 50_000 == 3 else 0,
                    "last_error": "503" if i % 50_000 == 3 else None,
                    "updated_at": starts[i],
                }
                for i in range(visits - links + lo, visits - links + min(links, lo + 20_000))
            ],
        )
    runs = int(262_144 * scale)
    for lo in range(0, runs, 20_000):
        connection.execute(
            insert(RUNS),
            [
                {
                    "run_id": f"x{n}",
                    "connector": ("csv", "fhir")[n % 2],
                    "status": "failed" if n % 97 == 0 else "ok",
                    "counts": "{}",
                    "started_at": NOW - timedelta(days=90) * (1 - n / runs),
                    "finished_at": NOW - timedelta(days=90) * (1 - n / runs),
                }
                for n in range(lo, min(runs, lo + 20_000))
            ],
        )
    connection.execute(
        insert(RESPONSES),
        [
            {
                "channel": "sms",
                "sender": "+12015550165",
                "action": "confirm",
                "outcome": "applied",
                "appointment_id": ids[i * 5],
                "received_at": starts[i * 5],
            }
            for i in range(int(28_000 * scale))
        ],
    )
    connection.execute(
        insert(WRITEBACKS),
        [
            {
                "appointment_id": ids[i * 10],
                "connector": "csv",
                "external_id": f"A{i}",
                "participant_status": "accepted",
                "status": "pending" if starts[i * 10] > NOW else "done",
                "next_at": starts[i * 10],
                "created_at": starts[i * 10],
            }
            for i in range(int(14_000 * scale))
        ],
    )


def before(store: Store) -> dict[str, Callable[[], object]]:
    """The statements sent when these reads counted whole tables (before migration 0040), one read a line."""
    rm, rs, wb, ln, rn = REMINDERS.c, RESPONSES.c, WRITEBACKS.c, LINKS.c, RUNS.c

    def run(*queries: Any) -> object:
        with store.engine.connect() as connection:
            return [connection.execute(q).all() for q in queries]

    cause = case((ln.last_error.like("token refused%"), "token"), else_="other")
    return {
        "/metrics reminders, replies, write-backs": lambda: run(
            select(rm.channel, rm.status, func.count()).group_by(rm.channel, rm.status),
            select(rs.action, rs.outcome, func.count()).group_by(rs.action, rs.outcome),
            select(wb.status, func.count()).group_by(wb.status),
        ),
        "/metrics runs by connector, status": lambda: run(
            select(rn.connector, rn.status, func.count()).group_by(rn.connector, rn.status)
        ),
        "/metrics failing calendar links": lambda: run(
            select(ln.provider, cause, func.count()).where(ln.attempts > 0).group_by(ln.provider, cause)
        ),
        "status page calendar links": lambda: run(
            select(ln.state, func.count()).group_by(ln.state), select(func.count()).where(ln.attempts > 0)
        ),
        "`status` reminders, write-backs": lambda: run(
            select(rm.status, func.count()).group_by(rm.status), select(wb.status, func.count()).group_by(wb.status)
        ),
    }


def after(store: Store) -> dict[str, Callable[[], object]]:
    from clinicsync.sync.responses.writeback_status import writeback_status

    return {
        "/metrics reminders, replies, write-backs": lambda: list(response_gauges(store)),
        "/metrics runs by connector, status": lambda: list(sync_gauges(store)),
        "/metrics failing calendar links": lambda: list(calendar_gauges(store)),
        "status page calendar links": lambda: calendar_health(store),
        "`status` reminders, write-backs": lambda: (reminder_counts(store), writeback_status(store)),
    }


def timed(reads: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    out = {}
    for name, read in reads.items():
        read()  # warm the cache: a scrape every 15 s finds the pages in memory
        took = []
        for _ in range(rounds):
            start = time.perf_counter()
            read()
            took.append((time.perf_counter() - start) * 1000)
        out[name] = statistics.median(took)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an empty database (default: SQLite in a temporary folder)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="scrape-reads-")
    engine = make_engine(args.url or f"sqlite:///{folder}/store.db")
    upgrade(engine, "0038")
    with engine.begin() as connection:
        fill(connection, args.scale)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    store = Store(engine)
    load = os.getloadavg()
    was = timed(before(store), args.rounds)
    upgrade(engine, "head")
    now = timed(after(store), args.rounds)
    load = tuple(max(a, b) for a, b in zip(load, os.getloadavg(), strict=True))
    print(
        f"{engine.dialect.name}, scale {args.scale}, median of {args.rounds}, load (max) "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("| read | before (ms) | after (ms) |\n|---|---:|---:|")
    for name in was:
        print(f"| {name} | {was[name]:.1f} | {now[name]:.2f} |")


if __name__ == "__main__":
    main()
