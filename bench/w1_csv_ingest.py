"""W1 CSV ingest: a generated export of 100,000 appointments (50 doctors, 20,000 patients,
~3 % bad rows) through the csv connector and the csv_default mapping into the store,
timed inside a child process (interpreter start and imports excluded) for clinicsync and
for the baselines alike:

* pandas: ``pandas.read_csv(path).to_sql(...)``, what a clinic's IT person would write;
* floor: the csv module and a bare ``sqlite3`` ``executemany`` of the same rows.

Then: the next run on the unchanged file (skipped by its content hash; must write
nothing), the same rows re-exported (a byte-different file, so the connector reads it and
every row goes through change detection — its raw-record fingerprint, so unchanged rows
are not mapped again; must write nothing) and an export with 1 % of
rows changed (must write exactly those rows). The PostgreSQL variant runs the store and
the pandas baseline (SQLAlchemy ``to_sql``) against the local server.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sqlite3
import sys
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from bench import dlt_peer
from bench.harness import (
    Stopwatch,
    Table,
    add_rounds,
    common_arguments,
    emit,
    interleaved,
    postgres_schema,
    ratio,
    rounds_of,
    row_count,
    run_case,
)

CONNECTOR = "w1"
CLINIC_ZONE = "America/New_York"


def _settings(drop_dir: Path, store_url: str, batch_size: int | None = None) -> Any:
    from clinicsync.sync.config.settings import settings_model

    connector: dict[str, Any] = {"name": CONNECTOR, "kind": "csv", "mapping": "csv_default",
                                 "drop_dir": str(drop_dir), "settle_seconds": 0}
    if batch_size:
        connector["batch_size"] = batch_size
    return settings_model().model_validate({
        "clinic": {"timezone": CLINIC_ZONE, "default_region": "US"},
        "store": {"url": store_url}, "connectors": [connector]}, context={"base_dir": drop_dir})


def _store_writes(store: Any) -> dict[str, int]:
    """Rows the store holds that a sync writes: appointments (with versions), events, quarantine."""
    from sqlalchemy import text

    with store.engine.connect() as connection:
        return {
            "appointments": connection.execute(text("SELECT count(*) FROM appointment")).scalar_one(),
            "versions": connection.execute(text("SELECT coalesce(sum(version), 0) FROM appointment")).scalar_one(),
            "events": connection.execute(text("SELECT count(*) FROM event")).scalar_one(),
            "quarantined": connection.execute(text("SELECT count(*) FROM quarantine")).scalar_one(),
        }


def _export(rows: int, path: Path, source: str | None) -> Any:
    """The export at ``path``: a copy of ``source`` (generated once by the caller) or generated here."""
    from bench.data import BAD_SHARE, ExportStats, write_export

    if source is None:
        return write_export(path, rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return ExportStats(rows, round(rows * BAD_SHARE))  # bad rows: about; the report says exactly


def clinicsync_case(rows: int, store_url: str | None = None, batch_size: int | None = None,
                    follow_ups: bool = True, source: str | None = None, changed: bool = True) -> dict[str, Any]:
    """First ingest; then (``follow_ups``) the same rows re-exported, then (``changed``) 1 % changed."""
    from bench.data import CHANGED_SHARE, write_export
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Store

    with tempfile.TemporaryDirectory(prefix="w1-") as work:
        folder = Path(work)
        drop = folder / "drop"
        url = store_url or f"sqlite:///{folder / 'store.db'}"
        settings = _settings(drop, url, batch_size)
        if store_url is not None:  # what `clinicsync db upgrade` does (SQLite migrates itself)
            migrating = make_engine(url)
            upgrade(migrating)
            migrating.dispose()
        store = Store.open(settings.store)
        figures: dict[str, Any] = {}
        try:
            stats = _export(rows, drop / "export-1.csv", source)
            with Stopwatch() as first:
                report = sync_once(settings, store)
            figures["first_cpu_seconds"] = first.cpu_seconds
            counts = report.connectors[CONNECTOR].as_dict()
            assert counts["error"] is None, counts["error"]
            figures.update(first_seconds=first.seconds, bad_rows=stats.bad, created=counts["created"],
                           quarantined=counts["quarantined"])
            if follow_ups:
                before = _store_writes(store)
                # The unchanged file again: what the next cron run sees when nothing was exported.
                with Stopwatch() as same:
                    report = sync_once(settings, store)
                figures["same_cpu_seconds"] = same.cpu_seconds
                after_same = _store_writes(store)
                figures.update(same_seconds=same.seconds,
                               same_writes=sum(after_same[k] - before[k] for k in ("versions", "events")))
                # The same rows, other bytes (line ends): the connector reads it as a new file.
                with (drop / "export-1.csv").open("rb") as old, (drop / "export-2.csv").open("wb") as new:
                    new.writelines(line.replace(b"\r\n", b"\n") for line in old)
                with Stopwatch() as again:
                    report = sync_once(settings, store)
                figures["rerun_cpu_seconds"] = again.cpu_seconds
                after = _store_writes(store)
                figures.update(rerun_seconds=again.seconds,
                               rerun_unchanged=report.connectors[CONNECTOR].counts.unchanged,
                               rerun_writes=sum(after[k] - before[k] for k in ("versions", "events")))
            if follow_ups and changed:
                quarantine_before = after["quarantined"]
                edited = write_export(drop / "export-3.csv", rows, changed=CHANGED_SHARE)
                with Stopwatch() as delta:
                    report = sync_once(settings, store)
                figures["changed_cpu_seconds"] = delta.cpu_seconds
                final = _store_writes(store)
                c = report.connectors[CONNECTOR].counts
                figures.update(changed_seconds=delta.seconds, changed_rows=edited.changed,
                               changed_written=final["versions"] - after["versions"],
                               changed_reported=c.updated + c.cancelled + c.rescheduled + c.noshow,
                               changed_quarantined=final["quarantined"] - quarantine_before)
        finally:
            store.close()
    return figures


def pandas_case(rows: int, store_url: str | None = None, source: str | None = None) -> dict[str, Any]:
    """``pandas.read_csv(path).to_sql("appointments", connection)``: no validation at all."""
    import pandas

    with tempfile.TemporaryDirectory(prefix="w1-pandas-") as work:
        path = Path(work) / "export.csv"
        _export(rows, path, source)
        if store_url is None:
            target: Any = sqlite3.connect(Path(work) / "pandas.db")
        else:
            import sqlalchemy

            from clinicsync.common.db_urls import driver_url

            target = sqlalchemy.create_engine(driver_url(store_url))
        with Stopwatch() as watch:
            pandas.read_csv(path).to_sql("appointments", target, index=False)
            if store_url is None:
                target.commit()
        if store_url is None:
            target.close()
        else:
            target.dispose()
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds}


def floor_case(rows: int, source: str | None = None) -> dict[str, Any]:
    """The floor: csv.reader and one executemany of the raw strings, nothing checked."""
    from clinicsync.sync.cli.demo import COLUMNS

    with tempfile.TemporaryDirectory(prefix="w1-floor-") as work:
        path = Path(work) / "export.csv"
        _export(rows, path, source)
        connection = sqlite3.connect(Path(work) / "floor.db")
        connection.execute(f"CREATE TABLE appointments ({', '.join(f'{c} TEXT' for c in COLUMNS)})")
        insert = f"INSERT INTO appointments VALUES ({', '.join('?' * len(COLUMNS))})"
        with Stopwatch() as watch:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.reader(handle)
                next(reader)
                connection.executemany(insert, reader)
            connection.commit()
        connection.close()
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds}


def peer_case(rows: int, source: str | None = None) -> dict[str, Any]:
    """The fair peer (bench/validator_peer.py): a hand-written validating import, first into an
    empty database, then the same rows re-exported (other line ends)."""
    from bench.validator_peer import import_file

    with tempfile.TemporaryDirectory(prefix="w1-peer-") as work:
        path, again, database = Path(work) / "export.csv", Path(work) / "again.csv", Path(work) / "peer.db"
        _export(rows, path, source)
        with path.open("rb") as old, again.open("wb") as new:
            new.writelines(line.replace(b"\r\n", b"\n") for line in old)
        with Stopwatch() as first:
            done = import_file(path, database, CLINIC_ZONE, "US")
        with Stopwatch() as rerun:
            redone = import_file(again, database, CLINIC_ZONE, "US")
    return {"seconds": first.seconds, "cpu_seconds": first.cpu_seconds, "written": done["written"],
            "rejected": done["rejected"], "rerun_cpu_seconds": rerun.cpu_seconds, "rerun_skipped": redone["skipped"]}


def reexport_floor_case(rows: int, source: str | None = None) -> dict[str, Any]:
    """The floor of a re-export of unchanged rows: hash each raw line and look up its stored
    digest. Untimed: the digests of the first export stored in SQLite by id. Timed: read the
    re-export's lines (other line ends), load the stored (id, digest) pairs in one query, and
    for each line compare a BLAKE2b digest of its text with the one stored for its first
    column. Nothing is parsed, validated or written."""
    import hashlib

    with tempfile.TemporaryDirectory(prefix="w1-refloor-") as work:
        path = Path(work) / "export.csv"
        _export(rows, path, source)
        connection = sqlite3.connect(Path(work) / "digests.db")
        connection.execute("CREATE TABLE digest (id TEXT PRIMARY KEY, digest BLOB NOT NULL)")
        with path.open("rb") as handle:
            next(handle)
            connection.executemany("INSERT OR REPLACE INTO digest VALUES (?, ?)", (
                (body.split(b",", 1)[0].decode(), hashlib.blake2b(body, digest_size=16).digest())
                for body in (line.rstrip(b"\r\n") for line in handle)))
        connection.commit()
        again = Path(work) / "again.csv"
        with path.open("rb") as old, again.open("wb") as new:
            new.writelines(line.replace(b"\r\n", b"\n") for line in old)
        unchanged = 0
        with Stopwatch() as watch:
            stored = {key.encode(): value for key, value in connection.execute("SELECT id, digest FROM digest")}
            blake2b, get = hashlib.blake2b, stored.get
            with again.open("rb") as handle:
                next(handle)
                for line in handle:
                    body = line.rstrip(b"\r\n")
                    if get(body[:body.find(b",")]) == blake2b(body, digest_size=16).digest():
                        unchanged += 1
        connection.close()
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds, "unchanged": unchanged}


def _postgres(enabled: bool) -> AbstractContextManager[str | None]:
    return postgres_schema() if enabled else nullcontext(None)


def w1_table(rows: int, postgres: bool, measured: dict[str, Any] | None = None,
             sqlite_figures: dict[str, Any] | None = None, rounds: int = 1) -> Table:
    """``measured``: receives clinicsync's figures (the dlt table compares against the same run).
    ``sqlite_figures``: the SQLite store's figures of this run, for the PostgreSQL table's row
    comparing the two stores (wall seconds: the server's work is not in our CPU time).

    Ratios are of CPU seconds (the process's own), which move far less than wall time on a
    shared machine; the issue's goals were set in CPU seconds.

    ``rounds``: the cases (clinicsync, pandas, the floor) run interleaved, once per round in the
    same order, and every figure is the median of the rounds (harness.interleaved)."""
    backend = "PostgreSQL" if postgres else "SQLite"
    table = Table(f"W1 CSV ingest, {rows:,} rows, {backend} store"
                  + (f", median of {rounds} interleaved rounds" if rounds > 1 else ""),
                  ["case", "seconds", "cpu_seconds", "rows_per_s", "peak_rss_mb", "writes", "ratio", "goal"])

    def ours_case() -> dict[str, Any]:
        with _postgres(postgres) as url:
            return run_case("bench.w1_csv_ingest:clinicsync_case", rows=rows, store_url=url)

    def pandas_case_run() -> dict[str, Any]:
        with _postgres(postgres) as url:
            return run_case("bench.w1_csv_ingest:pandas_case", rows=rows, store_url=url)

    cases = [("clinicsync", ours_case), ("pandas", pandas_case_run)]
    cases.append(("refloor", lambda: run_case("bench.w1_csv_ingest:reexport_floor_case", rows=rows)))
    if not postgres:
        cases.append(("floor", lambda: run_case("bench.w1_csv_ingest:floor_case", rows=rows)))
        cases.append(("peer", lambda: run_case("bench.w1_csv_ingest:peer_case", rows=rows)))
    figures = interleaved(cases, rounds)
    ours, pandas, floor = figures["clinicsync"], figures["pandas"], figures.get("floor")
    refloor, peer = figures["refloor"], figures.get("peer")
    if measured is not None:
        measured.update(ours)
    first = ours["first_seconds"]
    first_cpu = ours["first_cpu_seconds"]
    table.add(case="pandas read_csv + to_sql", seconds=pandas["seconds"],
              cpu_seconds=pandas["cpu_seconds"], rows_per_s=rows / pandas["seconds"],
              peak_rss_mb=pandas["peak_rss_mb"], writes=rows, ratio=1.0, goal="baseline")
    if floor is not None:
        table.add(case="floor: csv + sqlite3 executemany", seconds=floor["seconds"],
                  cpu_seconds=floor["cpu_seconds"],
                  rows_per_s=rows / floor["seconds"], peak_rss_mb=floor["peak_rss_mb"], writes=rows,
                  ratio=ratio(floor["cpu_seconds"], pandas["cpu_seconds"]), goal="")
    table.add(case="clinicsync first ingest", seconds=first,
              cpu_seconds=ours["first_cpu_seconds"], rows_per_s=rows / first,
              peak_rss_mb=ours["peak_rss_mb"], writes=ours["created"],
              ratio=ratio(first_cpu, pandas["cpu_seconds"]), goal="/ pandas <= 5")
    if floor is not None:
        table.add(case="clinicsync first ingest / floor", seconds=first,
                  cpu_seconds=ours["first_cpu_seconds"], rows_per_s=rows / first,
                  peak_rss_mb=ours["peak_rss_mb"], writes=ours["created"],
                  ratio=ratio(first_cpu, floor["cpu_seconds"]), goal="")
    if peer is not None:
        table.add(case="hand-written validator (bench/validator_peer.py)", seconds=peer["seconds"],
                  cpu_seconds=peer["cpu_seconds"], rows_per_s=rows / peer["seconds"],
                  peak_rss_mb=peer["peak_rss_mb"], writes=peer["written"],
                  ratio=ratio(peer["cpu_seconds"], pandas["cpu_seconds"]), goal="the fair peer")
        table.add(case="clinicsync first ingest / validator", seconds=first,
                  cpu_seconds=ours["first_cpu_seconds"], rows_per_s=rows / first,
                  peak_rss_mb=ours["peak_rss_mb"], writes=ours["created"],
                  ratio=ratio(first_cpu, peer["cpu_seconds"]), goal="<= 1.5")
        table.notes.append(
            f"The validator rejected {peer['rejected']:,} rows and wrote {peer['written']:,}; its re-export of the "
            f"same rows took {peer['rerun_cpu_seconds']:.3f} s CPU ({peer['rerun_skipped']:,} skipped by row hash).")
    table.add(case="unchanged file, next run", seconds=ours["same_seconds"],
              cpu_seconds=ours["same_cpu_seconds"], rows_per_s=None,
              peak_rss_mb=ours["peak_rss_mb"], writes=ours["same_writes"],
              ratio=ratio(ours["same_cpu_seconds"], first_cpu), goal="/ first <= 0.05, writes 0")
    table.add(case="re-export, same rows", seconds=ours["rerun_seconds"],
              cpu_seconds=ours["rerun_cpu_seconds"], rows_per_s=rows / ours["rerun_seconds"],
              peak_rss_mb=ours["peak_rss_mb"], writes=ours["rerun_writes"],
              ratio=ratio(ours["rerun_cpu_seconds"], first_cpu), goal="/ first <= 0.1, writes 0")
    unchanged = max(ours["rerun_unchanged"], 1)
    ours_us = ours["rerun_cpu_seconds"] / unchanged * 1e6
    floor_us = refloor["cpu_seconds"] / max(refloor["unchanged"], 1) * 1e6
    table.add(case="re-export µs per unchanged row / its floor", seconds=None,
              cpu_seconds=f"{ours_us:.2f} µs vs {floor_us:.2f} µs", rows_per_s=None,
              peak_rss_mb=refloor["peak_rss_mb"], writes=ours["rerun_writes"],
              ratio=ratio(ours_us, floor_us), goal="<= 2 (floor: hash each line, look up its digest)")
    table.add(case="export with 1% changed", seconds=ours["changed_seconds"],
              cpu_seconds=ours["changed_cpu_seconds"],
              rows_per_s=rows / ours["changed_seconds"], peak_rss_mb=ours["peak_rss_mb"],
              writes=ours["changed_written"], ratio=ratio(ours["changed_cpu_seconds"], first_cpu),
              goal=f"/ first <= 0.15, writes = changed rows ({ours['changed_rows']:,})")
    table.notes.append(
        f"clinicsync created {ours['created']:,} appointments and quarantined {ours['quarantined']:,} of "
        f"{ours['bad_rows']:,} bad rows (pandas and the floor store every row unchecked). 1%-changed run: "
        f"{ours['changed_rows']:,} rows changed, {ours['changed_written']:,} new row versions, "
        f"{ours['changed_reported']:,} reported as updated/cancelled/rescheduled. Ratios: first / pandas, "
        "first / floor, unchanged / first, re-export / first, 1%-changed / first, all of CPU seconds (the "
        "process's own, steadier than wall time on a shared machine); peak RSS is the whole child (all runs).")
    if rounds > 1:
        spreads = {name: figures[name].get("first_cpu_seconds_spread", figures[name].get("cpu_seconds_spread"))
                   for name, _case in cases}
        spread = ", ".join(f"{name} {value or 0:.0%}" for name, value in spreads.items())
        table.notes.append(f"Each figure is the median of {rounds} rounds run A, B, C, A, B, C, … (the load column "
                           f"spans them all); CPU spread (highest - lowest) / median over the rounds: {spread}.")
    if sqlite_figures is not None:
        table.add(case="first ingest / SQLite store's (wall)", seconds=first, cpu_seconds=first_cpu,
                  rows_per_s=rows / first, peak_rss_mb=ours["peak_rss_mb"], writes=ours["created"],
                  ratio=ratio(first, sqlite_figures["first_seconds"]), goal="<= 1")
        table.notes.append("The last row compares wall seconds with the SQLite store's first ingest of this run: "
                           "the PostgreSQL server's own work is not in this process's CPU time.")
    return table


PURPOSE = "CSV export into the store (first, re-export, 1 % changed) against pandas, a csv+sqlite3 floor, dlt"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--rows", type=row_count, default=None, help="rows in the export (default 100,000)")
    parser.add_argument("--dlt", action=argparse.BooleanOptionalAction, default=True,
                        help="also the dlt baseline (bench/dlt_peer.py), against the SQLite figures")
    add_rounds(parser, default=1)
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    rows = args.rows or (200 if args.smoke else 100_000)
    rounds = rounds_of(args)
    ours: dict[str, Any] = {}
    tables = [w1_table(rows, postgres=False, measured=ours, rounds=rounds)]
    if args.dlt and dlt_peer.available():
        tables.append(dlt_peer.dlt_table(rows, ours))
    elif args.dlt:
        tables[0].notes.append("dlt baseline skipped: install the bench extra (uv sync --extra bench)")
    if args.postgres:
        tables.append(w1_table(rows, postgres=True, sqlite_figures=ours, rounds=rounds))
    return emit(tables, args)


if __name__ == "__main__":
    main(sys.argv[1:])
