"""What `sync --once` does after the connectors: the stages that consume the outbox
(calendar push, reminder planning, …). Each stage reports under its own key of the
run's JSON, beside "connectors"."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from clinicsync.common.gc_tuning import bulk_stage
from clinicsync.connectors.sql_session import keeping_engines
from clinicsync.mappings.waitlist import mapping_record
from clinicsync.sync.calendar.push import calendar_stage
from clinicsync.sync.engine import (
    BatchCallback,
    RunReport,
    new_run_id,
    retention_pass,
    sync_once,
    warn_orphans,
    zone_rules_pass,
)
from clinicsync.sync.progress import NO_PROGRESS, Fanout, ProgressObserver, Ticker
from clinicsync.sync.reminders.stage import planning_stage
from clinicsync.sync.responses.source_answers import source_answers_stage
from clinicsync.sync.responses.writeback import writeback_stage
from clinicsync.sync.run_progress import RunRecorder
from clinicsync.sync.settings import Settings
from clinicsync.sync.stalls import close_interrupted_runs
from clinicsync.sync.standing import Standing
from clinicsync.sync.store import Store
from clinicsync.sync.waitlist.book import booking_stage
from clinicsync.sync.waitlist.sources import waitlist_sources_stage
from clinicsync.sync.waitlist.stage import waitlist_stage

log = structlog.get_logger("clinicsync.pipeline")
# A stage that raises at each run: logged when it starts, changes and ends (sync/standing.py).
STAGE_FAILED = Standing("stage.failed", "stage")
StageResult = dict[str, Any]


class StageRun(Protocol):
    def __call__(self, settings: Settings, store: Store, run_id: str, progress: Ticker = ...) -> StageResult:
        """``progress(done, total)`` as it goes, when the stage can count its rows."""


@dataclass(frozen=True)
class Stage:
    key: str  # its key in the run report
    run: StageRun
    # A stage that failed sets "error" in its result and makes the run exit 1.


def stages() -> list[Stage]:
    """The stages in order. Later issues append theirs here."""
    # waitlist_sources first (who is waiting), then waitlist_book: a FHIR booking's Appointment
    # enters the store there, and the calendar, reminders and write-back (an auto-released later
    # appointment) of the same run follow from it; offers for freed slots last.
    return [Stage("waitlist_sources", waitlist_sources_stage), Stage("waitlist_book", booking_stage),
            Stage("calendar", calendar_stage), Stage("source_answers", source_answers_stage),
            Stage("reminders", planning_stage), Stage("writeback", writeback_stage),
            Stage("waitlist", waitlist_stage)]




def run_once(settings: Settings, store: Store, only: list[str] | None = None,
             on_batch: BatchCallback | None = None, stop: threading.Event | None = None,
             progress: ProgressObserver = NO_PROGRESS) -> RunReport:
    """The connectors, then each stage. Every stage's progress is recorded in the store (for
    `status` elsewhere) and told to ``progress`` (a bar on a terminal)."""
    run_id = new_run_id()
    close_interrupted_runs(store, settings)  # push runs a crash left open: no poll ever closes them
    watch = Fanout([RunRecorder(store, run_id), progress])
    with bulk_stage():  # the later stages build rows in bulk too (clinicsync/common/gc_tuning.py)
        report = sync_once(settings, store, only, on_batch, run_id=run_id, stop=stop, progress=watch)
        _run_stages(settings, store, report, watch, stop)
    return report


def poll_once(settings: Settings, store: Store, connector: str,
              stop: threading.Event | None = None) -> RunReport:
    """One connector's poll in the service, without the stages and the upkeep that
    `sync --once` adds to it (run_once): the service's stages job does those once for all its
    sources (sync/service/jobs.py ``stages_job``), so an idle poll costs its query and a few
    rows of bookkeeping, not a pass over the whole store (issue 60)."""
    run_id = new_run_id()
    watch = Fanout([RunRecorder(store, run_id), NO_PROGRESS])
    with keeping_engines():  # a SQL source's engine and connection serve its next poll too
        return sync_once(settings, store, [connector], run_id=run_id, stop=stop, progress=watch, upkeep=False)


def needs_stages(settings: Settings, report: RunReport, connector: str) -> bool:
    """Did this poll store something the stages must see? A visit created, changed or
    deleted (the outbox has events for them); a waiting-list source always (the
    ``waitlist_sources`` stage reads it, no poll does). Fetched-but-unchanged and quarantined
    records need no stage."""
    polled = report.connectors.get(connector)
    if polled is None:  # not polled: a waiting list (sync_once leaves those to the stage), or stopping
        return mapping_record(settings.connector(connector).mapping, settings.base_dir) == "waitlist"
    counts = polled.counts
    return any((counts.created, counts.updated, counts.rescheduled, counts.cancelled, counts.noshow,
                counts.deleted))


def run_stages(settings: Settings, store: Store, stop: threading.Event | None = None,
               upkeep: bool = True) -> RunReport:
    """The stages alone, with no poll: what follows the records that polls and pushes stored
    (the service's stages job). ``upkeep``: also what a poll's run does in `sync --once` and
    the service does here, at most every few minutes (sync/service/jobs.py): prune the run
    history, forget old patient data, warn of orphaned sources."""
    report = RunReport(new_run_id())
    close_interrupted_runs(store, settings)
    zone_rules_pass(settings, store, report)  # as a poll's run does first (sync/zonerules.py)
    if upkeep:
        warn_orphans(settings, store, report)
    watch = Fanout([RunRecorder(store, report.run_id), NO_PROGRESS])
    with bulk_stage():
        _run_stages(settings, store, report, watch, stop)
    if upkeep:
        retention_pass(settings, store)  # as a poll's run does in `sync --once` (sync_once)
    return report


def _run_stages(settings: Settings, store: Store, report: RunReport, watch: Fanout,
                stop: threading.Event | None) -> None:
    for stage in stages():
        if stop is not None and stop.is_set():
            break  # shutting down: claim no more work; the next run picks it up
        watch.stage_started(stage.key)
        try:
            result = stage.run(settings, store, report.run_id, progress=watch.ticker(stage.key))
        except Exception as exc:  # one stage failing must not hide the others' work
            result = {"error": f"{type(exc).__name__}: {exc}"}
            STAGE_FAILED.seen(store.engine, log, stage.key, state=result["error"], level="error",
                              error=type(exc).__name__)
        else:
            STAGE_FAILED.ended(store.engine, log, stage.key)
        watch.stage_finished(stage.key, result.get("error") if isinstance(result, dict) else None)
        report.extras[stage.key] = result
