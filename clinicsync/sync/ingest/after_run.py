"""The passes around a source's polls: tz rules before them, orphaned sources, retention after.

`sync --once` runs each when due (sync_once); the service runs them once for all its sources in
its stages job (sync/service/pipeline.py). None of them reads a source: a failure is logged and
reported, and the run goes on.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.hashing import content_hash
from clinicsync.common.types import utcnow
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.config.settings.per_load import once_per_load
from clinicsync.sync.ingest.reports import RunReport
from clinicsync.sync.ingest.source_settings import source_timezone
from clinicsync.sync.runs.run_progress import PRUNED_PER_CALL as STAGES_PRUNED_PER_CALL
from clinicsync.sync.runs.run_progress import prune_stages
from clinicsync.sync.runs.standing import Standing
from clinicsync.sync.store.retention import FORGOTTEN_PER_CALL, Forgotten, window_start
from clinicsync.sync.store.store import RUNS_PRUNED_PER_CALL, Store
from clinicsync.sync.store.tables import live_consumers
from clinicsync.sync.store.upkeep import done_at, forget_done, is_due, note_done, task_name
from clinicsync.sync.store.zonerules import check_zone_rules

if TYPE_CHECKING:
    from clinicsync.sync.ingest.orphans import Orphan

log = structlog.get_logger("clinicsync.sync")
ORPHANED = Standing("source.orphaned", "connector")  # logged when it starts and ends (sync/runs/standing.py)


ORPHANS_CHECKED = "orphans"  # housekeeping: orphans:<digest of the names>, the last look that found none


def warn_orphans_if_due(settings: Settings, store: Store, report: RunReport, now: datetime | None = None) -> None:
    """:func:`warn_orphans`, unless a look with the same source names found none within the last
    UPKEEP_EVERY (sync/store/upkeep.py). A source renamed or removed in the settings changes the names,
    so it is looked for at once; while an orphan exists every run looks (and warns, and reports
    it), as before; and a look that finds one forgets every earlier "none found", so the names
    of before (a typo in a source's name fixed) are looked at again and the orphan's warning and
    held messages end at once. What waits up to an hour: an orphan made by another process's settings."""
    now = now or utcnow()
    key = task_name(ORPHANS_CHECKED, content_hash(sorted(settings.connector_names())))
    if not is_due((done_at(store.engine, [key]) or {}).get(key), now):
        return
    orphans = warn_orphans(settings, store, report)
    if orphans == []:
        note_done(store.engine, key, now, replacing=ORPHANS_CHECKED + ":")
    elif orphans:  # an orphan stands now: no earlier look may be trusted (a typo fixed must end it)
        forget_done(store.engine, ORPHANS_CHECKED + ":")


def warn_orphans(settings: Settings, store: Store, report: RunReport) -> list[Orphan] | None:
    """At the start of a run: the sources the store holds that the settings no longer name,
    with their future visits and pending messages and the fix (a warning; the run goes on);
    a retired source named again is no longer retired. Returns the orphans (None: unread).
    sync/ingest/orphans.py is imported here, when a look is due (warn_orphans_if_due: hourly), not by
    every run (~10 M instructions of an idle `sync --once`)."""
    from clinicsync.sync.ingest.orphans import find_orphans, recent_window, unretire

    named = settings.connector_names()
    try:
        with store.engine.begin() as connection:
            for name in unretire(connection, named):
                log.warning("source.unretired", connector=name, detail="a retired source is in the settings again")
            orphans = find_orphans(connection, named, recent=recent_window(settings.calendar.past_days))
    except SQLAlchemyError as exc:
        log.warning("sources.orphans_unread", error=type(exc).__name__)
        return None
    for orphan in orphans:  # once when it starts, then a daily reminder (sync/runs/standing.py)
        ORPHANED.seen(store.engine, log, orphan.connector, future_visits=orphan.future_visits,
                      recent_visits=orphan.recent_visits, pending_messages=orphan.pending_messages, fix=orphan.detail)
    ORPHANED.ended(store.engine, log, keep=[o.connector for o in orphans])
    if orphans:
        report.extras["orphaned_sources"] = {"sources": [o.as_dict() for o in orphans]}
    return orphans


def zone_rules_pass(settings: Settings, store: Store, report: RunReport) -> None:
    """Before any connector reads: a tz database update that changed a zone's rules moves its
    stored future visits back to their local time (sync/store/zonerules.py), so that no re-mapped record
    looks moved. A failure is logged and reported; the run goes on (the next one tries again)."""
    try:
        corrected = check_zone_rules(store, configured_zones(settings))
    except SQLAlchemyError as exc:
        log.error("zonerules.failed", error=type(exc).__name__)
        report.extras["zone_rules"] = {"error": f"store error ({type(exc).__name__})"}
        return
    if corrected:
        store.forget_zone_rules()
        report.extras["zone_rules"] = {"corrected": [c.as_dict() for c in corrected]}


def configured_zones(settings: Settings) -> frozenset[str]:
    """The clinic's zone, each connector's source zone and the places' zones (the clinic's and
    each site's): the zones most stored times are in. Worked out once per settings load
    (config/settings/per_load.py): every poll's run asks, and the walk over every source's
    settings made a worker's minute grow with the square of its sources."""
    return once_per_load(settings, "configured_zones", _configured_zones)


def _configured_zones(settings: Settings) -> frozenset[str]:
    clinics = [settings.clinic, *(site.as_clinic(settings.clinic) for site in settings.sites.values())]
    return frozenset({settings.clinic.timezone,
                      *(source_timezone(settings, config) for config in settings.connectors),
                      *(place.timezone for clinic in clinics for place in clinic.places.values() if place.timezone)})


def retention_pass(settings: Settings, store: Store) -> None:
    """What the store keeps for a while only, bounded at each pass: the run history, the stages'
    progress rows, the patient data of visits past ``store.patient_data_days`` (with their outbox
    events and delivery attempts). Called by the service's stages job at most every few minutes
    (sync/service/pipeline.py ``run_stages``); `sync --once` calls :func:`retention_if_due`."""
    _prune_run_history(settings, store)
    _prune_stage_history(store)
    _forget_patient_data(settings, store)


# housekeeping: the retention's parts, each by what it was done for (sync/store/upkeep.py)
RUNS_PRUNED = "runs"  # runs:<digest of run_history_days>
STAGES_PRUNED = "stages"
PATIENT_DATA_FORGOTTEN = "forgotten"  # forgotten:<digest of the window's start and the consumers>


def retention_if_due(settings: Settings, store: Store, now: datetime | None = None, stored: bool = False) -> None:
    """:func:`retention_pass` for `sync --once`, each part when due: not done within UPKEEP_EVERY
    (an hour) for what it is done for. Forgetting is done for a window (its start moves once a day,
    at midnight UTC, retention.window_start) and the consumers: a new window is due at once, so no
    visit is forgotten later than before; so is forgetting after a run that ``stored`` something
    (a source re-sending an old visit with its patient's details: forgotten by the same run, as
    before). What else a window gains after its pass (a reply received by the server, a quarantine
    item closed by hand) waits up to an hour. A part that failed, or used its whole bound (a store
    catching up), stays due."""
    now = now or utcnow()
    runs = task_name(RUNS_PRUNED, content_hash(settings.store.run_history_days))
    cutoff = window_start(now, store.patient_keep)
    forgotten = task_name(PATIENT_DATA_FORGOTTEN, content_hash([cutoff.isoformat(), sorted(live_consumers(settings))]))
    marks = done_at(store.engine, [runs, STAGES_PRUNED, forgotten]) or {}
    if is_due(marks.get(runs), now):
        removed = _prune_run_history(settings, store, now)
        if removed is not None and removed < RUNS_PRUNED_PER_CALL:
            note_done(store.engine, runs, now, replacing=RUNS_PRUNED + ":")
    if is_due(marks.get(STAGES_PRUNED), now):
        pruned = _prune_stage_history(store, now)
        if pruned is not None and pruned < STAGES_PRUNED_PER_CALL:
            note_done(store.engine, STAGES_PRUNED, now)
    if stored or is_due(marks.get(forgotten), now):
        done = _forget_patient_data(settings, store, now)
        if done is not None and max(done.appointments, done.patients, done.replies, done.quarantine) < \
                FORGOTTEN_PER_CALL:
            note_done(store.engine, forgotten, now, replacing=PATIENT_DATA_FORGOTTEN + ":")


def _prune_stage_history(store: Store, now: datetime | None = None) -> int | None:
    """Each stage's progress rows past a week, its newest row aside (sync/runs/run_progress.py
    :func:`prune_stages`); a failure is logged and the pass goes on. The rows removed (None: failed)."""
    try:
        removed = prune_stages(store, now)
    except SQLAlchemyError as exc:
        log.warning("stages.prune_failed", error=type(exc).__name__)
        return None
    if removed:
        log.info("stages.pruned", removed=removed)
    return removed


def _prune_run_history(settings: Settings, store: Store, now: datetime | None = None) -> int | None:
    """Past ``store.run_history_days``, every configured source's runs (polled or pushed) go:
    once per pass, so a push-only source is pruned too. A failure here is logged and the
    pass goes on: the history is kept a little longer, nothing else depends on it."""
    try:
        removed = store.prune_runs([config.name for config in settings.connectors], now)
    except SQLAlchemyError as exc:
        log.warning("runs.prune_failed", error=type(exc).__name__)
        return None
    if removed:
        log.info("runs.pruned", removed=removed, kept_days=settings.store.run_history_days)
    return removed


def _forget_patient_data(settings: Settings, store: Store, now: datetime | None = None) -> Forgotten | None:
    """Past ``store.patient_data_days`` after a visit, its patient data goes (sync/store/retention.py),
    a bounded number of visits a pass. One log line with the counts, never an id or a value.
    A failure is logged and the pass goes on: the data is kept a pass longer."""
    try:
        forgotten = store.forget_patient_data(now, consumers=live_consumers(settings))
    except SQLAlchemyError as exc:
        log.warning("retention.forget_failed", error=type(exc).__name__)
        return None
    if forgotten:
        log.info("retention.forgotten", **forgotten.as_dict(), kept_days=settings.store.patient_data_days)
    return forgotten
