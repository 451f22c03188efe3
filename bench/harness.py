"""What every workload shares: running one case in a fresh Python process (so that peak
RSS and warm caches belong to that case alone), and printing a table with ratios.

A workload module (``bench/w1_csv_ingest.py`` …) exposes ``main(argv) -> list[Table]``
and accepts the common flags of :func:`common_arguments`. A case is a module-level
function that does its own setup, times only the work being measured with
:class:`Stopwatch`, and returns a dict of figures; :func:`run_case` runs it in a child
and adds the child's peak RSS. Results are printed, never asserted: machines here are
noisy, so every table puts clinicsync next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("CLINICSYNC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    """``with Stopwatch() as watch: …`` then ``watch.seconds`` (wall time of the block only)
    and ``watch.cpu_seconds`` (this process's CPU time over it, all threads: steadier than
    wall time on a shared machine)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._began = time.perf_counter()
        self._cpu_began = time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._began
        self.cpu_seconds = time.process_time() - self._cpu_began


@contextmanager
def _own_postgres_schema() -> Iterator[str]:
    """A store URL on a fresh schema of the local PostgreSQL server, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


# Where PostgreSQL variants get their fresh schemas. `python -m bench` uses the server named
# by CLINICSYNC_BENCH_POSTGRES; the test suite's smoke run puts its own PostgreSQL fixture
# here (tests/bench/conftest.py), so the suite has one PostgreSQL setting, not two.
SCHEMAS: Callable[[], AbstractContextManager[str]] = _own_postgres_schema


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema (from SCHEMAS), dropped afterwards."""
    with SCHEMAS() as url:
        yield url


def child_env() -> dict[str, str]:
    """Children keep bytecode caching on (this machine sets PYTHONDONTWRITEBYTECODE) and
    log only warnings, so neither recompiling nor logging is what gets measured."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONDONTWRITEBYTECODE", "CLINICSYNC_CONFIG"}}
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


# The 1-minute load average after each case run_case ran, in order: a table shows, beside its
# ratios, the range of load under which its own cases ran (a CPU ratio moves with load, and the
# two sides of a ratio may not suffer alike), so a run on a busy machine says so in its rows.
LOADS: list[float] = []


def load_1min() -> float:
    return os.getloadavg()[0]


def run_case(target: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter and return its figures plus
    ``peak_rss_mb`` of that process. Arguments and results travel as JSON."""
    LOADS.append(load_1min())
    try:
        return _run_child(target, kwargs)
    finally:
        LOADS.append(load_1min())


# The test suite's smoke runs set this: a case then runs in the calling process (its own
# logging configuration put back afterwards), since a smoke run measures nothing and a fresh
# interpreter per case (pandas, dlt and clinicsync imported again) was most of its time.
IN_PROCESS_ENV = "CLINICSYNC_BENCH_IN_PROCESS"


def _run_child(target: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    if os.environ.get(IN_PROCESS_ENV) == "1":
        return _run_here(target, kwargs)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.harness", target, json.dumps(kwargs)],
        capture_output=True, text=True, cwd=ROOT, env=child_env(), check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{target} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _run_here(target: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The case in this process, its arguments and figures through JSON as a child's are."""
    import logging

    import structlog

    saved_structlog, root = structlog.get_config(), logging.getLogger()
    saved_logging = (root.level, list(root.handlers))
    saved_process = (os.getcwd(), dict(os.environ), gc.get_threshold())
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        figures = dict(function(**json.loads(json.dumps(kwargs))))
    finally:  # what a child's exit would have dropped: the caller's process goes on as it was
        structlog.configure(**saved_structlog)
        root.setLevel(saved_logging[0])
        root.handlers[:] = saved_logging[1]
        os.chdir(saved_process[0])
        os.environ.clear()
        os.environ.update(saved_process[1])
        gc.set_threshold(*saved_process[2])
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return dict(json.loads(json.dumps(figures, default=str)))


def _child(target: str, arguments: str) -> None:
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    figures = dict(function(**json.loads(arguments)))
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(figures, default=str))


LOAD_COLUMN = "load_1min"
# Columns holding a ratio against a baseline (M1 names its own: cpu_first_per_pandas, …).
RATIO_MARKS = ("ratio", "_per_pandas", "_per_first")


@dataclass
class Table:
    """One workload's result: rows of figures, with the columns to show in order.

    A table with a ratio column gets a ``load_1min`` column right after it: the lowest and
    highest 1-minute load average seen around the cases run (run_case) since the previous row
    was added (or the table made); a row with no case run since shares the previous row's
    range (its figures come from the same cases), and without any, the load now."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False  # a workload that judges its figures (the scale test): `python -m bench` exits 1
    _first_load: int = field(default_factory=lambda: len(LOADS), repr=False)
    _load_range: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        ratios = [i for i, column in enumerate(self.columns) if any(mark in column for mark in RATIO_MARKS)]
        if ratios and LOAD_COLUMN not in self.columns:
            self.columns.insert(ratios[-1] + 1, LOAD_COLUMN)

    def add(self, **row: Any) -> None:
        if LOAD_COLUMN in self.columns and LOAD_COLUMN not in row:
            seen, self._first_load = LOADS[self._first_load:], len(LOADS)
            if seen or not self._load_range:
                low, high = min(seen or [load_1min()]), max(seen or [load_1min()])
                self._load_range = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"
            row[LOAD_COLUMN] = self._load_range
        self.rows.append(row)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "notes": self.notes,
                "failed": self.failed}


def ratio(numerator: float, denominator: float) -> float | None:
    """A ratio for a table; None (printed as n/a) when the baseline measured zero."""
    return None if not denominator else numerator / denominator


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def render(tables: Sequence[Table]) -> None:
    """Print each table with rich (plain text when not on a terminal)."""
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=160)
    for table in tables:
        shown = RichTable(title=table.title, title_justify="left")
        for column in table.columns:
            shown.add_column(column, justify="left" if column in {"case", "goal", "figure"} else "right")
        for row in table.rows:
            shown.add_row(*(_cell(row.get(column)) for column in table.columns))
        console.print(shown)
        for note in table.notes:
            console.print(f"  {note}")
        console.print()


def whole_count(unit: str, too_small: str) -> Callable[[str], int]:
    """An argparse type: a positive whole number of ``unit`` (``20000`` or ``20_000``), with
    ``too_small`` as the message for zero or less. Every count flag of the bench is one."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {unit}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r}: {too_small}")
        return value

    return parse


row_count = whole_count("rows", "a size must be at least 1 row")
"""argparse type of a size flag (``--rows``, each of ``--sizes``)."""
round_count = whole_count("rounds", "at least 1 round")
"""argparse type of ``--rounds``."""


def row_counts(text: str) -> tuple[int, ...]:
    """argparse type of ``--sizes``: comma-separated positive whole numbers."""
    return tuple(row_count(part.strip()) for part in text.split(","))


def add_rounds(parser: argparse.ArgumentParser, default: int, smoke_default: int = 1) -> None:
    """Declare the shared ``--rounds N`` (a workload that runs its cases interleaved declares it;
    ``python -m bench`` refuses it for a run none of whose workloads does)."""
    parser.add_argument("--rounds", type=round_count, default=None,
                        help=f"interleaved rounds: every case once per round, in the same order, the median "
                             f"reported (default {default}; {smoke_default} with --smoke)")
    parser.set_defaults(rounds_default=(default, smoke_default))


def rounds_of(args: argparse.Namespace) -> int:
    """The rounds asked for, else the workload's default (its --smoke default with --smoke)."""
    default, smoke_default = args.rounds_default
    return int(args.rounds or (smoke_default if args.smoke else default))


def _median(values: list[Any]) -> Any:
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return statistics.median_low(values)  # counts stay whole numbers
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return statistics.median(values)
    return values[-1]


def interleaved(cases: Sequence[tuple[str, Callable[[], dict[str, Any]]]], rounds: int
                ) -> dict[str, dict[str, Any]]:
    """Run every case once per round, in the same order each round (A, B, C, A, B, C, …), so a
    load spike or a slow minute falls on every case alike rather than on one side of a ratio.
    Returns per case the median of each numeric figure over the rounds (other values: the last
    round's), with ``rounds`` and, per measured (float) figure, its spread over the rounds
    (``<figure>_spread``: (highest - lowest) / median) so a noisy run shows it."""
    seen: dict[str, list[dict[str, Any]]] = {name: [] for name, _case in cases}
    for _round in range(rounds):
        for name, case in cases:
            seen[name].append(case())
    out: dict[str, dict[str, Any]] = {}
    for name, runs in seen.items():
        keys = [key for key in runs[0] if all(key in run for run in runs)]
        figures = {key: _median([run[key] for run in runs]) for key in keys}
        for key in keys:
            values = [run[key] for run in runs]
            if len(runs) > 1 and all(isinstance(v, float) for v in values):
                middle = statistics.median(values)
                figures[f"{key}_spread"] = (max(values) - min(values)) / middle if middle else None
        figures["rounds"] = len(runs)
        out[name] = figures
    return out


def common_arguments(description: str) -> argparse.ArgumentParser:
    """The flags every workload takes: --smoke (tiny sizes; CI), --json (machine output),
    --postgres/--no-postgres (run the PostgreSQL variant against the local server)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the bench runs, measures nothing")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON instead")
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the PostgreSQL variant (needs the server at 127.0.0.1:5432)")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # python -m bench collects JSON
    return parser


def emit(tables: list[Table], args: argparse.Namespace) -> list[Table]:
    """Print the tables as the flags ask and return them (``python -m bench`` collects them)."""
    if args.quiet:
        return tables
    if args.json:
        print(json.dumps([t.as_dict() for t in tables], indent=2, default=str))
    else:
        render(tables)
    return tables


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
