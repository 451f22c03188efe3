"""Harness self-check: a workload with one trivial case (removed once real workloads exist)."""
from __future__ import annotations

from typing import Any

from bench.harness import Stopwatch, Table, common_arguments, emit, ratio, run_case


def case(n: int) -> dict[str, Any]:
    with Stopwatch() as watch:
        total = sum(range(n))
    return {"seconds": watch.seconds, "total": total}


def main(argv: list[str]) -> list[Table]:
    args = common_arguments(__doc__ or "").parse_args(argv)
    n = 1000 if args.smoke else 1_000_000
    a, b = run_case("bench.w0_example:case", n=n), run_case("bench.w0_example:case", n=n * 2)
    table = Table("W0 example", ["case", "seconds", "peak_rss_mb", "ratio"])
    table.add(case="n", seconds=a["seconds"], peak_rss_mb=a["peak_rss_mb"], ratio=1.0)
    table.add(case="2n", seconds=b["seconds"], peak_rss_mb=b["peak_rss_mb"], ratio=ratio(b["seconds"], a["seconds"]))
    return emit([table], args)
