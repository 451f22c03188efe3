"""Benchmark: import 100,000 appointments from MariaDB through the sql connector and
report peak RSS, to show that memory stays flat (server-side cursor + batches).

Each measurement runs in a fresh Python process (peak RSS is per process): the
connector's import of N/10 and of N rows into an empty SQLite store, and for contrast a
naive buffered read (`cursor.fetchall()` into dicts) of the same N rows.

    uv run python bench/sql_ingest.py            # 100,000 rows
    uv run python bench/sql_ingest.py --rows 20000 --json

Needs the MariaDB server at 127.0.0.1:3306 (root, no password); it creates and drops
its own database. Results are measured, not asserted (see docs/connectors/sql.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql

ROOT = Path(__file__).resolve().parent.parent
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
QUERY = "SELECT id, patient_id, patient_phone, starts_at, minutes, status, updated_at FROM appts"
MAPPING = """\
name: bench_sql
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  patient.external_id: {from: patient_id}
  patient.phone: {from: patient_phone}
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def create_source(rows: int) -> str:
    name = f"bench_sql_{uuid.uuid4().hex[:10]}"
    connection = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cursor.execute(f"USE `{name}`")
        cursor.execute("CREATE TABLE appts (id INT PRIMARY KEY, patient_id VARCHAR(20), patient_phone VARCHAR(30), "
                       "starts_at DATETIME, minutes INT, status VARCHAR(20), updated_at DATETIME, KEY (updated_at))")
        start = datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        updated = datetime(2026, 1, 1, 8, 0)
        chunk = []
        for i in range(1, rows + 1):
            day = start + timedelta(days=i // 40, minutes=15 * (i % 40))
            chunk.append((i, f"p{i % 20000}", f"(617) 253-{1000 + i % 9000:04d}", day, 15, "booked",
                          updated + timedelta(seconds=i // 7)))  # 7 rows per cursor value
            if len(chunk) == 5000 or i == rows:
                cursor.executemany("INSERT INTO appts VALUES (%s, %s, %s, %s, %s, %s, %s)", chunk)
                chunk = []
    connection.close()
    return name


def drop_source(name: str) -> None:
    connection = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{name}`")
    connection.close()


def child_sync(database: str, limit: int, fetch_size: int, workdir: Path) -> dict[str, Any]:
    """In a fresh process: import the first ``limit`` rows with the connector."""
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.store import Store

    (workdir / "bench_sql.yaml").write_text(MAPPING)
    (workdir / "settings.yaml").write_text(
        "clinic: {timezone: America/New_York, default_region: US}\n"
        f"store: {{url: 'sqlite:///{workdir / 'store.db'}'}}\n"
        "logging: {level: warning, format: json}\n"
        "connectors:\n"
        "  - name: bench\n    kind: sql\n    mapping: bench_sql.yaml\n"
        f"    url: mysql://root@127.0.0.1:3306/{database}\n"
        f"    query: \"{QUERY} WHERE id <= {limit}\"\n"
        f"    cursor_column: updated_at\n    fetch_size: {fetch_size}\n    timeout: 3600\n")
    settings = load_settings(workdir / "settings.yaml")
    store = Store.open(settings.store)
    before = peak_rss_mb()
    began = time.perf_counter()
    report = sync_once(settings, store)
    elapsed = time.perf_counter() - began
    store.close()
    counts = report.connectors["bench"].as_dict()
    return {"what": f"connector, {limit:,} rows", "rows": limit, "created": counts["created"],
            "error": counts["error"], "seconds": round(elapsed, 1), "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def child_fetchall(database: str, limit: int) -> dict[str, Any]:
    """In a fresh process: what a buffered read of the same rows costs."""
    import sqlalchemy  # noqa: F401 - the same libraries loaded as in the connector's process

    import clinicsync.sync.ingest.engine  # noqa: F401

    before = peak_rss_mb()
    connection = pymysql.connect(**MARIADB, database=database, cursorclass=pymysql.cursors.DictCursor)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"{QUERY} WHERE id <= {limit}")
        rows = cursor.fetchall()
    elapsed = time.perf_counter() - began
    connection.close()
    return {"what": f"buffered fetchall, {limit:,} rows", "rows": len(rows), "created": None, "error": None,
            "seconds": round(elapsed, 1), "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True,
                         cwd=ROOT)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--fetch-size", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, database, limit = args.child[0], args.child[1], int(args.child[2])
        if mode == "sync":
            with tempfile.TemporaryDirectory() as folder:
                result = child_sync(database, limit, args.fetch_size, Path(folder))
        else:
            result = child_fetchall(database, limit)
        print(json.dumps(result))
        return
    database = create_source(args.rows)
    try:
        small = max(1, args.rows // 10)
        results = [run_child("sync", database, str(small), "--fetch-size", str(args.fetch_size)),
                   run_child("sync", database, str(args.rows), "--fetch-size", str(args.fetch_size)),
                   run_child("fetchall", database, str(args.rows))]
    finally:
        drop_source(database)
    if args.json:
        print(json.dumps({"rows": args.rows, "fetch_size": args.fetch_size, "results": results}, indent=2))
        return
    print(f"MariaDB -> clinicsync sql connector -> SQLite store; fetch_size {args.fetch_size}")
    print(f"{'run':34} {'created':>9} {'seconds':>8} {'RSS before':>11} {'peak RSS':>9}")
    for r in results:
        created = "" if r["created"] is None else f"{r['created']:,}"
        print(f"{r['what']:34} {created:>9} {r['seconds']:>8} {r['rss_before_mb']:>9} MB {r['peak_rss_mb']:>6} MB"
              + (f"  error: {r['error']}" if r["error"] else ""))


if __name__ == "__main__":
    main()
