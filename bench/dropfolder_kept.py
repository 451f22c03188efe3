"""A drop folder without ``archive_dir`` (settings.yaml's default) holding N exports already read:
what one run's fetch costs when nothing is new, and how many rows it reads again.

    uv run --frozen python -m bench.dropfolder_kept 2000 100    # files, KB each

Compare two checkouts by running it with PYTHONPATH set to each (docs/performance.md)."""

import os
import sys
import tempfile
import time
from pathlib import Path

import clinicsync
from clinicsync.connectors.csv_drop import CsvDropConnector, CsvDropSettings
from clinicsync.sync.cli.demo import COLUMNS

n, size_kb = int(sys.argv[1]), int(sys.argv[2])
folder = Path(tempfile.mkdtemp())
line = ",".join(["x"] * len(COLUMNS)) + "\n"
body = (",".join(COLUMNS) + "\n" + line * (size_kb * 1024 // len(line))).encode()
past = time.time() - 2 * n - 60
for i in range(n):
    p = folder / f"export-{i:05d}.csv"
    p.write_bytes(body + str(i).encode())
    os.utime(p, (past + i, past + i))
c = CsvDropConnector(CsvDropSettings(name="b", kind="csv", mapping="csv_default", drop_dir=folder, mode="snapshot",
                                     settle_seconds=0))
# the cursor a run that read them all stores: built by the code under test itself
cursor = None
for batch in c.fetch(None):
    if batch.cursor is not None:
        cursor = batch.cursor
best = []
again = 0
for _ in range(5):
    t, w = time.process_time(), time.perf_counter()
    again = sum(len(b.records) for b in c.fetch(cursor))
    best.append((time.process_time() - t, time.perf_counter() - w))
cpu, wall = min(best)
print(f"{Path(clinicsync.__file__).parent.parent.name} files={n} size={size_kb}KB cursor={len(str(cursor)) // 1024}KB "
      f"rows read again={again} run: cpu={cpu * 1000:.1f} ms wall={wall * 1000:.1f} ms")
