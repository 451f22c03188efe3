"""W6 end to end: one first `sync --once` of a CSV export (import → calendar → reminder planning).

The export is W1's generated one (bench/data.py) shared by one or two doctors (a small
practice) or by fifty (a clinic group). clinicsync runs the whole pipeline of
``sync --once`` — the csv connector, then every stage of sync/service/pipeline.py in order, with
``calendar.provider: ics`` (one file per doctor) and reminders at their defaults — each
stage timed on its own, in a child process.

Baseline, same run and same file, in its own child: the connector alone (``sync_once``,
calendar ``none``, reminders off). The goal is end to end / connector alone ≤ 1.5, and a
cost per row that stays flat from 20,000 to 100,000 rows (linear in rows).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import Stopwatch, Table, common_arguments, emit, peak_rss_mb, ratio, row_counts, run_case

CONNECTOR = "w6"
CLINIC_ZONE = "America/New_York"
SIZES = (20_000, 100_000)
PRACTICES = (2, 50)
SMOKE_SIZES = (120,)
SMOKE_PRACTICES = (2,)
GOAL = 1.5


def settings_for(folder: Path, drop: Path, whole: bool) -> Any:
    """W1's connector; with ``whole``, the .ics calendar and reminder planning too."""
    from clinicsync.sync.config.settings import settings_model

    data: dict[str, Any] = {
        "clinic": {"timezone": CLINIC_ZONE, "default_region": "US"},
        "store": {"url": f"sqlite:///{folder / 'store.db'}"},
        "connectors": [{"name": CONNECTOR, "kind": "csv", "mapping": "csv_default", "drop_dir": str(drop),
                        "settle_seconds": 0}],
        "calendar": {"provider": "ics", "ics": {"directory": str(folder / "calendars")}} if whole
        else {"provider": "none"},
        "reminders": {"enabled": whole},
    }
    return settings_model().model_validate(data, context={"base_dir": folder})


def pipeline_case(rows: int, doctors: int, source: str, whole: bool = True) -> dict[str, Any]:
    """One first run on an empty store: the connector, then (``whole``) each later stage."""
    import shutil

    from clinicsync.common.gc_tuning import bulk_stage
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.service.pipeline import stages
    from clinicsync.sync.store.store import Store

    with tempfile.TemporaryDirectory(prefix="w6-") as work, bulk_stage():  # the whole run, as run_once
        folder = Path(work)
        drop = folder / "drop"
        drop.mkdir()
        shutil.copyfile(source, drop / "export.csv")
        settings = settings_for(folder, drop, whole)
        store = Store.open(settings.store)
        figures: dict[str, Any] = {}
        try:
            with Stopwatch() as connector:
                report = sync_once(settings, store)
            counts = report.connectors[CONNECTOR].as_dict()
            assert counts["error"] is None, counts["error"]
            figures.update(created=counts["created"], connector_seconds=connector.seconds,
                           connector_cpu_seconds=connector.cpu_seconds, connector_peak_mb=peak_rss_mb())
            total, total_cpu = connector.seconds, connector.cpu_seconds
            if whole:
                for stage in stages():
                    with Stopwatch() as watch:
                        result = stage.run(settings, store, report.run_id)
                    assert "error" not in result, (stage.key, result)
                    figures[f"{stage.key}_seconds"] = watch.seconds
                    figures[f"{stage.key}_cpu_seconds"] = watch.cpu_seconds
                    figures[f"{stage.key}_peak_mb"] = peak_rss_mb()  # the peak so far: which stage raised it
                    total += watch.seconds
                    total_cpu += watch.cpu_seconds
                    if stage.key == "calendar":
                        figures["events"] = result["inserted"]
                    if stage.key == "reminders":
                        figures["reminders"] = result.get("planned", 0)
                files = sorted((folder / "calendars").glob("*.ics"))
                figures["ics_files"] = len(files)
            figures.update(total_seconds=total, total_cpu_seconds=total_cpu)
        finally:
            store.close()
    return figures


def w6_table(sizes: tuple[int, ...], practices: tuple[int, ...]) -> Table:
    from bench.data import write_export

    table = Table("W6 end to end: first sync --once of a CSV export (SQLite store, .ics calendar, reminders)",
                  ["case", "rows", "doctors", "connector_alone_cpu_s", "connector_cpu_s", "calendar_cpu_s",
                   "reminders_cpu_s", "end_to_end_cpu_s", "end_to_end_s", "cpu_us_per_row", "events",
                   "peak_rss_mb", "ratio", "goal"])
    for doctors in practices:
        for rows in sizes:
            with tempfile.TemporaryDirectory(prefix="w6-src-") as work:
                source = Path(work) / "export.csv"
                write_export(source, rows, doctors=doctors)
                alone = run_case("bench.w6_end_to_end:pipeline_case", rows=rows, doctors=doctors,
                                 source=str(source), whole=False)
                whole = run_case("bench.w6_end_to_end:pipeline_case", rows=rows, doctors=doctors,
                                 source=str(source), whole=True)
            table.add(case="clinicsync end to end", rows=rows, doctors=doctors,
                      connector_alone_cpu_s=alone["connector_cpu_seconds"],
                      connector_cpu_s=whole["connector_cpu_seconds"], calendar_cpu_s=whole["calendar_cpu_seconds"],
                      reminders_cpu_s=whole["reminders_cpu_seconds"], end_to_end_cpu_s=whole["total_cpu_seconds"],
                      end_to_end_s=whole["total_seconds"], cpu_us_per_row=whole["total_cpu_seconds"] / rows * 1e6,
                      events=whole["events"], peak_rss_mb=whole["peak_rss_mb"],
                      ratio=ratio(whole["total_cpu_seconds"], alone["connector_cpu_seconds"]),
                      goal=f"<= {GOAL}")
    table.notes.append(
        "ratio = end-to-end CPU seconds / the connector alone's CPU seconds (its own child, same file, same run). "
        "connector_cpu_s is the connector inside the end-to-end child; calendar = the .ics stage (one file per "
        "doctor), reminders = planning (confirmation + 3 reminders per appointment). Linear in rows: "
        "cpu_us_per_row about the same at each size. Writeback (nothing to write back) is in the total.")
    return table


PURPOSE = "one whole first `sync --once` (import, calendar, planning), against the connector alone"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--sizes", type=row_counts, default=None,
                        help="comma-separated row counts (default 20000,100000)")
    parser.add_argument("--doctors", default=None, help="comma-separated practice sizes (default 2,50)")
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    sizes = args.sizes if args.sizes else SMOKE_SIZES if args.smoke else SIZES
    practices = (tuple(int(p) for p in args.doctors.split(",")) if args.doctors
                 else SMOKE_PRACTICES if args.smoke else PRACTICES)
    return emit([w6_table(sizes, practices)], args)  # SQLite: the single-process default


if __name__ == "__main__":
    main(sys.argv[1:])
