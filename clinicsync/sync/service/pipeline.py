"""What `sync --once` does after the connectors: the stages that consume the outbox
(calendar push, reminder planning, …). Each stage reports under its own key of the
run's JSON, beside "connectors"."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from clinicsync.common.gc_tuning import bulk_stage
from clinicsync.common.types import utcnow
from clinicsync.connectors.sql_session import keeping_engines
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.checks.stage_probes import PROBES, Probe, Verdict, after_pass, marked_result, read_marks
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.after_run import retention_pass, warn_orphans, zone_rules_pass
from clinicsync.sync.ingest.engine import BatchCallback, sync_once
from clinicsync.sync.ingest.reports import RunReport, new_run_id
from clinicsync.sync.runs.interrupted import close_interrupted_runs
from clinicsync.sync.runs.progress import NO_PROGRESS, Fanout, ProgressObserver, Ticker, no_ticks
from clinicsync.sync.runs.run_progress import RunRecorder
from clinicsync.sync.runs.standing import Standing, holding
from clinicsync.sync.store.store import Store

log = structlog.get_logger("clinicsync.pipeline")
# A stage that raises at each run: logged when it starts, changes and ends (sync/runs/standing.py).
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
    # Is there work? (sync/checks/stage_probes.py) None: the stage always runs.
    probe: Probe | None = None


@dataclass(frozen=True)
class Lazy:
    """A stage's run function, imported when the stage runs, not when the pipeline is: a stage
    with nothing to do costs an idle `sync --once` no import (the seven stages'
    modules were ~116 M instructions of a 2.8 G idle run)."""

    module: str
    name: str

    def __call__(self, settings: Settings, store: Store, run_id: str, progress: Ticker = no_ticks) -> StageResult:
        run: StageRun = getattr(importlib.import_module(self.module), self.name)
        return run(settings, store, run_id, progress=progress)


def stages() -> list[Stage]:
    """The stages in order; a new stage is added here."""
    # waitlist_sources first (who is waiting), then waitlist_book: a FHIR booking's Appointment
    # enters the store there, and the calendar, reminders and write-back (an auto-released later
    # appointment) of the same run follow from it; offers for freed slots last.
    found = [("waitlist_sources", "clinicsync.sync.waitlist.sources", "waitlist_sources_stage"),
             ("waitlist_book", "clinicsync.sync.waitlist.book", "booking_stage"),
             ("calendar", "clinicsync.sync.calendar.push", "calendar_stage"),
             ("source_answers", "clinicsync.sync.responses.source_answers", "source_answers_stage"),
             ("reminders", "clinicsync.sync.reminders.stage", "planning_stage"),
             ("writeback", "clinicsync.sync.responses.writeback", "writeback_stage"),
             ("waitlist", "clinicsync.sync.waitlist.stage", "waitlist_stage")]
    return [Stage(key, Lazy(module, name), PROBES[key]) for key, module, name in found]


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
    rows of bookkeeping, not a pass over the whole store."""
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
    zone_rules_pass(settings, store, report)  # as a poll's run does first (sync/store/zonerules.py)
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
    """Each stage in order: probed first (sync/checks/stage_probes.py), right before it would run, so
    that what an earlier stage stored (a booking's appointment) is work for the later ones. A
    stage with nothing to do is not imported nor run: its report is the one it would give (or
    its last idle pass's, for a state-based stage whose inputs did not change), and its progress
    row is written finished (RunRecorder.stages_skipped), a run's skipped stages in one write.
    A stage whose last run failed always runs: its failure ends only when a run succeeds."""
    ahead = stages()
    failing, marks = _failing(store, [s.key for s in ahead if s.probe is not None]), _marks(store, ahead)
    skipped: list[str] = []
    for stage in ahead:
        if stop is not None and stop.is_set():
            break  # shutting down: claim no more work; the next run picks it up
        verdict = _probe(settings, store, stage) if stage.key not in failing else Verdict.work()
        idle = verdict.result if verdict.digest is None else marked_result(marks, stage.key, verdict.digest)
        if idle is not None:
            skipped.append(stage.key)
            report.extras[stage.key] = idle
            continue
        if skipped:  # their rows before this stage's, in the order they were looked at
            watch.stages_skipped(skipped)
            skipped = []
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
        if verdict.digest is not None and isinstance(result, dict):
            _marked(store, stage.key, verdict.digest, result, marks)
    if skipped:
        watch.stages_skipped(skipped)


def _probe(settings: Settings, store: Store, stage: Stage) -> Verdict:
    """The stage's probe; work when it has none or cannot tell (a store error: the stage then
    runs and reports its own error, as before probes)."""
    if stage.probe is None:
        return Verdict.work()
    try:
        with store.engine.connect() as connection:
            return stage.probe(settings, connection, utcnow())
    except Exception as exc:
        log.warning("stage.probe_failed", stage=stage.key, error=type(exc).__name__)
        return Verdict.work()


def _failing(store: Store, keys: list[str]) -> set[str]:
    """The stages whose failure stands (sync/runs/standing.py), in one read (none when the store
    cannot say: each stage's probe decides then)."""
    return {key for key, holds in zip(keys, holding(store.engine, [(STAGE_FAILED, key, "") for key in keys]),
                                      strict=True) if holds}


def _marks(store: Store, ahead: list[Stage]) -> dict[str, tuple[str, str]]:
    if all(stage.probe is None for stage in ahead):
        return {}
    try:
        return read_marks(store)
    except Exception as exc:  # no marks: every state-based stage runs
        log.warning("stage.marks_unread", error=type(exc).__name__)
        return {}


def _marked(store: Store, stage: str, digest: str, result: StageResult, marks: dict[str, tuple[str, str]]) -> None:
    try:
        after_pass(store, stage, digest, result, marks)
    except Exception as exc:  # the next run runs the stage again: nothing is lost
        log.warning("stage.mark_failed", stage=stage, error=type(exc).__name__)
