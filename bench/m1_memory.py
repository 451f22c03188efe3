"""M1 memory and scaling: W1's CSV ingest at 10,000, 100,000 and 1,000,000 rows, and the
whole first sync (connector, .ics calendar, reminder planning: W6's pipeline) at 10,000,
100,000 and 200,000 rows with the peak RSS after each stage, to see which one grows.

Peak RSS of the child that ingests (streaming in batches must keep it flat as the export
grows; goal < 200 MB at 1,000,000 rows), and time against size for the first ingest and
the no-change re-sync (the same rows re-exported) next to pandas and the sqlite3 floor,
each in its own child on the same generated file. ``bench/plot.py`` draws these figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.harness import Table, common_arguments, emit, ratio, row_counts, run_case

SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (200,)  # one size runs every case; scaling is for real runs
WHOLE_SIZES = (10_000, 100_000, 200_000)
GOAL_MB = 200


def scaling_table(sizes: tuple[int, ...]) -> Table:
    from bench.data import write_export

    table = Table("M1 memory and scaling (CSV ingest, SQLite store)",
                  ["rows", "first_s", "resync_s", "pandas_s", "floor_s", "first_cpu_s", "resync_cpu_s", "pandas_cpu_s",
                   "floor_cpu_s", "cpu_first_per_pandas", "cpu_resync_per_first", "cpu_us_per_row", "peak_rss_mb",
                   "pandas_rss_mb", "goal"])
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="m1-") as work:
            source = str(Path(work) / "export.csv")
            write_export(Path(source), rows)
            ours = run_case("bench.m1_memory:resync_case", rows=rows, source=source)
            pandas = run_case("bench.w1_csv_ingest:pandas_case", rows=rows, source=source)
            floor = run_case("bench.w1_csv_ingest:floor_case", rows=rows, source=source)
        table.add(rows=rows, first_s=ours["first_seconds"], resync_s=ours["rerun_seconds"],
                  pandas_s=pandas["seconds"], floor_s=floor["seconds"],
                  first_cpu_s=ours["first_cpu_seconds"], resync_cpu_s=ours["rerun_cpu_seconds"],
                  pandas_cpu_s=pandas["cpu_seconds"], floor_cpu_s=floor["cpu_seconds"],
                  cpu_first_per_pandas=ratio(ours["first_cpu_seconds"], pandas["cpu_seconds"]),
                  cpu_resync_per_first=ratio(ours["rerun_cpu_seconds"], ours["first_cpu_seconds"]),
                  cpu_us_per_row=ours["first_cpu_seconds"] / rows * 1e6, peak_rss_mb=ours["peak_rss_mb"],
                  pandas_rss_mb=pandas["peak_rss_mb"],
                  goal=f"peak < {GOAL_MB} MB" if rows == max(sizes) else "")
    table.notes.append(
        "first_s: first ingest into an empty store; resync_s: then the same rows re-exported and synced again "
        "in the same child (peak_rss_mb covers both). pandas and the floor store the raw rows unchecked. "
        "*_s: wall seconds, *_cpu_s: the process's CPU seconds for the same block (ratios use CPU: the shared "
        "machine inflates wall time unevenly).")
    return table


def whole_sync_table(sizes: tuple[int, ...], doctors: int = 50) -> Table:
    """Peak RSS of one first ``sync --once`` (every stage) and the stage that raised it."""
    from bench.data import write_export

    table = Table(f"M1 memory of the whole first sync (CSV → store → .ics calendar → reminders, {doctors} doctors)",
                  ["rows", "connector_mb", "calendar_mb", "reminders_mb", "peak_rss_mb", "grown_by", "cpu_s",
                   "cpu_us_per_row", "goal"])
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="m1-whole-") as work:
            source = Path(work) / "export.csv"
            write_export(source, rows, doctors=doctors)
            figures = run_case("bench.w6_end_to_end:pipeline_case", rows=rows, doctors=doctors, source=str(source))
        steps = {"connector": figures["connector_peak_mb"], "calendar": figures["calendar_peak_mb"],
                 "reminders": figures["reminders_peak_mb"]}
        before, grown = 0.0, []
        for stage, peak in steps.items():
            grown.append(f"{stage} +{peak - before:.0f}")
            before = peak
        table.add(rows=rows, connector_mb=steps["connector"], calendar_mb=steps["calendar"],
                  reminders_mb=steps["reminders"], peak_rss_mb=figures["peak_rss_mb"], grown_by=", ".join(grown),
                  cpu_s=figures["total_cpu_seconds"], cpu_us_per_row=figures["total_cpu_seconds"] / rows * 1e6,
                  goal=f"peak < {GOAL_MB} MB, flat")
    table.notes.append(
        "*_mb: the child's peak RSS once that stage finished (a peak only rises: each column is the most the "
        "process had held so far); grown_by: what each stage added to the peak. Flat memory means the same "
        "peak at every size.")
    return table


def resync_case(rows: int, source: str) -> dict[str, object]:
    """First ingest, then the same rows re-exported: the no-change re-sync's cost."""
    from bench.w1_csv_ingest import clinicsync_case

    figures = clinicsync_case(rows, source=source, follow_ups=True, changed=False)
    return {k: v for k, v in figures.items() if k.startswith(("first", "rerun"))}


PURPOSE = "peak RSS and time against size (10k to 1M rows) of the CSV ingest and the whole first sync"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--sizes", type=row_counts, default=None,
                        help="comma-separated row counts (default 10000,100000,1000000)")
    parser.add_argument("--whole-sizes", default=None,
                        help="row counts of the whole-sync table (default 10000,100000,200000; 0: skip it)")
    parser.add_argument("--ingest", action=argparse.BooleanOptionalAction, default=True,
                        help="the CSV ingest scaling table (--no-ingest: only the whole sync)")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    default = SMOKE_SIZES if args.smoke else SIZES
    sizes = args.sizes if args.sizes else default
    whole = (tuple(int(part) for part in args.whole_sizes.split(",") if int(part))
             if args.whole_sizes else SMOKE_SIZES[:1] if args.smoke else WHOLE_SIZES)
    tables = [scaling_table(sizes)] if args.ingest else []
    if whole:
        tables.append(whole_sync_table(whole))
    return emit(tables, args)  # SQLite only: PostgreSQL's memory is the server's


if __name__ == "__main__":
    main(sys.argv[1:])
