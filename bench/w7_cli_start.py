"""W7 CLI start: the CPU time of `clinicsync --help` and `clinicsync status` (on a demo
store) against a bare `python -c pass` and `python -c "import typer"`, in the same run.

    python -m bench.w7_cli_start [--rounds 7] [--smoke]      (or: bench/run w7 --rounds 7)

`--help` once cost 5.4 s of CPU because every command imported FastAPI, SQLAlchemy,
botocore and the FHIR auth stack. The goal is ≤ 0.5 s of CPU for both. Each
command is a fresh process; its CPU time (user + system) is read from the kernel's
accounting of the finished child (getrusage RUSAGE_CHILDREN), so waiting for a busy CPU does
not count. Rounds are interleaved (pass, typer, help, status, pass, …) so that a load spike
falls on every case alike; the table gives the median and the lowest of the rounds, and the
load average before and after. One warm-up round writes the bytecode caches first, as an
installed package has them (the Docker image compiles them: UV_COMPILE_BYTECODE=1); the
"no bytecode cache" rows show what a checkout with PYTHONDONTWRITEBYTECODE pays instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import harness
from bench.harness import Table, add_rounds, child_env, common_arguments, emit, load_1min, ratio, rounds_of

GOAL_CPU_SECONDS = 0.5


def _clinicsync() -> list[str]:
    script = Path(sys.executable).parent / "clinicsync"
    return [str(script)] if script.exists() else [sys.executable, "-m", "clinicsync"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv`` to its end."""
    cpu_before, wall_before = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    wall, cpu = time.perf_counter() - wall_before, _children_cpu() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return cpu, wall


def demo_store(folder: Path, env: dict[str, str], sync: bool = True) -> None:
    """The demo: its CSV sample in a drop folder, synced once into a SQLite store (not timed)."""
    from datetime import date, timedelta

    from clinicsync.sync.cli.demo import generate_rows, write_csv

    drop = folder / "drop"
    drop.mkdir()
    write_csv(generate_rows(date.today() + timedelta(days=1), "America/New_York"), drop / "appointments.csv")
    (folder / "settings.yaml").write_text(
        "clinic: {name: Demo Family Practice, timezone: America/New_York, default_region: US}\n"
        "store: {url: \"sqlite:///.clinicsync/clinicsync.db\"}\n"
        "logging: {level: warning}\n"
        "connectors:\n"
        "  - {name: demo-csv, kind: csv, mapping: csv_default, drop_dir: drop, settle_seconds: 0,"
        " announce_existing: true}\n"
        "notifiers:\n  - {name: outbox, kind: outbox, directory: .clinicsync/outbox}\n", encoding="utf-8")
    if sync:
        measure([*_clinicsync(), "sync", "--once"], folder, env)


PURPOSE = "CPU of `clinicsync --help` and `status`, against bare python and `import typer` (interleaved rounds)"


def arguments() -> argparse.ArgumentParser:
    """This workload's options (``python -m bench`` lists them without running anything)."""
    parser = common_arguments(__doc__ or "")
    add_rounds(parser, default=7)
    return parser


def main(argv: list[str]) -> list[Table]:
    args = arguments().parse_args(argv)
    rounds = rounds_of(args)
    # made first: its load column spans the runs measured from here on
    table = Table(f"W7 CLI start: CPU seconds per command, fresh processes, {rounds} interleaved round(s)",
                  ["case", "cpu_median", "cpu_lowest", "wall_median", "over_bare_python", "ratio_to_bare", "goal"])
    env = child_env()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-w7-") as scratch:
        folder = Path(scratch)
        demo_store(folder, env, sync=not args.smoke)  # --smoke: status on an empty store, no warm-up
        cli = _clinicsync()
        cases: list[tuple[str, list[str], dict[str, str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], env),
            ('python -c "import typer"', [sys.executable, "-c", "import typer"], env),
            ("clinicsync --help", [*cli, "--help"], env),
            ("clinicsync status", [*cli, "status"], env),
        ]
        cold = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(folder / "no-cache")}
        if not args.smoke:
            cases += [("clinicsync --help, no bytecode cache", [*cli, "--help"], cold),
                      ("clinicsync status, no bytecode cache", [*cli, "status"], cold)]
            for _name, command, environment in cases:  # warm-up: bytecode caches, the page cache
                measure(command, folder, environment)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name, _c, _e in cases}
        for _round in range(rounds):
            for name, command, environment in cases:
                harness.LOADS.append(load_1min())  # the table's load column spans every measured run
                figures[name].append(measure(command, folder, environment))
                harness.LOADS.append(load_1min())
    load_after = os.getloadavg()
    bare = statistics.median(cpu for cpu, _wall in figures["python -c pass"])
    for name, _command, _environment in cases:
        cpus = [cpu for cpu, _wall in figures[name]]
        row: dict[str, Any] = {"case": name, "cpu_median": statistics.median(cpus), "cpu_lowest": min(cpus),
                               "wall_median": statistics.median(wall for _cpu, wall in figures[name]),
                               "over_bare_python": statistics.median(cpus) - bare,
                               "ratio_to_bare": ratio(statistics.median(cpus), bare), "goal": ""}
        if name in ("clinicsync --help", "clinicsync status"):
            met = row["cpu_median"] <= GOAL_CPU_SECONDS
            row["goal"] = f"≤ {GOAL_CPU_SECONDS} s: {'met' if met else 'NOT met'}"
        table.add(**row)
    table.notes.append(f"load average (1, 5, 15 min) before {tuple(round(x, 2) for x in load_before)}, "
                       f"after {tuple(round(x, 2) for x in load_after)}; {os.cpu_count()} CPUs")
    table.notes.append("cpu: user + system of the finished child (getrusage); status reads the demo store "
                       "(SQLite, one sync of examples' sample)")
    return emit([table], args)


if __name__ == "__main__":
    main(sys.argv[1:])
