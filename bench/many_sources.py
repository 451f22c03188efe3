"""Many sources, two workers: N sources in one settings file, polled by
``clinicsync run`` workers that share one PostgreSQL store, for a measured window.

A soak, not a workload of ``python -m bench`` (it takes the window's minutes and prints its own
tables); every figure scales with the options, so a quick run checks the harness:

    uv run --frozen python -m bench.many_sources                       # 1,000 sources, 5 min, 20 min
    uv run --frozen python -m bench.many_sources --sources 60 --minutes 2 --interval 30

**The load.** ``--sources`` sources (``--mix``, default 50 % SQL, 30 % CSV, 20 % FHIR), each with
``--visits`` booked visits (default 30: 1,000 sources are then 30,000 visits and ~90,000
planned reminders, an initial import two cores finish in minutes, not the window's length;
the idle polls measured do not depend on the count):

- SQL: one table per source in a schema of its own in the PostgreSQL database, read
  incrementally on an indexed ``updated_at`` (wall clock in the clinic's zone);
- CSV: one drop folder per source, its export kept in place (delta mode);
- FHIR: tenants of ``--fhir-servers`` loopback processes (bench/fhir_tenants.py), every answer
  ``--fhir-latency-ms`` late;
- ``--hang-share`` of them (1 %, at least one) hang, alternately a SQL source whose query
  sleeps an hour (``pg_sleep``) and a FHIR tenant that never answers; both are cut by the
  source's timeout (``--timeout``), so they fail each poll.

``--workers`` ``clinicsync run`` processes (the CLI's own entry) share a store in a fresh schema
of the same database; every source is polled every ``--interval``; reminders are planned into
the dry-run outbox. **Warm-up**: the workers start, import every source and plan its
reminders; the measured window (``--minutes``) begins once every source has a finished run and
the stages have read the whole outbox.

**The measures** (all from the same run):

- *polled once per interval*: from the workers' own record of each poll (their JSON log's
  ``job.finished`` line of the poll job, at its end; skipped polls left out), per source, the
  gaps between its polls' ends: a gap under half an interval is a source polled twice, a gap
  over an interval plus ``SLACK`` (or no poll that near the window's edges) one missed. Not
  the store's run history: consecutive idle polls share one row there, moved to the latest
  (``RunLog.note_idle_poll``), so it keeps no time for the others; it counts them, which the
  bench reports beside the logs' count (``RunLog.polls_recorded`` at the window's two edges);
- *change latency*: ``--change-share`` of the sources a minute, one visit's time is moved at its
  source (SQL ``UPDATE``, a new CSV file, the FHIR tenant's control call); the latency is the time
  until the store holds the new version and reminders planned for that version (polled every
  ``CHECK_EVERY`` seconds; a change unseen one interval plus a minute after the window counts as
  missed); target interval + 30 s at the 99th percentile;
- *CPU per poll*: each worker's user + system CPU (``/proc/<pid>/stat``) over the window's first
  ``--quiet-minutes`` (no change made: idle polls), over the rest and over all of it, divided by
  the polls it ran then (its log's ``job.finished`` lines of poll jobs, skipped ones left out),
  against, in a child process of this run, a bare ``SELECT`` of the same SQL tables
  (on an open connection, and with a connection per query as the connector opens one) and a bare
  ``GET`` of a FHIR tenant's incremental search;
- *memory*: each worker's RSS at the window's start, its highest, and at the end;
- *a worker killed*: ``--kill-at`` through the window one worker gets SIGKILL; for every source,
  the time from the kill to its next poll's end (target: within one interval plus ``SLACK``).

Raw files (settings, worker logs, samples, the JSON of every figure) stay in ``--workdir``
(a new folder under /tmp by default); the schemas are dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

from bench.fhir_tenants import first_start
from bench.harness import POSTGRES_ADMIN_URL, ROOT, Table, child_env, load_1min, ratio, render, run_case
from clinicsync.sync.cli.demo import COLUMNS
from clinicsync.sync.store.db import make_engine
from clinicsync.sync.store.store import Store

CLINICSYNC = Path(sys.executable).parent / "clinicsync"
ZONE = "America/New_York"
SLACK = 30.0  # seconds beyond an interval that still count as "once per interval" (the issue's + 30 s)
CHECK_EVERY = 1.0  # seconds between looks at the store for changes not yet seen
SAMPLE_EVERY = 5.0  # seconds between samples of the workers' CPU, RSS and connections
POSTGRES_PORT = int(os.environ.get("CLINICSYNC_BENCH_POSTGRES_PORT", "5432"))
TICKS = os.sysconf("SC_CLK_TCK")
SQL_MAPPING = """\
name: bench_many_sql
fields:
  external_id: {from: id, required: true}
  start: {from: starts_at}
  duration_minutes: {from: minutes}
  status: {from: status}
  type: {from: visit_type}
  patient.external_id: {from: patient_id}
  patient.name: {from: patient_name}
  patient.phone: {from: patient_phone}
  practitioner.external_id: {from: doctor_id}
  practitioner.name: {from: doctor_name}
"""
SQL_COLUMNS = "id, patient_id, patient_name, patient_phone, doctor_id, doctor_name, visit_type, starts_at, minutes, " \
              "status, updated_at"


# -- the sources ------------------------------------------------------------------------------------
@dataclass
class Source:
    name: str
    kind: str  # sql | csv | fhir
    index: int  # within its kind: the table t<index>, the folder, the FHIR tenant
    hung: bool = False


def plan_sources(total: int, mix: tuple[int, int, int], hang_share: float) -> list[Source]:
    """The sources by kind in proportion to ``mix``, interleaved (s0000 sql, s0001 csv, …) so
    that any prefix has the same mix; ``hang_share`` of them (at least one) hang, SQL and FHIR
    in turn."""
    shares = [m / sum(mix) for m in mix]
    counts = [math.floor(total * s) for s in shares]
    counts[0] += total - sum(counts)
    kinds: list[str] = []
    left = dict(zip(("sql", "csv", "fhir"), counts, strict=True))
    while len(kinds) < total:
        for kind in ("sql", "csv", "fhir"):
            if left[kind] and len(kinds) < total:
                kinds.append(kind)
                left[kind] -= 1
    seen = {"sql": 0, "csv": 0, "fhir": 0}
    sources = []
    for n, kind in enumerate(kinds):
        sources.append(Source(f"s{n:04d}", kind, seen[kind]))
        seen[kind] += 1
    hang = max(1, round(total * hang_share)) if hang_share > 0 else 0
    candidates = [[s for s in sources if s.kind == "sql"], [s for s in sources if s.kind == "fhir"]]
    for n in range(hang):  # spread over the list, SQL then FHIR
        pool = candidates[n % 2] or candidates[(n + 1) % 2]
        if pool:
            pool[(len(pool) * (n // 2 + 1)) // (hang // 2 + 2)].hung = True
    return sources


def visit_start_local(now: datetime, n: int) -> datetime:
    """Visit n's start as naive wall clock in the clinic's zone (SQL and CSV keep local times)."""
    return first_start(now, n).astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)


def create_sql_tables(conninfo: str, schema: str, sources: list[Source], visits: int) -> None:
    now = datetime.now(UTC)
    stamp = (now - timedelta(days=1)).astimezone(ZoneInfo(ZONE)).replace(tzinfo=None, microsecond=0)
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
        for source in sources:
            table = f'"{schema}".t{source.index:04d}'
            db.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, patient_id text, patient_name text, "
                       "patient_phone text, doctor_id text, doctor_name text, visit_type text, "
                       "starts_at timestamp NOT NULL, minutes int, status text, updated_at timestamp NOT NULL)")
            db.execute(f"CREATE INDEX ON {table} (updated_at)")
            with db.cursor() as cur, cur.copy(f"COPY {table} ({SQL_COLUMNS}) FROM STDIN") as copy:
                for n in range(visits):
                    copy.write_row(_row(source, n, visit_start_local(now, n), stamp))


def _row(source: Source, n: int, start: datetime, stamp: datetime) -> tuple[Any, ...]:
    """One visit: made-up patients (555-01xx fiction numbers), four doctors."""
    p = n % 20
    return (f"v{n:03d}", f"P{p:02d}", f"Patient {source.index}-{p}", f"+1 212 555 01{p:02d}", f"D{n % 4}",
            f"Dr. Doc{n % 4}", "Follow-up", start, 30, "booked", stamp)


def csv_row(source: Source, n: int, start: datetime) -> dict[str, str]:
    ident, pid, name, phone, did, doctor, kind, _s, minutes, status, _u = _row(source, n, start, start)
    row = {c: "" for c in COLUMNS}
    row.update({"appointment_id": ident, "start": start.strftime("%Y-%m-%d %H:%M"), "duration_minutes": str(minutes),
                "status": status, "type": kind, "patient_id": pid, "patient_name": name, "patient_phone": phone,
                "doctor_id": did, "doctor_name": doctor, "location": "Main"})
    return row


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Atomically (a hidden temporary name, then a rename): the connector never sees half a file."""
    part = path.with_name(f".{path.name}.part")
    with part.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    part.rename(path)


def create_csv_folders(root: Path, sources: list[Source], visits: int, now: datetime) -> None:
    """One export per source, its visits' starts counted from ``now`` (a change rewrites a row
    from the same ``now``: the bench keeps it)."""
    for source in sources:
        folder = root / f"drop{source.index:04d}"
        folder.mkdir(parents=True)
        write_csv(folder / "export-0000.csv", [csv_row(source, n, visit_start_local(now, n)) for n in range(visits)])


@contextmanager
def fhir_servers(sources: list[Source], servers: int, visits: int, latency_ms: float) -> Iterator[dict[int, str]]:
    """The FHIR tenants split over ``servers`` processes: tenant index -> its root URL."""
    tenants = sorted(s.index for s in sources)
    hung = {s.index for s in sources if s.hung}
    roots: dict[int, str] = {}
    processes: list[subprocess.Popen[str]] = []
    try:
        if tenants:
            per = math.ceil(len(tenants) / servers)
            for first in range(0, len(tenants), per):
                count = min(per, len(tenants) - first)
                hung_here = ",".join(str(k) for k in hung if first <= k < first + count)
                process = subprocess.Popen(
                    [sys.executable, "-m", "bench.fhir_tenants", str(first), str(count), str(visits),
                     str(latency_ms), hung_here], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=child_env())
                processes.append(process)
                assert process.stdout is not None
                line = process.stdout.readline().split()
                if not line or line[0] != "ready":
                    raise RuntimeError(f"a FHIR tenants server did not start (exit code {process.poll()})")
                roots.update({k: line[1] for k in range(first, first + count)})
        yield roots
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def source_query(table: str) -> str:
    """A SQL source's query of its table (bench/idle_prepare.py reads the same one)."""
    return (f"SELECT t.id, t.patient_id, t.patient_name, t.patient_phone, t.doctor_id, t.doctor_name, "
            f"t.visit_type, t.starts_at, t.minutes, t.status, t.updated_at FROM {table} AS t")


def settings_text(args: argparse.Namespace, store_url: str, data_url: str, data_schema: str,
                  sources: list[Source], roots: dict[int, str], work: Path) -> str:
    interval = f"{args.interval:g}s"
    lines: list[str] = []
    for s in sources:
        common = f"name: {s.name}, schedule: {{interval: {interval}}}"
        if s.kind == "sql":
            table = f"{data_schema}.t{s.index:04d}"
            query = source_query(table)
            if s.hung:
                query += " CROSS JOIN pg_sleep(3600) AS s"
            lines.append(f"  - {{{common}, kind: sql, url: '{data_url}', query: '{query}', "
                         f"mapping: {work / 'sql_mapping.yaml'}, cursor_column: updated_at, timezone: {ZONE}, "
                         f"timeout: {args.timeout:g}}}")
        elif s.kind == "csv":
            folder = work / "drops" / f"drop{s.index:04d}"
            lines.append(f"  - {{{common}, kind: csv, mapping: csv_default, drop_dir: {folder}, "
                         f"settle_seconds: 0, timezone: {ZONE}}}")
        else:
            lines.append(f"  - {{{common}, kind: fhir, base_url: '{roots[s.index]}/t{s.index}/fhir', "
                         f"timeout_seconds: {args.timeout:g}, timezone: {ZONE}}}")
    service = f"service: {{poll_workers: {args.poll_workers}}}\n" if args.poll_workers else ""
    return textwrap.dedent(f"""\
        clinic: {{name: Bench Group, timezone: {ZONE}, default_region: US}}
        store: {{url: '{store_url}', pool_size: {args.pool_size}, max_overflow: {args.max_overflow}}}
        logging: {{level: info, format: json}}
        """) + service + "notifiers:\n" + \
        f"  - {{name: outbox, kind: outbox, directory: {work / 'outbox'}, rate_per_second: 500}}\n" + \
        "connectors:\n" + "\n".join(lines) + "\n"


# -- the workers ------------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def proc_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def postgres_sockets(pid: int) -> int | None:
    """How many TCP connections the process holds to PostgreSQL's port (store and SQL sources):
    its socket inodes (/proc/<pid>/fd) looked up in the kernel's table (/proc/net/tcp)."""
    try:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        port = f":{POSTGRES_PORT:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[2].endswith(port) and parts[9] in inodes and parts[3] == "01":  # ESTABLISHED
                    count += 1
        return count
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


@dataclass
class Worker:
    number: int
    process: subprocess.Popen[bytes]
    log: Path
    samples: list[dict[str, float]] = field(default_factory=list)  # t (epoch), cpu, rss
    killed_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> dict[str, float] | None:
        cpu, rss, sockets = proc_cpu(self.pid), proc_rss_mib(self.pid), postgres_sockets(self.pid)
        if cpu is None or rss is None or self.process.poll() is not None:
            return None
        point = {"t": time.time(), "cpu": cpu, "rss": rss, "pg_connections": float(sockets or 0)}
        self.samples.append(point)
        return point


def start_worker(number: int, config: Path, work: Path) -> Worker:
    log = work / f"worker{number}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(CLINICSYNC), "--config", str(config), "run"], stdout=out,
                                   stderr=subprocess.STDOUT, env=child_env(), cwd=work)
    return Worker(number, process, log)


def sampler(workers: list[Worker], stop: threading.Event) -> None:
    while not stop.wait(SAMPLE_EVERY):
        for worker in workers:
            worker.sample()


# -- the store --------------------------------------------------------------------------------------
def store_conn(store_conninfo: str) -> psycopg.Connection[Any]:
    return psycopg.connect(store_conninfo, autocommit=True)


def warm(db: psycopg.Connection[Any], names: set[str], hung: set[str]) -> tuple[int, int, bool]:
    """(sources with a finished run, events the slowest stage has not read, whether warm)."""
    done = {row[0] for row in db.execute(
        "SELECT DISTINCT connector FROM syncrun "
        "WHERE finished_at IS NOT NULL AND (status = 'ok' OR connector = ANY(%s))",
        [sorted(hung)])}
    done &= names
    newest = db.execute("SELECT coalesce(max(id), 0) FROM event").fetchone()
    offsets = db.execute("SELECT coalesce(min(last_event_id), 0), count(*) FROM eventconsumer").fetchone()
    assert newest is not None and offsets is not None
    behind = int(newest[0]) - int(offsets[0]) if offsets[1] else int(newest[0])
    return len(done), behind, len(done) == len(names) and behind == 0


def poll_history(db: psycopg.Connection[Any], since: datetime) -> list[tuple[str, str, datetime, datetime | None]]:
    """The run rows started since ``since``: a row for each poll that stored or failed something,
    and one for each run of idle polls (its latest poll's start and end): the polls' wall time
    (the idle ones sampled by their streaks' latest), never their count or times."""
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(
        "SELECT connector, status, started_at, finished_at FROM syncrun WHERE started_at >= %s ORDER BY started_at",
        [since])]


@dataclass(frozen=True)
class Poll:
    """One poll as the worker that ran it logged it: ``job.finished`` (or ``job.crashed``) of
    its poll job, at the poll's end."""

    source: str
    worker: int
    ended: float  # epoch seconds
    failed: bool


def logged_polls(log: Path, worker: int) -> list[Poll] | None:
    """Every poll this worker ran, from its JSON log, skipped ones (another worker held the
    source) left out; None when its log names no poll job (another scheduler's wording)."""
    polls, named = [], False
    with log.open("rb") as handle:
        for raw in handle:
            if b'"job": "poll' not in raw or (b"job.finished" not in raw and b"job.crashed" not in raw):
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            job = str(line.get("job", ""))
            if line.get("event") not in ("job.finished", "job.crashed") or not job.startswith("poll"):
                continue
            named = True
            source = job.split(":", 1)[-1]
            report = (line.get("result") or {}).get(source) or {}
            if isinstance(report, dict) and report.get("skipped"):
                continue
            ended = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()
            polls.append(Poll(source, worker, ended, line["event"] == "job.crashed" or bool(line.get("failed"))))
    return polls if named else None


# -- changes at the sources -------------------------------------------------------------------------
@dataclass
class Change:
    source: str
    kind: str
    external_id: str
    made_at: float  # epoch seconds, once the source holds it
    version_before: int
    seen_at: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.seen_at is None else self.seen_at - self.made_at


class Changer:
    """Moves one visit of a source by 30 minutes (later, then back) and notes when."""

    def __init__(self, sources: list[Source], visits: int, data_conninfo: str, data_schema: str,
                 roots: dict[int, str], work: Path, store: psycopg.Connection[Any], epoch: datetime,
                 seed: int = 60) -> None:
        self.sources = [s for s in sources if not s.hung]
        self.visits = visits
        self.data = psycopg.connect(data_conninfo, autocommit=True)
        self.data_schema = data_schema
        self.roots = roots
        self.work = work
        self.store = store
        self.epoch = epoch  # the CSV visits' first starts were counted from this
        self.rng = random.Random(seed)
        self.http = httpx.Client(timeout=30)
        self.moved: dict[tuple[str, int], int] = {}  # times each visit was moved
        self.pending: set[tuple[str, int]] = set()
        self.serial = 0

    def close(self) -> None:
        self.data.close()
        self.http.close()

    def change_one(self) -> Change | None:
        for _ in range(50):
            source = self.rng.choice(self.sources)
            n = self.rng.randrange(self.visits)
            if (source.name, n) not in self.pending:
                break
        else:
            return None
        ident = f"a{n}" if source.kind == "fhir" else f"v{n:03d}"
        row = self.store.execute("SELECT version FROM appointment WHERE connector = %s AND external_id = %s",
                                 [source.name, ident]).fetchone()
        if row is None:
            return None
        times = self.moved.get((source.name, n), 0)
        minutes = 30 if times % 2 == 0 else -30
        if source.kind == "sql":
            self.data.execute(f'UPDATE "{self.data_schema}".t{source.index:04d} SET starts_at = starts_at + '
                              f"make_interval(mins => %s), updated_at = timezone('{ZONE}', now()) WHERE id = %s",
                              [minutes, ident])
        elif source.kind == "csv":
            self.serial += 1
            start = visit_start_local(self.epoch, n) + timedelta(minutes=30 if minutes > 0 else 0)
            write_csv(self.work / "drops" / f"drop{source.index:04d}" / f"change-{self.serial:06d}.csv",
                      [csv_row(source, n, start)])
        else:
            answer = self.http.post(f"{self.roots[source.index]}/control/move",
                                    json={"tenant": source.index, "id": ident, "minutes": minutes})
            answer.raise_for_status()
        made = time.time()
        self.moved[(source.name, n)] = times + 1
        self.pending.add((source.name, n))
        return Change(source.name, source.kind, ident, made, int(row[0]))

    def look(self, changes: list[Change]) -> None:
        """Mark as seen the changes whose new version and its reminders are in the store."""
        waiting = [c for c in changes if c.seen_at is None]
        if not waiting:
            return
        rows = self.store.execute(
            "SELECT a.connector, a.external_id, a.version, "
            "(SELECT count(*) FROM reminder r WHERE r.appointment_id = a.id AND r.version = a.version) "
            "FROM appointment a JOIN unnest(%s::text[], %s::text[]) AS p(c, e) "
            "ON a.connector = p.c AND a.external_id = p.e",
            [[c.source for c in waiting], [c.external_id for c in waiting]]).fetchall()
        now = time.time()
        state = {(r[0], r[1]): (int(r[2]), int(r[3])) for r in rows}
        for change in waiting:
            version, reminders = state.get((change.source, change.external_id), (0, 0))
            if version > change.version_before and reminders > 0:
                change.seen_at = now
                index = int(change.external_id.lstrip("av"))
                self.pending.discard((change.source, index))


# -- the figures ------------------------------------------------------------------------------------
def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def judge_polls(polls: list[Poll], history: list[tuple[str, str, datetime, datetime | None]], sources: list[Source],
                w0: float, w1: float, interval: float, killed_at: float | None) -> dict[str, Any]:
    """Per source, from its polls' ends (the workers' logs): polled twice (a gap under half an
    interval), missed (a gap over interval + SLACK, or none that near the window's edges), and
    after the kill. A poll's wall time from the run history (``poll_history``)."""
    ends: dict[str, list[float]] = {s.name: [] for s in sources}
    statuses: dict[str, int] = {}
    for poll in sorted(polls, key=lambda p: p.ended):
        if poll.source in ends:
            ends[poll.source].append(poll.ended)
            if w0 <= poll.ended < w1:
                status = "failed" if poll.failed else "ok"
                statuses[status] = statuses.get(status, 0) + 1
    twice: list[str] = []
    missed: list[str] = []
    after_kill: list[float] = []
    polls_in_window = 0
    hung = {s.name for s in sources if s.hung}
    durations = sorted((finished - started).total_seconds() for name, _st, started, finished in history
                       if finished is not None and name in ends and name not in hung
                       and w0 <= started.timestamp() < w1)
    for name, times in ends.items():
        inside = [t for t in times if w0 <= t < w1]
        polls_in_window += len(inside)
        if name in hung:
            continue
        before = [t for t in times if t < w0]
        anchor = before[-1] if before else w0 - interval  # none before: the first is due by w0 + SLACK
        points = [anchor, *inside, w1]
        near = [t for t in times if w0 - interval <= t < w1]
        if any(b - a < interval / 2 for a, b in itertools.pairwise(near)):
            twice.append(name)
        if any(b - a > interval + SLACK for a, b in itertools.pairwise(points)
               if killed_at is None or not a <= killed_at < b):  # a gap over the kill: the kill's rule below
            missed.append(name)
        if killed_at is not None:
            later = min((t for t in times if t >= killed_at), default=None)
            after_kill.append(math.inf if later is None else later - killed_at)
    out: dict[str, Any] = {"sources_judged": len(sources) - len(hung), "polled_twice": len(twice),
                           "missed": len(missed), "polls_in_window": polls_in_window, "statuses": statuses,
                           "twice_examples": twice[:5], "missed_examples": missed[:5],
                           "expected_polls": round((len(sources)) * (w1 - w0) / interval),
                           "poll_seconds_p50": percentile(durations, 0.5),
                           "poll_seconds_p99": percentile(durations, 0.99),
                           "poll_seconds_max": durations[-1] if durations else None}
    if killed_at is not None:
        finite = [d for d in after_kill if d != math.inf]
        out.update(after_kill_max=max(after_kill) if after_kill else None,
                   after_kill_p99=percentile(finite, 0.99), after_kill_unpolled=len(after_kill) - len(finite),
                   after_kill_late=sum(1 for d in after_kill if d > interval + SLACK))
    return out


def worker_polls(log: Path, since: float, until: float) -> int | None:
    """Polls this worker ran between the two times (epoch), from its JSON log (``logged_polls``).
    None when its log names no poll job (another scheduler's wording)."""
    polls = logged_polls(log, 0)
    return None if polls is None else sum(1 for p in polls if since <= p.ended < until)


def cpu_between(worker: Worker, since: float, until: float) -> tuple[float, float, float] | None:
    """(CPU seconds, from, to) between the samples nearest to the two times (the run takes one at
    each phase's edge)."""
    if len(worker.samples) < 2:
        return None
    first = min(worker.samples, key=lambda s: abs(s["t"] - since))
    last = min(worker.samples, key=lambda s: abs(s["t"] - until))
    if last["t"] <= first["t"]:
        return None
    return last["cpu"] - first["cpu"], first["t"], last["t"]


def phase_figures(worker: Worker, since: float, until: float) -> dict[str, Any]:
    """A worker's CPU and polls over one phase, and CPU per poll."""
    cpu = cpu_between(worker, since, until)
    polls = worker_polls(worker.log, since, until)
    return {"cpu_s": cpu[0] if cpu else None, "span_s": (cpu[2] - cpu[1]) if cpu else None, "polls": polls,
            "cpu_per_poll_ms": cpu[0] / polls * 1000 if cpu and polls else None}


# -- the baselines (a child process of this run) ------------------------------------------------------
def baseline_case(data_conninfo: str, tables: list[str], fhir_urls: list[str], rounds: int) -> dict[str, Any]:
    """CPU of this process per bare SELECT of each table (open connection; a connection per query,
    as the connector connects per poll) and per GET of a FHIR tenant's empty incremental search."""
    figures: dict[str, Any] = {}
    if fhir_urls:
        since = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with httpx.Client(timeout=30) as client:
            client.get(f"{fhir_urls[0]}/Appointment", params={"_lastUpdated": f"gt{since}"})
            began = time.process_time()
            for url in fhir_urls:
                client.get(f"{url}/Appointment", params={"_lastUpdated": f"gt{since}", "_count": "100"})
            figures["fhir_get_ms"] = (time.process_time() - began) / len(fhir_urls) * 1000
    with psycopg.connect(data_conninfo, autocommit=True) as db:
        for table in tables:  # warm
            db.execute(f"SELECT {SQL_COLUMNS} FROM {table}").fetchall()
        began = time.process_time()
        for _ in range(rounds):
            for table in tables:
                db.execute(f"SELECT {SQL_COLUMNS} FROM {table}").fetchall()
        figures["select_open_ms"] = (time.process_time() - began) / (rounds * len(tables)) * 1000
    began = time.process_time()
    for table in tables:
        with psycopg.connect(data_conninfo, autocommit=True) as db:
            db.execute(f"SELECT {SQL_COLUMNS} FROM {table}").fetchall()
    figures["select_connect_ms"] = (time.process_time() - began) / len(tables) * 1000
    return figures


# -- the run ----------------------------------------------------------------------------------------
@contextmanager
def schemas(keep: bool) -> Iterator[tuple[str, str]]:
    """Two fresh schemas of the bench database: the store's and the sources' tables."""
    tag = uuid.uuid4().hex[:8]
    store, data = f"bench_ms_store_{tag}", f"bench_ms_src_{tag}"
    try:
        yield store, data
    finally:
        if not keep:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{store}" CASCADE')
                admin.execute(f'DROP SCHEMA IF EXISTS "{data}" CASCADE')


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = args.workdir or Path(tempfile.mkdtemp(prefix="many-sources-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    sources = plan_sources(args.sources, args.mix, args.hang_share)
    by_kind = {k: [s for s in sources if s.kind == k] for k in ("sql", "csv", "fhir")}
    names = {s.name for s in sources}
    hung = {s.name for s in sources if s.hung}
    result: dict[str, Any] = {"options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "workdir": str(work), "sources": {k: len(v) for k, v in by_kind.items()},
                              "hung": sorted(hung), "machine_load_start": load_1min()}
    log(f"work folder {work}; {len(sources)} sources {result['sources']}, hung {sorted(hung)}")
    with ExitStack() as stack:
        store_schema, data_schema = stack.enter_context(schemas(args.keep))
        store_url = with_search_path(POSTGRES_ADMIN_URL, store_schema)
        data_url = POSTGRES_ADMIN_URL
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{store_schema}"')
        began = time.monotonic()
        create_sql_tables(POSTGRES_ADMIN_URL, data_schema, by_kind["sql"], args.visits)
        epoch = datetime.now(UTC)
        create_csv_folders(work / "drops", by_kind["csv"], args.visits, epoch)
        roots = stack.enter_context(fhir_servers(by_kind["fhir"], args.fhir_servers, args.visits, args.fhir_latency_ms))
        (work / "sql_mapping.yaml").write_text(SQL_MAPPING, encoding="utf-8")
        config = work / "settings.yaml"
        config.write_text(settings_text(args, store_url, data_url, data_schema, sources, roots, work), encoding="utf-8")
        subprocess.run([str(CLINICSYNC), "--config", str(config), "db", "upgrade"], check=True, cwd=work,
                       env=child_env(), capture_output=True)
        log(f"sources and store ready in {time.monotonic() - began:.0f} s; starting {args.workers} workers")
        store = stack.enter_context(store_conn(with_search_path(POSTGRES_ADMIN_URL, store_schema)))
        workers = [start_worker(n + 1, config, work) for n in range(args.workers)]
        stop_sampling = threading.Event()
        stack.callback(_stop_workers, workers)
        stack.callback(stop_sampling.set)
        threading.Thread(target=sampler, args=(workers, stop_sampling), daemon=True).start()
        started = time.time()
        history_from = datetime.fromtimestamp(started, UTC) - timedelta(seconds=5)

        # warm-up: every source imported (the hung ones tried), every stage caught up
        deadline = started + args.warm_limit
        while True:
            time.sleep(2)
            done, behind, ok = warm(store, names, hung)
            if any(w.process.poll() is not None for w in workers):
                raise RuntimeError(f"a worker exited during the warm-up; see {work}/worker*.log")
            if ok or time.time() > deadline:
                break
            if int(time.time() - started) % 20 < 2:
                log(f"warm-up: {done}/{len(names)} sources imported, stages {behind} events behind")
        result["warm_up"] = {"seconds": round(time.time() - started, 1), "sources_done": done, "events_behind": behind,
                             "complete": ok}
        counts = store.execute("SELECT (SELECT count(*) FROM appointment), (SELECT count(*) FROM reminder)").fetchone()
        assert counts is not None
        result["warm_up"].update(appointments=int(counts[0]), reminders=int(counts[1]))
        log(f"warm-up {'done' if ok else 'NOT complete'} in {result['warm_up']['seconds']:.0f} s "
            f"({done}/{len(names)} sources, {counts[0]} visits, {counts[1]} reminders); measuring {args.minutes:g} min")

        # the measured window
        runs = Store(make_engine(store_url))  # the run history's count of polls (RunLog.polls_recorded)
        stack.callback(runs.engine.dispose)
        recorded = {"start": runs.polls_recorded(sorted(names))}
        w0 = time.time()
        for worker in workers:
            worker.sample()
        w1 = w0 + args.minutes * 60
        q1 = w0 + min(args.quiet_minutes * 60, (w1 - w0) / 2)  # the quiet phase: no change made
        kill_at = w0 + args.kill_at * (w1 - w0) if args.kill_at > 0 and len(workers) > 1 else None
        edges = {"quiet_end": q1, "window_end": w1}
        changer = Changer(sources, args.visits, POSTGRES_ADMIN_URL, data_schema, roots, work, store, epoch)
        stack.callback(changer.close)
        per_minute = max(1.0, len(sources) * args.change_share)
        every = 60.0 / per_minute
        changes: list[Change] = []
        next_change = q1 + every / 2
        last_note = w0
        while True:
            now = time.time()
            for edge, at in list(edges.items()):
                if now >= at:
                    del edges[edge]
                    if edge == "window_end":
                        recorded["end"] = runs.polls_recorded(sorted(names))
                    for worker in workers:
                        if worker.killed_at is None:
                            worker.sample()
            if now >= w1 and (all(c.seen_at is not None for c in changes) or now >= w1 + args.interval + 60):
                break
            if now < w1 and now >= next_change:
                change = changer.change_one()
                if change is not None:
                    changes.append(change)
                next_change += every
            if kill_at is not None and now >= kill_at and workers[-1].killed_at is None:
                victim = workers[-1]
                victim.sample()
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait()
                victim.killed_at = time.time()
                log(f"worker {victim.number} (pid {victim.pid}) killed with SIGKILL")
            changer.look(changes)
            if now - last_note >= 60:
                last_note = now
                seen = sum(1 for c in changes if c.seen_at is not None)
                log(f"{(now - w0) / 60:.1f} min: {len(changes)} changes, {seen} seen; "
                    + ", ".join(f"worker {w.number} RSS {w.samples[-1]['rss']:.0f} MiB" for w in workers
                                if w.samples and w.killed_at is None))
            time.sleep(CHECK_EVERY)
        for worker in workers:
            if worker.killed_at is None:
                worker.sample()
        history = poll_history(store, history_from)
        polls = [p for w in workers for p in logged_polls(w.log, w.number) or []]
        killed_at = workers[-1].killed_at if kill_at is not None else None
        result["window"] = {"start": datetime.fromtimestamp(w0, UTC).isoformat(),
                            "end": datetime.fromtimestamp(w1, UTC).isoformat(),
                            "killed_at": datetime.fromtimestamp(killed_at, UTC).isoformat() if killed_at else None}
        result["polls"] = judge_polls(polls, history, sources, w0, w1, args.interval, killed_at)
        result["polls"]["recorded_in_window"] = sum(recorded["end"].values()) - sum(recorded["start"].values())
        hung_runs = [p for p in polls if p.source in hung and w0 <= p.ended < w1]
        result["hung_polls"] = {"runs": len(hung_runs), "failed": sum(1 for p in hung_runs if p.failed)}
        latencies = [c.latency for c in changes if c.latency is not None]
        # each change's wait split: until its source's next poll finished, and from there until seen
        finishes: dict[str, list[float]] = {}
        for poll in polls:
            finishes.setdefault(poll.source, []).append(poll.ended)
        waits, after = [], []
        for c in changes:
            polled = min((t for t in finishes.get(c.source, []) if t > c.made_at), default=None)
            if polled is not None and c.seen_at is not None and polled <= c.seen_at:
                waits.append(polled - c.made_at)
                after.append(c.seen_at - polled)
        result["changes"] = {
            "made": len(changes), "seen": len(latencies), "unseen": len(changes) - len(latencies),
            "p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
            "p99": percentile(latencies, 0.99) if len(latencies) == len(changes) else math.inf,
            "max": max(latencies) if latencies else None,
            "by_kind": {k: percentile([c.latency for c in changes if c.kind == k and c.latency is not None], 0.99)
                        for k in ("sql", "csv", "fhir")},
            "until_polled_p99": percentile(waits, 0.99), "until_polled_max": max(waits, default=None),
            "after_poll_p50": percentile(after, 0.5), "after_poll_p99": percentile(after, 0.99),
            "list": [asdict(c) for c in changes]}
        result["history"] = [[n, st, a.isoformat(), f.isoformat() if f else None] for n, st, a, f in history]
        result["logged_polls"] = [asdict(p) for p in polls]
        # CPU and polls per worker: the quiet phase (idle polls only), the rest (with changes), all
        polls_total = sum(1 for p in polls if p.source in names and w0 <= p.ended < w1)
        result["phases"] = {"quiet_minutes": (q1 - w0) / 60, "busy_minutes": (w1 - q1) / 60}
        per_worker = []
        for worker in workers:
            until = worker.killed_at or w1
            rss = [s["rss"] for s in worker.samples if s["t"] >= w0 - 1]
            per_worker.append({
                "worker": worker.number, "pid": worker.pid, "killed": worker.killed_at is not None,
                "quiet": phase_figures(worker, w0, q1), "busy": phase_figures(worker, q1, until),
                "all": phase_figures(worker, w0, until),
                "rss_start_mib": rss[0] if rss else None, "rss_max_mib": max(rss) if rss else None,
                "rss_end_mib": rss[-1] if rss else None,
                "pg_connections_max": max((s["pg_connections"] for s in worker.samples), default=None),
                "rss_warm_max_mib": max((s["rss"] for s in worker.samples if s["t"] < w0), default=None)})
        result["workers"] = per_worker
        result["polls_total"] = polls_total
        _stop_workers(workers)
        # the baselines, in a child of this run, once the workers stopped (the same machine, less noise)
        tables = [f'"{data_schema}".t{s.index:04d}' for s in by_kind["sql"] if not s.hung][:200]
        fhir_urls = [f"{roots[s.index]}/t{s.index}/fhir" for s in by_kind["fhir"] if not s.hung][:200]
        result["baseline"] = run_case("bench.many_sources:baseline_case", data_conninfo=POSTGRES_ADMIN_URL,
                                      tables=tables, fhir_urls=fhir_urls, rounds=5) if tables else {}
    result["machine_load_end"] = load_1min()
    (work / "result.json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return result


def _stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


# -- the report -------------------------------------------------------------------------------------
def tables(result: dict[str, Any]) -> list[Table]:
    options = result["options"]
    interval = float(options["interval"])
    target = interval + SLACK
    load = Table(f"Many sources: the load ({options['sources']:,} sources, {options['workers']} workers, "
                 f"every {interval:g} s, {options['minutes']:g} min measured)", ["figure", "value"])
    load.add(figure="sources: SQL / CSV / FHIR",
             value=" / ".join(str(result["sources"][k]) for k in ("sql", "csv", "fhir")))
    load.add(figure="hung sources", value=", ".join(result["hung"]) or "none")
    warmup = result["warm_up"]
    load.add(figure="warm-up (import + planning), s", value=warmup["seconds"])
    load.add(figure="warm-up complete", value=warmup["complete"])
    load.add(figure="visits / reminders in the store after warm-up",
             value=f"{warmup['appointments']:,} / {warmup['reminders']:,}")
    load.add(figure="machine load (1 min) at start / end",
             value=f"{result['machine_load_start']:.2f} / {result['machine_load_end']:.2f}")

    polls = result["polls"]
    sched = Table("Polled once per interval (each poll's end in the workers' logs)", ["figure", "value", "goal", "met"])
    sched.add(figure="polls in the window (all sources) / one per source per interval", value=polls["polls_in_window"],
              goal=polls["expected_polls"], met=None)
    sched.add(figure="polls in the window as the run history counts them (idle rows count their polls)",
              value=polls.get("recorded_in_window"), goal=polls["polls_in_window"], met=None)
    sched.add(figure="sources polled twice within half an interval", value=polls["polled_twice"], goal=0,
              met=polls["polled_twice"] == 0)
    sched.add(figure=f"sources with a gap over interval + {SLACK:g} s", value=polls["missed"], goal=0,
              met=polls["missed"] == 0)
    sched.add(figure="wall time of a poll (not hung; run history: an idle streak's latest): median / p99 / max, s",
              value=" / ".join(f"{polls[k]:.2f}" if polls[k] is not None else "n/a"
                               for k in ("poll_seconds_p50", "poll_seconds_p99", "poll_seconds_max")),
              goal="", met=None)
    sched.add(figure="poll outcomes in the window", value=json.dumps(polls["statuses"]), goal="", met=None)
    sched.add(figure="hung sources' polls in the window (failed)",
              value=f"{result['hung_polls']['runs']} ({result['hung_polls']['failed']})", goal="", met=None)
    if result["window"]["killed_at"]:
        sched.add(figure="after the kill: longest wait for a source's next poll, s", value=polls["after_kill_max"],
                  goal=f"≤ {target:g}", met=polls["after_kill_max"] is not None and polls["after_kill_max"] <= target)
        sched.add(figure="after the kill: sources later than interval + 30 s (never polled)",
                  value=f"{polls['after_kill_late']} ({polls['after_kill_unpolled']})", goal=0,
                  met=polls["after_kill_late"] == 0)

    changes = result["changes"]
    late = Table("Change latency (source changed -> store holds the version and its reminders)",
                 ["figure", "value", "goal", "met"])
    late.add(figure="changes made / seen", value=f"{changes['made']} / {changes['seen']}", goal="all",
             met=changes["unseen"] == 0)
    for key in ("p50", "p90", "p99", "max"):
        late.add(figure=f"{key}, s", value=changes[key], goal=f"≤ {target:g}" if key == "p99" else "",
                 met=(changes[key] is not None and changes[key] <= target) if key == "p99" else None)
    late.add(figure="of which until the source's next poll ended: p99 / max, s",
             value=" / ".join(f"{changes[k]:.1f}" if changes.get(k) is not None else "n/a"
                              for k in ("until_polled_p99", "until_polled_max")), goal="", met=None)
    late.add(figure="from that poll's end to the store and its reminders: p50 / p99, s",
             value=" / ".join(f"{changes[k]:.1f}" if changes.get(k) is not None else "n/a"
                              for k in ("after_poll_p50", "after_poll_p99")), goal="", met=None)
    for kind, value in changes["by_kind"].items():
        late.add(figure=f"p99 of {kind} sources, s", value=value, goal="", met=None)

    baseline = result.get("baseline", {})
    cpu = Table("CPU per poll, per worker (all its CPU in the phase / the polls it ran), against bare reads",
                ["case", "cpu_s", "polls", "cpu_per_poll_ms", "ratio_to_select", "ratio_to_connect_select"])
    phases = result["phases"]
    labels = {"quiet": f"first {phases['quiet_minutes']:g} min, no change made (idle polls)",
              "busy": f"next {phases['busy_minutes']:g} min, with the changes", "all": "whole window"}
    for phase in ("quiet", "busy", "all"):
        for worker in result["workers"]:
            figures = worker[phase]
            per = figures["cpu_per_poll_ms"]
            cpu.add(case=f"worker {worker['worker']}{' (killed)' if worker['killed'] else ''}: {labels[phase]}",
                    cpu_s=figures["cpu_s"], polls=figures["polls"], cpu_per_poll_ms=per,
                    ratio_to_select=ratio(per, baseline.get("select_open_ms") or 0) if per else None,
                    ratio_to_connect_select=ratio(per, baseline.get("select_connect_ms") or 0) if per else None)
    cpu.add(case="bare SELECT of the same table, open connection", cpu_per_poll_ms=baseline.get("select_open_ms"))
    cpu.add(case="bare SELECT with its own connection", cpu_per_poll_ms=baseline.get("select_connect_ms"))
    cpu.add(case="bare GET of a FHIR tenant's incremental search (httpx)", cpu_per_poll_ms=baseline.get("fhir_get_ms"))
    cpu.notes.append("A worker's CPU is all of it (the poll pool and its scheduler, the stages job, the reminder "
                     "dispatcher every 30 s, logging at info): what a source costs a deployment, not the poll alone.")

    memory = Table("Memory per worker (RSS, MiB) and its PostgreSQL connections (store and SQL sources, most seen)",
                   ["case", "warm_up_max", "window_start", "window_max", "window_end", "pg_connections_max"])
    for worker in result["workers"]:
        memory.add(case=f"worker {worker['worker']}", warm_up_max=worker["rss_warm_max_mib"],
                   window_start=worker["rss_start_mib"], window_max=worker["rss_max_mib"],
                   window_end=worker["rss_end_mib"], pg_connections_max=worker["pg_connections_max"])
    return [load, sched, late, cpu, memory]


def mix_arg(text: str) -> tuple[int, int, int]:
    parts = tuple(int(p) for p in text.split(","))
    if len(parts) != 3 or any(p < 0 for p in parts) or not sum(parts):
        raise argparse.ArgumentTypeError("three shares: SQL,CSV,FHIR (e.g. 50,30,20)")
    return parts[0], parts[1], parts[2]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=20.0, help="the measured window (default 20)")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between polls of a source (300)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--visits", type=int, default=30, help="visits per source (30)")
    parser.add_argument("--mix", type=mix_arg, default=(50, 30, 20), help="SQL,CSV,FHIR shares (50,30,20)")
    parser.add_argument("--hang-share", type=float, default=0.01)
    parser.add_argument("--change-share", type=float, default=0.01, help="sources changed per minute (0.01)")
    parser.add_argument("--fhir-servers", type=int, default=2)
    parser.add_argument("--fhir-latency-ms", type=float, default=50.0)
    parser.add_argument("--timeout", type=float, default=None,
                        help="SQL `timeout` and FHIR `timeout_seconds` (default interval/15, 2 to 20 s)")
    parser.add_argument("--pool-size", type=int, default=None, help="store.pool_size (default: 10, or 2 x "
                        "poll workers + 6)")
    parser.add_argument("--max-overflow", type=int, default=10)
    parser.add_argument("--poll-workers", type=int, default=None, help="service.poll_workers (when the service has it)")
    parser.add_argument("--quiet-minutes", type=float, default=None, help="the window's first minutes, with no change "
                        "made: CPU per idle poll (default one interval, at most half the window)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the window after which one worker "
                        "gets SIGKILL (0: none)")
    parser.add_argument("--warm-limit", type=float, default=None, help="seconds the warm-up may take (3 intervals)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the schemas (store and sources)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of tables")
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = min(20.0, max(2.0, args.interval / 15))
    if args.pool_size is None:
        args.pool_size = 2 * args.poll_workers + 6 if args.poll_workers else 10
    if args.quiet_minutes is None:
        args.quiet_minutes = args.interval / 60
    if 0 < args.kill_at * args.minutes < min(args.quiet_minutes, args.minutes / 2):
        parser.error("--kill-at falls inside the quiet phase (--quiet-minutes): its idle CPU needs every worker")
    if args.warm_limit is None:
        args.warm_limit = max(600.0, 3 * args.interval)
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        render(tables(result))
        print(f"raw files: {result['workdir']} (result.json, worker*.log, settings.yaml)")


if __name__ == "__main__":
    main(sys.argv[1:])
