"""S1 scale test: does a stage's cost per row stay flat as the store grows?

    python -m bench.s1_scale [--sizes 100000,1000000] [--pushes 50] [--rounds 1] [--smoke]
    bench/run s1 --sizes 20000,100000

For each size N, in a fresh child process and an empty SQLite store: W1's generated export of N
rows (bench/data.py: 50 doctors, 20,000 patients, ~3 % bad rows) through the csv connector, then
the same rows re-exported (other bytes, same rows: change detection only, nothing written); both
timed in CPU seconds and divided by N. Then the source's connector is reconfigured as a REST API
source of the same name and ``--pushes`` single-appointment pushes (POST /api/v1/appointments,
each a new booking, through the real app in-process) are timed: CPU per push into a source of N
appointments, against the same pushes into an empty source (its own child).

Verdict: FAIL (exit status 1) when a figure per row, or per push, rises by more than 15 % from
the smallest size to the largest (from the empty source, for the push): a term that grows with
the table (a scan per batch, a look-up without its index) shows here before it shows in a
deployment, and machine drift does not hide it, because both ends run in the same run (with
``--rounds``, interleaved). The figures at --smoke size are not judged.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    Table,
    add_rounds,
    common_arguments,
    emit,
    interleaved,
    peak_rss_mb,
    rounds_of,
    row_counts,
    run_case,
    whole_count,
)

CONNECTOR = "scale"
ZONE = "America/New_York"
LIMIT = 0.15  # the largest size may cost at most 15 % more per row than the smallest
KEY = "csk_bench-scale-0123456789abcdefghijklmnopqrstu"
PURPOSE = "cost per row of first import and re-export, and per REST push, as the store grows (FAIL > +15 %)"


def _settings(folder: Path, kind: str) -> Any:
    from clinicsync.connectors.rest_api import key_digest
    from clinicsync.sync.config.settings import settings_model

    if kind == "csv":
        connector: dict[str, Any] = {"name": CONNECTOR, "kind": "csv", "mapping": "csv_default",
                                     "drop_dir": str(folder / "drop"), "settle_seconds": 0}
    else:  # the same source, now pushing; no rate limit in the way of the measurement
        connector = {"name": CONNECTOR, "kind": "rest_api", "rate_per_second": 1000, "burst": 10_000,
                     "api_keys": [{"name": "bench", "sha256": key_digest(KEY)}]}
    return settings_model().model_validate({
        "clinic": {"timezone": ZONE, "default_region": "US"},
        "store": {"url": f"sqlite:///{folder / 'store.db'}"}, "connectors": [connector]},
        context={"base_dir": folder})


def _booking(number: int) -> dict[str, Any]:
    """A new appointment per push (a new id and patient; a slot of its own in January 2031)."""
    return {"id": f"PUSH-{number}", "status": "booked", "timezone": ZONE, "type": "Follow-up",
            "start": f"2031-01-{1 + number // 9 % 28:02d}T{8 + number % 9:02d}:00:00-05:00",
            "duration_minutes": 20,
            "patient": {"id": f"PP-{number}", "name": "Bench Patient", "phone": "(212) 555-0142"},
            "practitioner": {"id": "D-1", "name": "Dr. Bench", "email": "bench@clinic.example.org"}}


def _pushes(settings: Any, store: Any, count: int) -> float:
    """CPU seconds per push of ``count`` single-appointment pushes (after one untimed warm-up)."""
    import httpx

    from clinicsync.sync.server.app import create_app

    async def push_all() -> float:
        app = create_app(settings, store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                     headers={"Authorization": f"Bearer {KEY}"}) as client:
            warm = await client.post("/api/v1/appointments", json=_booking(0))
            assert warm.status_code == 201, warm.text
            began = time.process_time()
            for number in range(1, count + 1):
                answer = await client.post("/api/v1/appointments", json=_booking(number))
                assert answer.status_code == 201, answer.text
            return (time.process_time() - began) / count

    return asyncio.run(push_all())


def scale_case(rows: int, pushes: int) -> dict[str, Any]:
    """One size: first import and re-export of ``rows`` (CPU per row), then ``pushes`` pushes
    into the source they filled (CPU per push). ``rows`` 0: the pushes into an empty source."""
    from bench.data import write_export
    from clinicsync.sync.ingest.engine import sync_once
    from clinicsync.sync.store.store import Store

    figures: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="s1-") as work:
        folder = Path(work)
        (folder / "drop").mkdir()
        settings = _settings(folder, "csv")
        store = Store.open(settings.store)
        try:
            if rows:
                write_export(folder / "drop" / "export-1.csv", rows)
                began = time.process_time()
                report = sync_once(settings, store)
                first = time.process_time() - began
                counts = report.connectors[CONNECTOR].as_dict()
                assert counts["error"] is None, counts["error"]
                with (folder / "drop" / "export-1.csv").open("rb") as old, \
                        (folder / "drop" / "export-2.csv").open("wb") as new:
                    new.writelines(line.replace(b"\r\n", b"\n") for line in old)  # same rows, other bytes
                began = time.process_time()
                report = sync_once(settings, store)
                again = time.process_time() - began
                unchanged = report.connectors[CONNECTOR].counts.unchanged
                figures.update(created=counts["created"], first_cpu_seconds=first, rerun_cpu_seconds=again,
                               rerun_unchanged=unchanged, first_us_per_row=first / rows * 1e6,
                               rerun_us_per_row=again / rows * 1e6)
                shutil.rmtree(folder / "drop")
                gc.collect()  # what the import left for the collector is not the push's to pay
            figures["push_us"] = _pushes(_settings(folder, "rest_api"), store, pushes) * 1e6
        finally:
            store.close()
    return figures


def _rise(small: float, large: float) -> float:
    return large / small - 1 if small else 0.0


def _in_this_process(rows: int, pushes: int) -> dict[str, Any]:
    """--smoke: the cases in this process (a child each would cost seconds of imports apiece)."""
    return {**scale_case(rows, pushes), "peak_rss_mb": round(peak_rss_mb(), 1)}


def scale_table(sizes: tuple[int, ...], pushes: int, rounds: int, judged: bool) -> Table:
    table = Table(f"S1 scale: CPU per row and per push as the store grows, sizes {', '.join(f'{s:,}' for s in sizes)}"
                  + (f", median of {rounds} interleaved rounds" if rounds > 1 else ""),
                  ["figure", "rows", "us_cpu", "spread", "rise_ratio", "limit", "verdict"])
    def case(size: int) -> Any:
        if not judged:
            return lambda: _in_this_process(size, pushes)
        return lambda: run_case("bench.s1_scale:scale_case", rows=size, pushes=pushes)

    cases = [(str(size), case(size)) for size in (0, *sizes)]
    figures = interleaved(cases, rounds)
    smallest, largest = str(min(sizes)), str(max(sizes))
    failed: list[str] = []
    checks = [("first import, per row", "first_us_per_row", smallest),
              ("re-export (unchanged rows), per row", "rerun_us_per_row", smallest),
              ("one REST push, per push", "push_us", "0")]
    for label, key, base in checks:
        rise = _rise(figures[base][key], figures[largest][key])
        verdict = "not judged (--smoke)" if not judged else ("FAIL" if rise > LIMIT else "ok")
        if judged and rise > LIMIT:
            failed.append(label)
        for name in dict.fromkeys((base, *(str(s) for s in sorted(sizes)))):
            last = name == largest
            table.add(figure=label, rows=int(name), us_cpu=figures[name][key],
                      spread=figures[name].get(f"{key}_spread"),
                      rise_ratio=rise if last else None, limit=f"+{LIMIT:.0%}" if last else "",
                      verdict=verdict if last else "")
    table.failed = bool(failed)
    table.notes.append(
        "rise_ratio: the largest size's figure / the smallest size's (the push: / the empty "
        f"source's) - 1. CPU of this process (time.process_time) over the timed stage only; {pushes} pushes "
        "per size, each a new booking through the real app (httpx ASGI transport, no network). spread (with "
        "--rounds): (highest - lowest) / median over the rounds; a spread near the 15 % limit makes the verdict "
        "noise: run more --rounds and --pushes, on a quieter machine.")
    for name in (smallest, largest):
        f = figures[name]
        table.notes.append(f"{int(name):,} rows: created {f['created']:,}, re-export unchanged "
                           f"{f['rerun_unchanged']:,}; peak RSS {f['peak_rss_mb']:.1f} MB")
    if failed:
        table.notes.append("FAIL: " + "; ".join(failed) + f" rose more than {LIMIT:.0%} with the size of the store")
    return table


def scale_sizes(text: str) -> tuple[int, ...]:
    """argparse type of ``--sizes``: two sizes or more (the smallest and the largest are compared)."""
    sizes = tuple(sorted(set(row_counts(text))))
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: two sizes or more (the smallest and the largest are compared)")
    return sizes


push_count = whole_count("pushes", "at least 1 push")
"""argparse type of ``--pushes``."""


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    parser.add_argument("--sizes", type=scale_sizes, default=None,
                        help="store sizes in rows, at least two (default 100000,1000000; --smoke: 60,120)")
    parser.add_argument("--pushes", type=push_count, default=None, help="timed pushes per size (default 50; --smoke 2)")
    add_rounds(parser, default=1)
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    sizes = args.sizes or ((60, 120) if args.smoke else (100_000, 1_000_000))
    pushes = args.pushes or (2 if args.smoke else 50)
    table = scale_table(sizes, pushes, rounds_of(args), judged=not args.smoke)
    tables = emit([table], args)
    if table.failed and __name__ == "__main__":
        print("FAIL: cost per row rose with the size of the store", file=sys.stderr)
    return tables


if __name__ == "__main__":
    sys.exit(1 if any(table.failed for table in main(sys.argv[1:])) else 0)
