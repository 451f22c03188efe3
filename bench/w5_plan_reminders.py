"""W5: reminder planning on a large first sync — N new appointments already in the store with
their ``created`` events, then the planner's pass over them (clinicsync), next to the floor:
a bare driver executemany of the same number of reminder rows into a copy of the table.

The setup (store API, untimed) gives each appointment a confirmation and three reminders
(3d, 1d, 1h) under the default quiet hours (21:00-08:00 local), in two time zones, some
starting soon enough that reminders are skipped or moved. A second planning pass with
nothing new shows the idle cost (should be close to zero). A third pass after the offsets
changed from [3d, 1d, 1h] to [3d, 1d] (an hour later) re-plans every appointment still ahead:
the cost of following the settings (sync/reminders/replan.py), one read per appointment chunk.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import Stopwatch, Table, common_arguments, emit, postgres_schema, ratio, run_case

NOW = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # a fixed clock: the same plan every run (a DST change in it)
ZONES = ("America/New_York", "Europe/Berlin")
SETTINGS = """\
clinic: {{timezone: America/New_York, default_region: US}}
store: {{url: "{url}"}}
logging: {{level: warning, format: json}}
reminders: {{enabled: true}}
"""


def _appointments(n: int) -> list[Any]:
    from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner

    items = []
    for i in range(n):
        start = NOW + timedelta(hours=2, minutes=15 * (i % 2880) + i // 2880)  # 30 days of 15-minute slots
        items.append(NormalizedAppointment(
            external_id=f"A{i}", status="booked", start=start, end=start + timedelta(minutes=15),
            timezone=ZONES[i % 2], type="Follow-up" if i % 3 else "New patient", location="Main",
            patient=NormalizedPatient(f"P{i % 20000}", None, "+12125550101", None, "en", "sms"),
            practitioner=NormalizedPractitioner(f"D{i % 50}", None, None)))
    return items


def _setup(url: str, n: int, folder: Path) -> tuple[Any, Any]:
    """Settings and a store holding N new appointments (and their events), nothing planned."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Mapped, Store

    (folder / "settings.yaml").write_text(SETTINGS.format(url=url))
    settings = load_settings(folder / "settings.yaml")
    engine = make_engine(settings.store.url)
    upgrade(engine)
    store = Store(engine)
    items = _appointments(n)
    for start in range(0, n, 5000):
        store.apply_batch("bench", "setup", [Mapped(str(i), a) for i, a in enumerate(items[start:start + 5000])],
                          [], None)
    return settings, store


def _floor_sqlite(database: Path, rows: list[tuple[Any, ...]], columns: list[str]) -> float:
    """sqlite3 executemany of the same rows into an empty copy of the reminder table (indexes too)."""
    import sqlite3

    source = sqlite3.connect(database)
    ddl = [sql for (sql,) in source.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'reminder' AND sql IS NOT NULL")]
    source.close()
    target = sqlite3.connect(database.parent / "floor.db")
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    for statement in ddl:
        target.execute(statement)
    placeholders = ", ".join("?" for _ in columns)
    with Stopwatch() as watch:
        target.executemany(f'INSERT INTO reminder ({", ".join(columns)}) VALUES ({placeholders})', rows)
        target.commit()
    target.close()
    return watch.seconds


def _floor_postgres(url: str, rows: list[tuple[Any, ...]], columns: list[str]) -> float:
    """psycopg executemany of the same rows into an empty copy of the reminder table (indexes too)."""
    import psycopg

    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE reminder_floor (LIKE reminder INCLUDING ALL)")
        connection.commit()
        placeholders = ", ".join("%s" for _ in columns)
        with Stopwatch() as watch:
            with connection.cursor() as cursor:
                cursor.executemany(
                    f'INSERT INTO reminder_floor ({", ".join(columns)}) VALUES ({placeholders})', rows)
            connection.commit()
    return watch.seconds


def case(n: int, backend: str, url: str | None = None) -> dict[str, Any]:
    """In a fresh process: set up, plan (timed), plan again (timed), then the floor."""

    from clinicsync.sync.reminders.stage import plan
    from clinicsync.sync.store.model.reminders import REMINDERS

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        store_url = url or f"sqlite:///{folder / 'store.db'}"
        settings, store = _setup(store_url, n, folder)
        with Stopwatch() as first:
            report = plan(settings, store, NOW)
        with Stopwatch() as second:
            again = plan(settings, store, NOW)
        changed = settings.model_copy(update={"reminders": settings.reminders.model_copy(
            update={"offsets": ["3d", "1d"]})})
        with Stopwatch() as third:
            replan = plan(changed, store, NOW + timedelta(hours=1))
        columns = [f'"{c.name}"' for c in REMINDERS.columns if c.name != "id"]  # "offset" is a keyword
        with store.engine.connect() as connection:  # raw driver values: what the floor would be handed
            rows = [tuple(r) for r in connection.exec_driver_sql(
                f'SELECT {", ".join(columns)} FROM reminder ORDER BY id')]
        store.close()
        if backend == "sqlite":
            floor = _floor_sqlite(folder / "store.db", rows, columns)
        else:
            floor = _floor_postgres(store_url, rows, columns)
    return {"rows": len(rows), "planned": report.planned, "skipped": report.skipped, "events": report.events,
            "plan_s": first.seconds, "plan_cpu_s": first.cpu_seconds, "again_s": second.seconds,
            "again_events": again.events, "floor_s": floor, "replan_s": third.seconds,
            "replanned": replan.replanned, "replan_cancelled": replan.cancelled}


PURPOSE = "reminder planning on a large first sync, against a bare executemany of the same rows"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    n = 60 if args.smoke else 100_000
    table = Table(f"W5 reminder planning, {n:,} new appointments",
                  ["case", "rows", "planned", "skipped", "plan_s", "plan_cpu_s", "floor_s", "ratio", "again_s",
                   "replan_s", "replan_cancelled", "peak_rss_mb"])
    results = [("sqlite", run_case("bench.w5_plan_reminders:case", n=n, backend="sqlite"))]
    if args.postgres:
        with postgres_schema() as url:
            results.append(("postgresql", run_case("bench.w5_plan_reminders:case", n=n, backend="postgresql",
                                                   url=url)))
    for backend, r in results:
        table.add(case=backend, rows=r["rows"], planned=r["planned"], skipped=r["skipped"], plan_s=r["plan_s"],
                  plan_cpu_s=r["plan_cpu_s"],
                  floor_s=r["floor_s"], ratio=ratio(r["plan_s"], r["floor_s"]), again_s=r["again_s"],
                  replan_s=r["replan_s"], replan_cancelled=r["replan_cancelled"], peak_rss_mb=r["peak_rss_mb"])
    table.notes.append("plan_s: clinicsync's planner (read events, plan, insert); floor_s: a bare driver "
                       "executemany of the same rows; ratio = plan_s / floor_s; again_s: a second pass, nothing new; "
                       "plan_cpu_s: the planner process's CPU time (SQLite's work included, PostgreSQL's not); "
                       "replan_s: a pass after offsets changed to [3d, 1d], replan_cancelled the 1h rows it cancelled.")
    return emit([table], args)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
