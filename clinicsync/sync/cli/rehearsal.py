"""`sync --once --dry-run`: what a run *would* store and send, before it happens.

The real sync and the real reminder planning run on a store whose writes all stay in one
transaction (sync.db.make_rehearsal_engine); the report is read from inside it, then
everything is rolled back: no appointment, event, quarantine item, cursor, run row or
reminder survives. Connectors read their sources and change nothing there. The stages
that reach outside (calendar push, write-back to the source) do not run; nothing is sent.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import structlog
from sqlalchemy import func, select

from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.engine import BatchCallback, sync_once
from clinicsync.sync.ingest.reports import RunReport
from clinicsync.sync.reminders.stage import planning_stage
from clinicsync.sync.runs.progress import NO_PROGRESS, ProgressObserver
from clinicsync.sync.store.db import discard_rehearsal, make_rehearsal_engine
from clinicsync.sync.store.model.reminders import REMINDERS
from clinicsync.sync.store.store import Store

NOT_RUN = {"skipped": "dry run: nothing is pushed to calendars or written back to sources"}


def _newest_reminder(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.max(REMINDERS.c.id))).scalar() or 0)


def _would_send(store: Store, after: int) -> dict[str, Any]:
    """The messages the run planned, by kind: those that would go (pending) and those
    planned as skipped (too late, quiet hours, …)."""
    out: dict[str, dict[str, int]] = {"pending": defaultdict(int), "skipped": defaultdict(int)}
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(REMINDERS.c.kind, REMINDERS.c.status, func.count())
            .where(REMINDERS.c.id > after).group_by(REMINDERS.c.kind, REMINDERS.c.status)).all()
    for kind, status, count in rows:
        out.setdefault(status, defaultdict(int))[kind] += int(count)
    return {status: dict(sorted(kinds.items())) for status, kinds in out.items()}


def rehearse(settings: Settings, only: list[str] | None = None,
             on_batch: BatchCallback | None = None, progress: ProgressObserver = NO_PROGRESS) -> RunReport:
    """Run sync and planning on a rolled-back store; the report says what would happen.
    The store's schema must be current (the caller opens the store normally first)."""
    store = Store.on(make_rehearsal_engine(settings.store.url), settings.store)
    structlog.contextvars.bind_contextvars(dry_run=True)  # its log lines say they changed nothing
    try:
        before = _newest_reminder(store)
        report = sync_once(settings, store, only, on_batch, dry_run=True, progress=progress)
        progress.stage_started("reminders")
        try:
            report.extras["reminders"] = planning_stage(settings, store, report.run_id,
                                                        progress=progress.ticker("reminders"))
        except Exception as exc:  # reported like a failed stage of a real run
            report.extras["reminders"] = {"error": f"{type(exc).__name__}: {exc}"}
        progress.stage_finished("reminders", report.extras["reminders"].get("error"))
        report.extras["would_send"] = _would_send(store, before)
        report.extras["calendar"] = dict(NOT_RUN)
        report.extras["empty_fields"] = {name: {"fields": result.empty_fields, "records": result.mapped_records}
                                         for name, result in report.connectors.items() if result.empty_fields}
        report.extras["plausibility"] = {name: result.plausibility.as_dict()
                                         for name, result in report.connectors.items()
                                         if result.plausibility is not None and result.plausibility.visits}
        report.extras["dry_run"] = {"rolled_back": True}
    finally:
        structlog.contextvars.unbind_contextvars("dry_run")
        discard_rehearsal(store.engine)
    return report
