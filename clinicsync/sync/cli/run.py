"""`clinicsync run`: the long-running service (polls, post-sync stages, the reminder
dispatcher and, with --serve, the HTTP server), stopped cleanly by SIGTERM/SIGINT."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Annotated

import structlog
import typer
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.sync.cli.context import EXIT_FAILED, app_context, err_console, fail_config
from clinicsync.sync.cli.start_banner import start_banner
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.server import ServerSettings
from clinicsync.sync.runs.settings_watch import forget_process
from clinicsync.sync.service.jobs import (
    SETTINGS_WATCH,
    ServiceContext,
    ServiceOptions,
    collect_jobs,
    store_connections,
)
from clinicsync.sync.service.runner import Service
from clinicsync.sync.service.signals import stop_signals
from clinicsync.sync.store.locks import WorkerLocked, sqlite_worker_lock
from clinicsync.sync.store.store import Store

log = structlog.get_logger("clinicsync.service")


def _check_pool(settings: Settings, store: Store, needed: int) -> None:
    """Warn when the jobs running at once (``store_connections``) could exhaust the pool and
    wait out store.pool_timeout."""
    if store.engine.dialect.name == "sqlite":
        return  # one writer at a time, and its locks are files
    available = settings.store.pool_size + settings.store.max_overflow
    if available < needed:
        log.warning("store.pool_small", connections=available, needed=needed, suggested=needed,
                    detail="raise store.pool_size or store.max_overflow, or lower service.poll_workers "
                           "(docs/operations.md, sizing)")


def _forget(service_ctx: ServiceContext) -> None:
    """This process's row (sync/runs/settings_watch.py) leaves with it; one left by a kill ages out."""
    try:
        forget_process(service_ctx.store.engine, service_ctx.watch.process)
    except SQLAlchemyError as exc:
        log.warning("service.forget_failed", error=type(exc).__name__)


def run_command(
    ctx: typer.Context,
    serve: Annotated[bool, typer.Option("--serve", help="also host the HTTP server (webhooks, /healthz, "
                                                        "/metrics) in this process")] = False,
    connector: Annotated[list[str] | None, typer.Option(help="only these connectors")] = None,
    grace: Annotated[float | None, typer.Option(
        help="seconds work in flight may take to stop on SIGTERM (default: service.shutdown_grace)")] = None,
) -> None:
    """Run continuously: poll each connector on its own schedule and run the post-sync stages.

    Several workers may share one PostgreSQL store (each connector is polled by one of
    them at a time); a SQLite store allows one. SIGTERM/SIGINT stop it cleanly (exit 0).
    """
    context = app_context(ctx)
    settings = context.settings
    unknown = sorted(set(connector or ()) - {c.name for c in settings.connectors})
    if unknown:
        fail_config(f"--connector: no connector named {', '.join(unknown)} in {settings.source}")
    store = context.store
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(sqlite_worker_lock(store.engine))
        except WorkerLocked as exc:
            fail_config(str(exc))
        service_ctx = ServiceContext(settings, store, ServiceOptions(serve, tuple(connector or ())))
        jobs = collect_jobs(service_ctx)
        if not [job for job in jobs if job.name != SETTINGS_WATCH]:  # the watch alone is no service
            fail_config("nothing to run: no enabled connector (and no other job) in the settings")
        _check_pool(settings, store, store_connections(service_ctx, jobs))
        http = settings.server or ServerSettings()
        err_console.print(start_banner(settings, "run", host=http.host if serve else None,
                                       port=http.port if serve else None, connectors=tuple(connector or ())),
                          highlight=False, markup=False, soft_wrap=True)
        wait = timedelta(seconds=grace) if grace is not None else settings.service.grace()
        wakeup = stack.enter_context(stop_signals())
        service = Service(service_ctx, jobs, on_stop=wakeup.wake)
        service.start()
        wakeup.wait()
        log.info("service.stopping", signal=wakeup.signals[0] if wakeup.signals else None,
                 grace_seconds=wait.total_seconds())
        service.shutdown(wait)
        _forget(service_ctx)
    if service.failed:
        raise typer.Exit(EXIT_FAILED)
