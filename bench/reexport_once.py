"""A re-export against a first import, as cron runs them: whole `sync --once` processes.

    python -m bench.reexport_once [--rows 20000] [--rounds 5] [--folder DIR]

One CSV source (csv_default, the generated export of bench/data.py) and a SQLite store in DIR.
Each round runs, each a fresh `clinicsync sync --once` process on a store copied for it:

* first import: the export into an empty store (migrated);
* re-export: the same rows written with other line ends (a byte-different file, so every row
  is read and its fingerprint compared) into the store the first import left;
* same file: the unchanged export again (skipped by its content hash).

CPU = user + system of the child (getrusage RUSAGE_CHILDREN), so waiting for a busy CPU does
not count; the cases alternate within each round, and each ratio is the median of the rounds'
ratios (a load spike falls on both sides of a pair).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.data import write_export

ZONE = "America/New_York"


def _cpu(folder: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "clinicsync", "sync", "--once"], cwd=folder, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def prepare(folder: Path, rows: int, env: dict[str, str]) -> tuple[bytes, bytes]:
    """The settings, an empty migrated store (empty.db) and one after the first import
    (imported.db); the export's two byte versions."""
    drop = folder / "drop"
    drop.mkdir(parents=True)
    (folder / "settings.yaml").write_text(
        f"clinic: {{name: Re-export Bench, timezone: {ZONE}, default_region: US}}\n"
        f"store: {{url: 'sqlite:///{folder / 'store.db'}'}}\n"
        f"notifiers:\n  - {{name: outbox, kind: outbox, directory: {folder / 'outbox'}}}\n"
        f"connectors:\n  - {{name: export, kind: csv, mapping: csv_default, drop_dir: {drop}, settle_seconds: 0}}\n",
        encoding="utf-8")
    subprocess.run([sys.executable, "-m", "clinicsync", "db", "upgrade"], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    shutil.copy(folder / "store.db", folder / "empty.db")
    write_export(folder / "a.csv", rows, line_end="\r\n")
    write_export(folder / "b.csv", rows, line_end="\n")
    first, other = (folder / "a.csv").read_bytes(), (folder / "b.csv").read_bytes()
    assert first != other
    (drop / "export.csv").write_bytes(first)
    _cpu(folder, env)
    shutil.copy(folder / "store.db", folder / "imported.db")
    return first, other


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="reexport-"))
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    first, other = prepare(folder, args.rows, env)
    export = folder / "drop" / "export.csv"
    cases = {"first import": ("empty.db", first), "re-export": ("imported.db", other),
             "same file": ("imported.db", first)}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, (store, content) in cases.items():
            shutil.copy(folder / store, folder / "store.db")
            export.write_bytes(content)
            cpu[name].append(_cpu(folder, env))
    print(f"{args.rows} rows, {args.rounds} rounds, load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print("| case | CPU median | CPU min | ratio to the first import |\n|---|---|---|---|")
    for name, values in cpu.items():
        ratio = statistics.median(a / b for a, b in zip(values, cpu["first import"], strict=True))
        print(f"| {name} | {statistics.median(values):.3f} s | {min(values):.3f} s | {ratio:.3f} |")


if __name__ == "__main__":
    main()
