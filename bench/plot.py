"""Draw docs/performance-w1.png from M1's JSON: ingest CPU time against rows, log-log, for
clinicsync's first ingest and no-change re-sync, pandas and the sqlite3 floor.

    uv run --frozen python -m bench --only m1 --json > m1.json
    uv run --frozen python -m bench.plot m1.json            # writes docs/performance-w1.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.harness import ROOT

OUTPUT = ROOT / "docs" / "performance-w1.png"
SERIES = (("first_cpu_s", "clinicsync, first ingest", "o-"), ("resync_cpu_s", "clinicsync, no-change re-sync", "s--"),
          ("pandas_cpu_s", "pandas read_csv + to_sql", "^-"), ("floor_cpu_s", "floor: csv + sqlite3 executemany", "v:"))


def scaling_rows(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for table in tables:
        if table["title"].startswith("M1"):
            return sorted(table["rows"], key=lambda row: row["rows"])
    raise SystemExit("no M1 table in the results (run: python -m bench --only m1 --json)")


def draw(rows: list[dict[str, Any]], output: Path = OUTPUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    sizes = [row["rows"] for row in rows]
    for key, label, style in SERIES:
        axes.plot(sizes, [row[key] for row in rows], style, label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows in the CSV export")
    axes.set_ylabel("CPU seconds of the ingest (child process)")
    axes.set_title("W1/M1: CSV ingest into SQLite, time against size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    plt.close(figure)
    return output


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else None
    text = source.read_text(encoding="utf-8") if source else sys.stdin.read()
    print(draw(scaling_rows(json.loads(text))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
