"""M1 memory and scaling: W1's CSV ingest at 10,000, 100,000 and 1,000,000 rows.

Peak RSS of the child that ingests (streaming in batches must keep it flat as the export
grows; goal < 200 MB at 1,000,000 rows), and time against size for the first ingest and
the no-change re-sync (the same rows re-exported) next to pandas and the sqlite3 floor,
each in its own child on the same generated file. ``bench/plot.py`` draws these figures.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.harness import Table, common_arguments, emit, ratio, run_case

SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (200, 1_000)
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


def resync_case(rows: int, source: str) -> dict[str, object]:
    """First ingest, then the same rows re-exported: the no-change re-sync's cost."""
    from bench.w1_csv_ingest import clinicsync_case

    figures = clinicsync_case(rows, source=source, follow_ups=True, changed=False)
    return {k: v for k, v in figures.items() if k.startswith(("first", "rerun"))}


def main(argv: list[str]) -> list[Table]:
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default 10000,100000,1000000)")
    args = parser.parse_args(argv)
    default = SMOKE_SIZES if args.smoke else SIZES
    sizes = tuple(int(part) for part in args.sizes.split(",")) if args.sizes else default
    return emit([scaling_table(sizes)], args)  # SQLite only: PostgreSQL's memory is the server's


if __name__ == "__main__":
    main(sys.argv[1:])
