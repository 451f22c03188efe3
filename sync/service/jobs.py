"""The jobs `clinicsync run` runs, and where they come from.

A *job source* is a function ``(ServiceContext) -> list[Job]``. ``job_sources()`` lists
them; a feature plugs into the service by adding ONE line there, as the reminder
dispatcher (a PeriodicJob every 30 s) and the HTTP server (a ResidentJob named "serve",
given when ``ctx.options.serve``) do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import uvicorn

from connectors.registry import is_polled
from sync.pipeline import run_once
from sync.reminders.dispatch import dispatch
from sync.server.app import create_app
from sync.server.serving import uvicorn_config
from sync.server.settings import ServerSettings
from sync.service.metrics import JobCollector
from sync.service.schedule import Schedule
from sync.settings import Settings
from sync.store import Store
from sync.types import utcnow

JobResult = Mapping[str, Any] | None
SERVE = "serve"


@dataclass(frozen=True)
class ServiceOptions:
    serve: bool = False  # host the HTTP server in this process (`run --serve`)
    connectors: tuple[str, ...] = ()  # only these connectors (empty: all enabled)


@dataclass
class JobStatus:
    """What a job did lately: read by the health endpoint and metrics."""

    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    running_since: datetime | None = None
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    next_due: datetime | None = None


# Upper bounds (seconds) of the job duration histogram: a dispatch takes well under a second,
# a first import of a large source can take many minutes.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass
class Durations:
    """How long a job's runs took: counts per bucket of DURATION_BUCKETS (+Inf last), and the sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        index = next((i for i, bound in enumerate(DURATION_BUCKETS) if seconds <= bound), len(DURATION_BUCKETS))
        self.counts[index] += 1
        self.total += seconds


@dataclass
class JobBoard:
    """The live status of every job, safe to read from any thread."""

    jobs: dict[str, JobStatus] = field(default_factory=dict)
    durations: dict[str, Durations] = field(default_factory=dict)
    _began: dict[str, float] = field(default_factory=dict, repr=False)  # monotonic start of the run
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self._lock:
            self.jobs.setdefault(name, JobStatus())
            self.durations.setdefault(name, Durations())

    def due(self, name: str, when: datetime) -> None:
        with self._lock:
            self.jobs[name].next_due = when

    def started(self, name: str) -> None:
        with self._lock:
            status = self.jobs[name]
            status.running_since = status.last_started = utcnow()
            self._began[name] = time.monotonic()

    def finished(self, name: str, error: str | None) -> None:
        with self._lock:
            status = self.jobs[name]
            status.runs += 1
            status.running_since = None
            status.last_finished = utcnow()
            status.last_error = error
            began = self._began.pop(name, None)
            if began is not None:
                self.durations[name].observe(time.monotonic() - began)
            if error is None:
                status.consecutive_failures = 0
                status.last_success = status.last_finished
            else:
                status.failures += 1
                status.consecutive_failures += 1

    def figures(self) -> dict[str, tuple[JobStatus, Durations]]:
        """A consistent copy of each job's status and durations (for /metrics)."""
        with self._lock:
            return {name: (replace(status), Durations(list(self.durations[name].counts), self.durations[name].total))
                    for name, status in self.jobs.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: {key: (value.isoformat() if isinstance(value, datetime) else value)
                           for key, value in vars(status).items()} for name, status in self.jobs.items()}


@dataclass
class ServiceContext:
    settings: Settings
    store: Store
    options: ServiceOptions = ServiceOptions()
    stop: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM/SIGINT
    board: JobBoard = field(default_factory=JobBoard)


@dataclass(frozen=True)
class PeriodicJob:
    """Runs on its schedule in its own thread; never overlaps itself.

    ``run`` returns a summary (logged); a summary with a true "failed" or "error" counts
    as a failure, as does an exception. ``run`` should watch ``ctx.stop`` and return at
    the next safe point once it is set. ``writes_store``: on SQLite, take turns with the
    other jobs that write (one writer; the outbox offsets are not row-locked there).
    """

    name: str
    schedule: Schedule
    run: Callable[[ServiceContext], JobResult]
    writes_store: bool = True


@dataclass(frozen=True)
class ResidentJob:
    """Runs for the life of the service (e.g. the HTTP server): ``run`` blocks until
    ``ctx.stop`` is set. Returning or raising earlier stops the service with exit 1."""

    name: str
    run: Callable[[ServiceContext], None]


Job = PeriodicJob | ResidentJob
JobSource = Callable[[ServiceContext], list[Job]]


def poll_connector_job(ctx: ServiceContext, connector: str) -> JobResult:
    """One connector's poll plus the post-sync stages, as `sync --once` does them."""
    report = run_once(ctx.settings, ctx.store, only=[connector], stop=ctx.stop)
    result = report.as_dict()
    return {"failed": report.failed, "run_id": result["run_id"], **result["connectors"],
            **{key: value for key, value in result.items() if key not in ("run_id", "connectors")}}


def connector_jobs(ctx: ServiceContext) -> list[Job]:
    """One poll job per enabled connector, on the connector's own `schedule:`."""
    only = set(ctx.options.connectors)
    return [PeriodicJob(f"poll:{config.name}", config.schedule, partial(poll_connector_job, connector=config.name))
            for config in ctx.settings.connectors
            if config.enabled and is_polled(config) and (not only or config.name in only)]


REMIND_EVERY = Schedule.every("30s")


def remind_job(ctx: ServiceContext) -> JobResult:
    """Send the reminders that are due, as `remind --once` does. A message that failed for
    good is counted, not a job failure (the reminder records its reason)."""
    report = dispatch(ctx.settings, ctx.store).as_report()
    return {"sent": report["sent"], "send_failed": report["failed"], "skipped": report["skipped"],
            "unknown": report["unknown"], "retrying": report["retrying"], "deferred": report["deferred"]}


def reminder_jobs(ctx: ServiceContext) -> list[Job]:
    """The reminder dispatcher (planning is a post-sync stage of each poll)."""
    return [PeriodicJob("remind", REMIND_EVERY, remind_job)] if ctx.settings.reminders.enabled else []


def serve_job(ctx: ServiceContext) -> None:
    """The HTTP server in this thread until ``ctx.stop``. uvicorn installs signal handlers only
    in the main thread, so SIGTERM stays with the service, which then tells the server to exit."""
    app = create_app(ctx.settings, ctx.store, collectors=[JobCollector(ctx.board)])
    server = uvicorn.Server(uvicorn_config(app, ctx.settings.server or ServerSettings()))

    def exit_on_stop() -> None:
        ctx.stop.wait()
        server.should_exit = True

    threading.Thread(target=exit_on_stop, name="serve-stop", daemon=True).start()
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot start (e.g. the port is taken)
        raise RuntimeError("the HTTP server could not start (see the log above)") from None
    if not ctx.stop.is_set():
        raise RuntimeError("the HTTP server stopped while the service was running")


def server_jobs(ctx: ServiceContext) -> list[Job]:
    return [ResidentJob(SERVE, serve_job)] if ctx.options.serve else []


def job_sources() -> list[JobSource]:
    """Every source of jobs, in order. Later features add theirs here, one line each."""
    return [
        connector_jobs,
        reminder_jobs,
        server_jobs,
    ]


def collect_jobs(ctx: ServiceContext, sources: list[JobSource] | None = None) -> list[Job]:
    jobs: list[Job] = []
    for source in sources if sources is not None else job_sources():
        jobs.extend(source(ctx))
    names = [job.name for job in jobs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two jobs share the name(s) {duplicates}")
    return jobs
