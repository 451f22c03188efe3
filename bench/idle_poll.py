"""The CPU of one idle poll in `clinicsync run` (the service's poll job), at N sources.

    python -m bench.idle_poll 10 50 [--rounds 3]                   # CSV sources of 100 rows, SQLite store
    python -m bench.idle_poll --cases [--sources 10] [--rounds 5] [--before TREE]

The first form: N CSV sources of 100 rows each (one folder each) on a SQLite store in
a temporary folder; each source is imported once, then every source is polled ``rounds`` more
times with nothing new.

``--cases`` (docs/performance.md, "Idle, in `clinicsync run`"): for each kind of source and
store, N sources of 500 rows each: CSV folders, FHIR servers (bench/fhir_server.py, one
process, every source a connector of it; an idle poll's ``_lastUpdated`` search answers an
empty page) and SQL tables (one PostgreSQL schema, a table per source with an ``updated_at``
cursor column), on a SQLite store and on a PostgreSQL store (a fresh schema). Each case runs in
a fresh interpreter. Beside them, in the same run, the floor: a bare ``SELECT`` of one such
table (psycopg on an open connection, all 500 rows fetched) and the SELECT an idle
incremental poll sends (no row).

The figure is the CPU time of the measuring process (time.process_time: user + system of all
its threads, so waiting for a busy CPU does not count; the database server's and the FHIR
server's CPU are not in it) of one round of N idle polls, divided by N, the median of the
rounds; the poll job is called directly (sync/service/jobs.py ``poll_connector_job``), as
the service's poll thread does, with one ServiceContext for the whole run as the service has.
``--before TREE``: the same cases also run against another checkout (``git archive`` of the
commit before), through PYTHONPATH=TREE, with this script; ``--pairs P``: each case in P child
processes per tree, before and after alternating, and the ratio after/before pair by pair (the
median). Each child also counts, in one more idle round not timed, the statements an idle poll
sends to the store and how many of them write.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (--before): bench and tests from PYTHONPATH, else here
    sys.path.append(str(ROOT))

from tests.reliability.harness import write_drop, write_settings  # noqa: E402

ROWS = 500
CASES = [("csv", "sqlite"), ("csv", "postgres"), ("fhir", "sqlite"), ("fhir", "postgres"), ("sql", "postgres"),
         ("sql", "sqlite")]
SQL_MAPPING = """\
name: bench_idle_sql
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  patient.external_id: {from: patient_id}
"""


def measure(sources: int, rounds: int) -> tuple[float, float | None]:
    """Stop 56's figure: CSV sources of 100 rows on a SQLite store (per idle poll, one stages pass)."""
    from clinicsync.sync.service import jobs

    folder = Path(tempfile.mkdtemp(prefix="idle-poll-"))
    connectors = []
    for n in range(sources):
        write_drop(folder / f"drop{n}", "a.csv", 100, prefix=f"S{n}-")
        connectors.append({"name": f"s{n}", "drop_dir": str(folder / f"drop{n}")})
    ctx = _context(folder, f"sqlite:///{folder / 'store.db'}", connectors)
    names = [c["name"] for c in connectors]
    stages = getattr(jobs, "stages_job", None)
    for name in names:  # the first import, then one idle round to warm the caches
        jobs.poll_connector_job(ctx, name)
    if stages is not None:
        stages(ctx)
    per_poll = _rounds(ctx, names, rounds)
    pass_cpu = None
    if stages is not None:
        began = time.process_time()
        stages(ctx)
        pass_cpu = time.process_time() - began
    return statistics.median(per_poll), pass_cpu


def _context(folder: Path, store_url: str, connectors: list[dict[str, Any]]) -> Any:
    from clinicsync.sync.config.settings import load_settings
    from clinicsync.sync.service import jobs
    from clinicsync.sync.store.db import make_engine, upgrade
    from clinicsync.sync.store.store import Store

    engine = make_engine(store_url)
    upgrade(engine)
    return jobs.ServiceContext(load_settings(_settings(folder, store_url, connectors)), Store(engine))


def _settings(folder: Path, store_url: str, connectors: list[dict[str, Any]]) -> Path:
    """CSV sources as the reliability harness writes them; the others as given."""
    import yaml

    path = write_settings(folder, store_url, [c for c in connectors if c.get("kind", "csv") == "csv"])
    others = [c for c in connectors if c.get("kind", "csv") != "csv"]
    if others:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["connectors"] += others
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _rounds(ctx: Any, names: list[str], rounds: int) -> list[float]:
    """One idle round to warm the caches, then ``rounds`` timed rounds: CPU per poll of each."""
    from clinicsync.sync.service import jobs

    for name in names:
        result = jobs.poll_connector_job(ctx, name)
    assert result is not None and not result["failed"], result
    per_poll = []
    for _ in range(rounds):
        began = time.process_time()
        for name in names:
            result = jobs.poll_connector_job(ctx, name)
        per_poll.append((time.process_time() - began) / len(names))
        assert result is not None and not result["failed"] and not result[names[-1]]["created"], result
    return per_poll


# -- the --cases run ----------------------------------------------------------------------------

def postgres_url() -> str:
    from bench.harness import POSTGRES_ADMIN_URL

    return str(POSTGRES_ADMIN_URL)


@contextlib.contextmanager
def _schema() -> Iterator[str]:
    """A fresh PostgreSQL schema (its name), dropped afterwards."""
    import psycopg

    name = f"bench_idle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP SCHEMA "{name}" CASCADE')


def _sql_tables(schema: str, sources: int) -> None:
    """``appts<n>`` of ROWS rows each, visits in the coming days, each changed a minute after the
    one before, the last an hour ago (so an idle poll's overlap re-reads one row, not all)."""
    import psycopg

    start = datetime.utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    updated = datetime.utcnow().replace(microsecond=0) - timedelta(hours=1)
    with psycopg.connect(postgres_url(), autocommit=True) as connection:
        for n in range(sources):
            table = f'"{schema}".appts{n}'
            connection.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, patient_id VARCHAR(20), "
                               "starts_at TIMESTAMP, minutes INT, status VARCHAR(20), updated_at TIMESTAMP)")
            connection.execute(f"CREATE INDEX ON {table} (updated_at)")
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)",
                                   [(i, f"P{n}-{i % 300}", start + timedelta(minutes=15 * i), 15, "booked",
                                     updated - timedelta(minutes=ROWS - i))
                                    for i in range(ROWS)])


@contextlib.contextmanager
def _fhir_server() -> Iterator[str]:
    from bench.w2_fhir_poll import PAGE_SIZE

    process = subprocess.Popen([sys.executable, "-m", "bench.fhir_server", str(ROWS), str(PAGE_SIZE)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"the FHIR bench server did not start (exit code {process.poll()})")
        yield line[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def _store(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'store.db'}"
        return
    with _schema() as schema:
        yield f"{postgres_url()}?options=-csearch_path%3D{schema}"


def case(kind: str, store: str, sources: int, rounds: int) -> dict[str, Any]:
    """One kind of source on one kind of store, in this process: CPU per idle poll (ms)."""
    folder = Path(tempfile.mkdtemp(prefix=f"idle-{kind}-"))
    with contextlib.ExitStack() as stack:
        store_url = stack.enter_context(_store(store, folder))
        if kind == "csv":
            connectors = []
            for n in range(sources):
                write_drop(folder / f"drop{n}", "a.csv", ROWS, prefix=f"S{n}-")
                connectors.append({"name": f"s{n}", "drop_dir": str(folder / f"drop{n}")})
        elif kind == "fhir":
            base_url = stack.enter_context(_fhir_server())
            connectors = [{"name": f"s{n}", "kind": "fhir", "base_url": base_url,
                           "page_size": 100, "include": ["patient", "practitioner", "location"],
                           "timezone": "America/Chicago"} for n in range(sources)]
        else:
            schema = stack.enter_context(_schema())
            _sql_tables(schema, sources)
            (folder / "sql.yaml").write_text(SQL_MAPPING, encoding="utf-8")
            connectors = [{"name": f"s{n}", "kind": "sql", "mapping": str(folder / "sql.yaml"), "url": postgres_url(),
                           "table": f"{schema}.appts{n}", "cursor_column": "updated_at", "timezone": "UTC"}
                          for n in range(sources)]
        with contextlib.redirect_stdout(io.StringIO()):  # the console log of every poll
            ctx = _context(folder, store_url, connectors)
            names = [c["name"] for c in connectors]
            from clinicsync.sync.service import jobs

            for name in names:  # the first import
                first = jobs.poll_connector_job(ctx, name)
                assert first is not None and first[name]["created"] > 0, first
            per_poll = _rounds(ctx, names, rounds)
            statements, writes = _statements(ctx, names)
        ctx.store.engine.dispose()
    return {"kind": kind, "store": store, "ms": statistics.median(per_poll) * 1000,
            "rounds_ms": [round(r * 1000, 2) for r in per_poll], "statements": statements, "writes": writes}


def _statements(ctx: Any, names: list[str]) -> tuple[float, float]:
    """One more idle round, not timed: the statements sent to the store per poll, and of them the
    writes (anything but a SELECT; the poll lock's statements count as reads on PostgreSQL)."""
    from sqlalchemy import event

    from clinicsync.sync.service import jobs

    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement.lstrip()[:6].upper())

    event.listen(ctx.store.engine, "before_cursor_execute", seen)
    try:
        for name in names:
            jobs.poll_connector_job(ctx, name)
    finally:
        event.remove(ctx.store.engine, "before_cursor_execute", seen)
    return len(sent) / len(names), sum(1 for s in sent if s != "SELECT") / len(names)


def bare_select(repeat: int = 50) -> dict[str, Any]:
    """The floor, in a fresh interpreter too: a bare SELECT of one 500-row table on an open
    psycopg connection (all rows fetched), and the SELECT of an idle incremental poll
    (``updated_at >= now``: no row), CPU per statement (ms), the median of 5 rounds."""
    import psycopg

    with _schema() as schema:
        _sql_tables(schema, 1)
        with psycopg.connect(postgres_url()) as connection:
            figures = {}
            table = f'"{schema}".appts0'
            for label, sql in (("all", f"SELECT * FROM {table}"),
                               ("none", f"SELECT * FROM {table} WHERE updated_at >= now() ORDER BY updated_at")):
                connection.execute(sql).fetchall()
                samples = []
                for _ in range(5):
                    began = time.process_time()
                    for _ in range(repeat):
                        connection.execute(sql).fetchall()
                    samples.append((time.process_time() - began) / repeat)
                figures[label] = statistics.median(samples) * 1000
            connection.rollback()
    return figures


def _child(args: list[str], tree: Path | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree or ROOT)
    completed = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True,
                               text=True, env=env, cwd=tree or ROOT, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def run_cases(sources: int, rounds: int, before: Path | None, only: list[str] | None, pairs: int = 1) -> None:
    """Each case in ``pairs`` child processes per tree, before and after alternating (a load
    spike falls on both alike); per tree the median of the children's medians, and with
    ``--before`` the median of the after/before ratios pair by pair."""
    trees: list[tuple[str, Path | None]] = ([("before", before)] if before else []) + [("after", None)]
    floor = _child(["--floor"], None)
    print(f"load {os.getloadavg()[0]:.1f}; bare SELECT of a {ROWS}-row table: {floor['all']:.2f} ms CPU; "
          f"an idle poll's SELECT (no row): {floor['none']:.2f} ms", file=sys.stderr)
    for kind, store in CASES:
        if only and f"{kind}/{store}" not in only:
            continue
        found: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in trees}
        for _ in range(pairs):
            for label, tree in trees:
                found[label].append(_child(["--case", kind, store, str(sources), str(rounds)], tree))
        line = []
        for label, runs in found.items():
            line.append(f"{label} {statistics.median(r['ms'] for r in runs):.2f} ms "
                        f"(children {[round(r['ms'], 2) for r in runs]}; "
                        f"{runs[-1].get('statements', float('nan')):.1f} statements, "
                        f"{runs[-1].get('writes', float('nan')):.1f} writes per poll)")
        if before:
            ratio = statistics.median(a["ms"] / b["ms"] for a, b in zip(found["after"], found["before"], strict=True))
            line.append(f"after/before {ratio:.2f}")
        print(f"{kind} on {store}, {sources} sources, load {os.getloadavg()[0]:.1f}: CPU per idle poll: "
              + "; ".join(line), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sources", type=int, nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", action="store_true", help="every kind of source and store")
    parser.add_argument("--only", nargs="*", help="with --cases: these, e.g. sql/postgres csv/sqlite")
    parser.add_argument("--before", type=Path, help="with --cases: also run against this checkout")
    parser.add_argument("--pairs", type=int, default=1, help="with --cases: child processes per tree, alternating")
    parser.add_argument("--case", nargs=4, help=argparse.SUPPRESS)  # kind store sources rounds (a child)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        kind, store, sources, rounds = args.case
        print(json.dumps(case(kind, store, int(sources), int(rounds))))
        return
    if args.floor:
        print(json.dumps(bare_select()))
        return
    if args.cases:
        run_cases(args.sources[0] if args.sources else 10, args.rounds, args.before, args.only, args.pairs)
        return
    for sources in args.sources:
        with contextlib.redirect_stdout(io.StringIO()):  # the console log of every poll
            per_poll, pass_cpu = measure(sources, args.rounds)
        stages = f"; one idle stages pass {pass_cpu * 1000:.0f} ms" if pass_cpu is not None else ""
        print(f"{sources} sources: {per_poll * 1000:.1f} ms CPU per idle poll{stages}", file=sys.stderr)


if __name__ == "__main__":
    main()
