"""The CPU of reading a group's settings, written out in full and as a fleet.

    python -m bench.settings_load [--sizes 1000,10000] [--rounds 3]

For each size N, two settings files in a temporary folder: N SQL sources written out in
full (bench/many_sources.py's query, one block each, ~370 bytes a source) and one `fleets:`
template with an N-row CSV list (each row a site too). Each is read as every command reads it
(`load_settings`: YAML, the fleet's list, validation) in this process; the figure is the median
CPU of ``--rounds`` reads (time.process_time), so a busy machine's waits do not count. Linear
reading means ten times the sources cost about ten times the time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.many_sources import source_query
from clinicsync.sync.config.settings import load_settings

HEAD = "clinic: {name: Bench Group, timezone: America/Chicago}\nnotifiers: []\n"


def written(count: int) -> str:
    """N SQL sources written out in full."""
    lines = [f"  - {{name: p{i:05d}, kind: sql, url: 'postgresql://reader@db{i % 7}.example/d{i}', "
             f"query: '{source_query(f's.t{i:05d}')}', mapping: clinic_tables, cursor_column: updated_at, "
             f"timezone: America/Chicago, timeout: 30, schedule: {{interval: 5m}}}}" for i in range(count)]
    return HEAD + "connectors:\n" + "\n".join(lines) + "\n"


def fleet(count: int, folder: Path) -> str:
    """One template and an N-row list of practices, each its own site."""
    rows = "".join(f"p{i:05d},Practice {i},db{i % 7}.example,d{i},America/Chicago,+1312555{i % 10_000:04d}\n"
                   for i in range(count))
    (folder / "practices.csv").write_text("name,label,host,database,zone,phone\n" + rows)
    return HEAD + f"""fleets:
  - name: bench
    members: practices.csv
    connector:
      kind: sql
      url: postgresql://reader@{{host}}/{{database}}
      query: '{source_query("s.appointments")}'
      mapping: clinic_tables
      cursor_column: updated_at
      timeout: 30
      schedule: {{interval: 5m}}
    site: {{language: en-US}}
"""


def measure(path: Path, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        load_settings(path)
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("| sources | written out: bytes | CPU s | fleet list: bytes | CPU s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in (int(n) for n in args.sizes.split(",")):
            full = folder / "written.yaml"
            full.write_text(written(size))
            listed = folder / "fleet.yaml"
            listed.write_text(fleet(size, folder))
            print(f"| {size:,} | {full.stat().st_size:,} | {measure(full, args.rounds):.2f} | "
                  f"{(folder / 'practices.csv').stat().st_size:,} | {measure(listed, args.rounds):.2f} |")


if __name__ == "__main__":
    main()
