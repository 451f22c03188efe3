"""The jobs `clinicsync run` runs, and where they come from.

A *job source* is a function ``(ServiceContext) -> list[Job]``. ``job_sources()`` lists
them; a feature plugs into the service by adding ONE line there, as the reminder
dispatcher (a PeriodicJob every 30 s) and the HTTP server (a ResidentJob named "serve",
given when ``ctx.options.serve``) do. The sources' polls are one resident job, the poll pool
(polls.py), which claims them from the store's shared schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import uvicorn

from clinicsync.common.schedule import Schedule
from clinicsync.common.types import utcnow
from clinicsync.connectors.registry import is_polled
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.reminders.dispatch import dispatch
from clinicsync.sync.runs.settings_watch import CHECK_EVERY, SettingsWatch
from clinicsync.sync.server.app import create_app
from clinicsync.sync.server.serving import uvicorn_config
from clinicsync.sync.service.board import JobBoard
from clinicsync.sync.service.fleet_reload import FleetReload
from clinicsync.sync.service.metrics import JobCollector
from clinicsync.sync.service.outcome import JobResult
from clinicsync.sync.service.pipeline import needs_stages, poll_once, run_stages
from clinicsync.sync.service.polls import PolledSource, PollPool, job_name
from clinicsync.sync.service.wake import Wake
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.upkeep import done_at, is_due, note_done
from clinicsync.sync.waitlist.stage import run_waitlist

SERVE = "serve"


@dataclass(frozen=True)
class ServiceOptions:
    serve: bool = False  # host the HTTP server in this process (`run --serve`)
    connectors: tuple[str, ...] = ()  # only these connectors (empty: all enabled)



@dataclass
class ServiceContext:
    settings: Settings
    store: Store
    options: ServiceOptions = ServiceOptions()
    stop: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM/SIGINT
    board: JobBoard = field(default_factory=JobBoard)
    started_at: datetime = field(default_factory=utcnow)
    watch: SettingsWatch = field(init=False)
    changes: Wake = field(default_factory=Wake)  # rung by a poll that stored a change (stages_job)
    polls: PollPool | None = None  # the poll pool, once it runs (a fleet's list changed: set_sources)
    fleets: FleetReload = field(default_factory=FleetReload)

    def __post_init__(self) -> None:
        self.watch = SettingsWatch(self.settings, self.started_at)


@dataclass(frozen=True)
class PeriodicJob:
    """Runs on its schedule in its own thread; never overlaps itself.

    ``run`` returns a summary (logged); a summary with a true "failed" or "error" counts
    as a failure, as does an exception. ``run`` should watch ``ctx.stop`` and return at
    the next safe point once it is set. ``writes_store``: on SQLite, hold the store's writer
    lane for the whole pass, taking turns with the other writers (one writer; the outbox
    offsets are not row-locked there). The polls take it for each write transaction only,
    never while their source is read (sync/ingest/engine.py ``sync_connector``).
    """

    name: str
    schedule: Schedule
    run: Callable[[ServiceContext], JobResult]
    writes_store: bool = True
    # Also run when this is rung (then ``settle`` seconds later, so that rings close together
    # make one run); the schedule's next run then counts from this one (runner.py).
    wake: Wake | None = None
    settle: float = 0.0


@dataclass(frozen=True)
class ResidentJob:
    """Runs for the life of the service (e.g. the HTTP server): ``run`` blocks until
    ``ctx.stop`` is set. Returning or raising earlier stops the service with exit 1."""

    name: str
    run: Callable[[ServiceContext], None]


Job = PeriodicJob | ResidentJob
JobSource = Callable[[ServiceContext], list[Job]]


def poll_connector_job(ctx: ServiceContext, connector: str) -> JobResult:
    """One connector's poll, then (when it stored a change) a ring for the stages job: the
    stages run over what changed, once for a burst of polls, never after an idle poll."""
    report = poll_once(ctx.settings, ctx.store, connector, stop=ctx.stop)
    if needs_stages(ctx.settings, report, connector):
        ctx.changes.ring()
    result = report.as_dict()
    return {"failed": report.failed, "run_id": result["run_id"], **result["connectors"],
            **{key: value for key, value in result.items() if key not in ("run_id", "connectors")}}


POLLS = "polls"


def polled_sources(ctx: ServiceContext) -> list[PolledSource]:
    """The enabled sources this process polls, each on its own `schedule:` (``run --connector``
    limits them); the sources that push are stored by the server, not polled."""
    only = set(ctx.options.connectors)
    return [PolledSource(config.name, config.schedule) for config in ctx.settings.connectors
            if config.enabled and is_polled(config) and (not only or config.name in only)]


def run_polls(ctx: ServiceContext) -> None:
    """The poll pool until the service stops (sync/service/polls.py): the sources' polls are
    claimed by lease from the store's shared schedule, at most ``service.poll_workers`` at once."""
    ctx.polls = PollPool(ctx.store.engine, polled_sources(ctx), partial(poll_connector_job, ctx),
                         size=ctx.settings.service.poll_workers, board=ctx.board, stop=ctx.stop,
                         timezone=ctx.settings.clinic.timezone)
    ctx.polls.run()


def connector_jobs(ctx: ServiceContext) -> list[Job]:
    """One resident job, the poll pool, for every polled source: each source's polls still show
    on the job board as ``poll:NAME`` (its next due time, last run, failures), put there now so
    that the board lists them before the pool's first claim."""
    sources = polled_sources(ctx)
    for source in sources:
        ctx.board.add(job_name(source.name))
    return [ResidentJob(POLLS, run_polls)] if sources or ctx.settings.fleets else []


def store_connections(ctx: ServiceContext, jobs: list[Job]) -> int:
    """The store connections `run` may hold at once: two for each poll slot (its connector's poll
    lock and its work) and for each other job (a stage's lock and its work, the HTTP server's
    requests), one for the poll pool's claims and heartbeats. Bounded by ``service.poll_workers``,
    not by the number of sources."""
    slots = min(ctx.settings.service.poll_workers, len(polled_sources(ctx)))
    others = sum(1 for job in jobs if job.name not in (POLLS, FLEETS))  # the fleets' look reads files only
    return 2 * (slots + others) + (1 if slots else 0)


STAGES = "stages"
PUSHED_STAGES_EVERY = Schedule.every("1m")  # what a push stored is never rung for: every minute
STAGES_EVERY = Schedule.every("5m")  # time-driven work of the stages, when every source is polled
STAGES_SETTLE = 2.0  # seconds after a ring before the pass: polls finishing together make one
UPKEEP_EVERY = timedelta(minutes=5)  # the retention pass and orphan check, for all sources at once
SERVICE_UPKEEP = "service"  # housekeeping: when a stages job last did the upkeep (sync/store/upkeep.py)


def stages_job(ctx: ServiceContext) -> JobResult:
    """The post-sync stages (calendar, reminder planning, write-back, waitlist, …) over what
    the polls and pushes stored, then what a poll's run did itself in `sync --once` and is
    done here once for all sources (run history pruning, orphaned sources: run_stages), at most
    every UPKEEP_EVERY by the time kept in the store, as `sync --once` keeps its own (sync/store/upkeep.py):
    shared by every replica on the store, so that two workers do not both do it."""
    now = utcnow()
    upkeep = is_due((done_at(ctx.store.engine, [SERVICE_UPKEEP]) or {}).get(SERVICE_UPKEEP), now, UPKEEP_EVERY)
    if upkeep:
        note_done(ctx.store.engine, SERVICE_UPKEEP, now)
    report = run_stages(ctx.settings, ctx.store, stop=ctx.stop, upkeep=upkeep)
    failed = any(isinstance(result, dict) and result.get("error") for result in report.extras.values())
    return {"failed": failed, "run_id": report.run_id, **report.extras}


def stages_jobs(ctx: ServiceContext) -> list[Job]:
    """One job for the stages of every source: woken by a poll that stored a change (2 s
    later, so a burst of polls makes one pass), and on its own schedule for what no poll
    rings for: every minute when a source pushes (REST API, booking webhooks, MLLP, FHIR
    Subscriptions: their records are stored by the server), else every 5 minutes (what the
    stages do as time passes). A pass with nothing new reads the outbox's offsets and stops."""
    only = set(ctx.options.connectors)
    sources = [config for config in ctx.settings.connectors
               if config.enabled and (not only or config.name in only)]
    if not sources:
        return []
    pushed = any(not is_polled(config) for config in sources)
    return [PeriodicJob(STAGES, PUSHED_STAGES_EVERY if pushed else STAGES_EVERY, stages_job,
                        wake=ctx.changes, settle=STAGES_SETTLE)]


REMIND_EVERY = Schedule.every("30s")


def remind_job(ctx: ServiceContext) -> JobResult:
    """Send the reminders that are due, as `remind --once` does. A message that failed for
    good is counted, not a job failure (the reminder records its reason)."""
    report = dispatch(ctx.settings, ctx.store, halt=ctx.stop).as_report()
    return {"sent": report["sent"], "send_failed": report["failed"], "skipped": report["skipped"],
            "unknown": report["unknown"], "retrying": report["retrying"], "deferred": report["deferred"]}


def reminder_jobs(ctx: ServiceContext) -> list[Job]:
    """The reminder dispatcher (planning is a post-sync stage: stages_job)."""
    return [PeriodicJob("remind", REMIND_EVERY, remind_job)] if ctx.settings.reminders.enabled else []


WAITLIST_OFFERS = "waitlist:offers"
WAITLIST_EVERY = Schedule.every("30s")


def waitlist_offers_job(ctx: ServiceContext) -> JobResult:
    """The waitlist's offers between polls (sync/waitlist/stage.py, the `waitlist` stage alone):
    a "No thanks" or a hold that ran out moves the slot to the next patient within a minute,
    as docs/waitlist.md promises, however long the connectors' poll schedule (5 min by default).
    It reads no source and writes nothing when no slot is open or no offer changed."""
    result = run_waitlist(ctx.settings, ctx.store)
    return {"failed": bool(result.get("error")), **result}


def waitlist_jobs(ctx: ServiceContext) -> list[Job]:
    return [PeriodicJob(WAITLIST_OFFERS, WAITLIST_EVERY, waitlist_offers_job)] if ctx.settings.waitlist.enabled else []


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


SETTINGS_WATCH = "settings"


def settings_watch_job(ctx: ServiceContext) -> JobResult:
    """Has settings.yaml or a ``*_file`` secret changed since this process read them? Noted in
    the store for `status`; never reloaded (sync/runs/settings_watch.py)."""
    drift = ctx.watch.look(ctx.store.engine, utcnow())
    return {"changed": list(drift.files)} if drift else None


def settings_watch_jobs(ctx: ServiceContext) -> list[Job]:
    # writes_store=False: one small row of its own, never waiting behind a poll's lane
    return [PeriodicJob(SETTINGS_WATCH, Schedule.every(CHECK_EVERY), settings_watch_job, writes_store=False)]


FLEETS = "fleets"


def fleet_reload_job(ctx: ServiceContext) -> JobResult:
    """Has a fleet's list changed? Then run on the settings read again (sync/service/fleet_reload.py):
    the next polls and stages use them, and the pool polls a new member at once and no longer
    claims a removed one."""
    settings = ctx.fleets.look(ctx.settings)
    if settings is None:
        return None
    before = ctx.settings.connector_names()
    ctx.settings = ctx.watch.settings = settings
    if ctx.polls is not None:
        ctx.polls.set_sources(polled_sources(ctx))
    after = settings.connector_names()
    return {"added": sorted(after - before), "removed": sorted(before - after), "sources": len(after)}


def fleet_reload_jobs(ctx: ServiceContext) -> list[Job]:
    # writes_store=False: it reads files and settings, never the store
    return ([PeriodicJob(FLEETS, Schedule.every(CHECK_EVERY), fleet_reload_job, writes_store=False)]
            if ctx.settings.fleets else [])


def server_jobs(ctx: ServiceContext) -> list[Job]:
    return [ResidentJob(SERVE, serve_job)] if ctx.options.serve else []


def job_sources() -> list[JobSource]:
    """Every source of jobs, in order. Later features add theirs here, one line each."""
    return [
        connector_jobs,
        stages_jobs,
        reminder_jobs,
        waitlist_jobs,
        settings_watch_jobs,
        fleet_reload_jobs,
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
