"""One sync run: every enabled connector, each isolated from the others' failures.

``sync_connector`` (one source's run: fetch, map, store, and the notes its failure or standing
leaves) and ``sync_once`` (every source's, then the passes that follow a run: tz rules,
orphans, retention) are read together when a run misbehaves, and what they share (the poll
lock and the writer's lane) stays private here. A batch's mapping is batch_map.py, the passes
around the polls after_run.py, the reports reports.py, a source's zone and mapping
source_settings.py.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from clinicsync.common.gc_tuning import bulk_stage
from clinicsync.connectors.base import Batch, Connector, ConnectorError, ConnectorSettings
from clinicsync.connectors.registry import build_connector, connector_kind, is_polled
from clinicsync.mappings.model import MappingLoadError
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.after_run import retention_if_due, warn_orphans, warn_orphans_if_due, zone_rules_pass
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.ingest.empty_fields import FieldFill
from clinicsync.sync.ingest.fingerprint import (
    KNOWN_LIMIT,
    Fingerprinter,
    LineRecognizer,
    Unchanged,
    mapping_epoch,
    read_epoch,
    split_cursor,
    unchanged_records,
    with_epoch,
)
from clinicsync.sync.ingest.renamed import renaming, stamped
from clinicsync.sync.ingest.reports import ConnectorReport, RunReport, new_run_id
from clinicsync.sync.ingest.source_settings import mapping_for, source_clock, source_timezone
from clinicsync.sync.ingest.subscriptions import note_server_status, subscription_state
from clinicsync.sync.ingest.supersede import recording, supersede
from clinicsync.sync.ingest.sweep import sweep_if_due, with_moved_past_window
from clinicsync.sync.runs.poll_record import PollRecord
from clinicsync.sync.runs.poll_state import read_poll_state
from clinicsync.sync.runs.progress import NO_PROGRESS, ProgressObserver, import_stage
from clinicsync.sync.runs.standing import Standing, Subject, end_all, head_of
from clinicsync.sync.store.changes import corrected_line, phones_line
from clinicsync.sync.store.locks import HeldLock, poll_lock, store_lane
from clinicsync.sync.store.store import (
    BatchOptions,
    Counts,
    Mapped,
    QuarantineEntry,
    SnapshotEnd,
    Store,
)

if TYPE_CHECKING:
    pass

log = structlog.get_logger("clinicsync.sync")
# Standing conditions, logged when they start, change and end, not at every run (sync/runs/standing.py).
FAILING = Standing("connector.failed", "connector")
CRASHING = Standing("connector.crashed", "connector")
SUBSCRIPTION_UNREAD = Standing("fhir.subscription.unread", "connector")
BatchCallback = Callable[[str, Counts], None]
BUSY = "skipped: another worker is polling it right now"


class PollInterrupted(ConnectorError):
    """The worker is shutting down: the poll stopped after its last stored batch."""


class PollLockLost(ConnectorError):
    """The poll lock's database session dropped: another worker may take over, so stop."""


@dataclass
class _StoredCursor:
    """The connector's cursor as the store holds it during a run (read at its start, then each
    batch's as it is stored)."""

    cursor: dict[str, Any] | None


def _nothing_to_store(batch: Batch, mapped: list[Mapped], quarantined: list[QuarantineEntry], known: Unchanged,
                      skipped: Any, snapshot_end: SnapshotEnd | None, stored: _StoredCursor) -> bool:
    """A batch whose transaction would write nothing: no record mapped, quarantined, recognized
    or sighted, no snapshot's end, no ``within`` of its own, and its cursor the stored one (or
    none). An idle FHIR poll's one empty search page is such a batch: storing it read five rows
    of bookkeeping and wrote none. Anything else is stored as before."""
    if mapped or quarantined or known.count or known.sightings or skipped or snapshot_end is not None:
        return False
    if batch.within is not None or batch.rejected or batch.records:
        return False
    if batch.cursor is None:
        return True
    return stored.cursor is not None and _same_cursor(batch.cursor, stored.cursor)


def _same_cursor(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """As the store compares them (Store._save_cursor): their JSON with sorted keys."""
    try:
        return orjson.dumps(one, option=orjson.OPT_SORT_KEYS) == orjson.dumps(other, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return False


def _line_recognizer(store: Store, connector_name: str, connector: Any,
                     fingerprint: Fingerprinter, open_items: bool = True) -> LineRecognizer | None:
    """A recognizer of unchanged lines for a connector that reads a flat file line by line
    (it has a ``recognizer`` slot: connectors/csv_drop.py), with the connector's stored
    fingerprints read once for the run (none held past ``KNOWN_LIMIT``). ``open_items`` False:
    the poll's state said it has no open quarantine item (sync/runs/poll_state.py), none is read."""
    if not hasattr(connector, "recognizer"):
        return None
    # The open items' record ids (read first) go with the fingerprints' read: the index notes their
    # rows, so that a batch's recognized lines need no id each to find those to resolve.
    recognizer = LineRecognizer(fingerprint,
                                lambda: store.known_fingerprints(connector_name, KNOWN_LIMIT, recognizer.open_ids),
                                lambda: store.open_quarantine(connector_name) if open_items else ({}, set()))
    connector.recognizer = recognizer
    return recognizer


def _lane(store: Store, dry_run: bool) -> contextlib.AbstractContextManager[object]:
    """The store's writer lane for a run's writes (sync/store/locks.py ``store_lane``); none for a dry
    run, whose writes stay in its own transaction, never committed (sync.db.make_rehearsal_engine)."""
    return contextlib.nullcontext() if dry_run else store_lane(store.engine)


def sync_connector(settings: Settings, store: Store, config: ConnectorSettings, run_id: str,
                   on_batch: BatchCallback | None = None, dry_run: bool = False,
                   progress: ProgressObserver = NO_PROGRESS, sole_writer: bool = False,
                   abandon: bool = False) -> ConnectorReport:
    """``progress`` sees the import as a stage: rows fetched after each stored batch.
    ``sole_writer``: nothing else writes this connector's rows during the run (a poll under
    its poll lock, a dry run on its own connection), so the store may remember the patients
    and practitioners the run stored instead of looking each up again (Store.apply_batch).
    The poll lock does not stop a FHIR Subscription's push or `quarantine retry` on the same
    source: a batch that meets a row one of them stored meanwhile is applied again without the
    memory, as is the rest of the run (``connector.another_writer``). ``abandon``: first close
    the runs a dead worker left open (``Store.abandon_runs``; under the poll lock only), in the
    transaction that records this run.

    On a SQLite store each write transaction of the run takes the store's lane
    (sync/store/locks.py ``store_lane``: its run row and progress, each batch with its cursor, the
    sweep's deletions, the baseline, its end) and none of the source's reads do: the lane is let
    go before the connector's generator is asked for its next batch, so a source that is slow
    or hangs until its timeout delays no other job's writes."""
    report = ConnectorReport()
    bound = log.bind(connector=config.name, run_id=run_id)
    lane = _lane(store, dry_run)
    stage = import_stage(config.name)
    # One round of the store: when its baseline was recorded (None before), its cursor, its last
    # delete sweep, whether a run of it is left running, whether it has open quarantine items, which
    # of the conditions it may end stand. Under the poll lock (or a dry run's own connection) no
    # other poll moves them.
    remembered = list(connector_kind(config.kind).remembered(config))
    subjects = [(Standing(event, "connector"), config.name, part) for event, part in remembered]
    state = read_poll_state(store.engine, config.name, [(FAILING, config.name, ""), (CRASHING, config.name, ""),
                                                        *subjects])
    # The run's rows: at once for a first import, a dry run or a poll that closes a dead worker's
    # runs; else when it first stores something, and one statement if it stores nothing
    # (sync/runs/poll_record.py).
    record = PollRecord(store, run_id, config.name, stage, progress, lane, state,
                        lazy=not dry_run and state.go_live is not None, abandon=abandon)
    if record.abandoned:
        log.warning("connector.runs_abandoned", connector=config.name, count=record.abandoned)
    connector = None
    reread = False  # the read's epoch changed (query, mapping or cursor column): not an idle poll
    failed: tuple[Standing, str, dict[str, Any]] | None = None  # what ended the run, if it failed
    # Go-live is quiet (DESIGN invariant 7): until a sync of this connector has finished
    # without error, what it stores is recorded, not announced. A crash mid-way leaves it
    # unfinished, so the run that resumes is still the baseline.
    recorded, cursor = state.go_live, state.cursor
    first = recorded is None
    baseline = not config.announce_existing and first
    go_live = None if baseline or config.announce_existing else recorded  # live_from's answer
    try:
        if first:
            _refuse_double_import(settings, store, config.name)
        mapping = mapping_for(settings, config)
        fingerprint = Fingerprinter(mapping_epoch(mapping, config, source_timezone(settings, config),
                                                  settings.clinic_for(config.name).default_region))
        connector = build_connector(config)
        connector.required_columns = mapping.required_sources()
        connector.source_zone = source_clock(settings, config)
        connector.dry_run = dry_run
        connector.standing = frozenset(condition for condition, subject in zip(remembered, subjects, strict=True)
                                       if head_of(subject) in state.standing)
        recognizer = _line_recognizer(store, config.name, connector, fingerprint, state.open_quarantine)
        chained = "replaces" in mapping.preset.fields  # rows that name the row they replace
        cursor, read_before = split_cursor(cursor)
        read_now = read_epoch(mapping, config)
        # The query, mapping or cursor column changed since the last read: the window is read
        # again, and what only the fix changed is stored as a correction, told to nobody.
        correcting = not first and read_before is not None and read_before != read_now
        if correcting and connector.rereads_window:
            cursor = None
            bound.info("connector.reread", reason="the connector's query, mapping or cursor column changed: "
                       "the source's window is read again and stored visits corrected, nobody told")
        given: set[str] = set()  # the ids a correcting read gave so far
        held: set[tuple[str | None, datetime]] = set()  # and its records' (patient, change stamp) pairs
        # What the store held before a correcting read: a visit new to the store stamped (or, without
        # a change stamp, booked) no later was in the source at the last read, unread or under
        # another id: not news.
        held_until = store.held_until(config.name) if correcting else None
        fill = FieldFill(mapping) if dry_run else None  # the dry run warns of fields empty on every record
        profile = None
        if dry_run:  # the dry run's profile of the mapped visits; a real run need not import it (idle runs stay cheap)
            from clinicsync.sync.ingest.plausibility import Needs, Profile

            profile = Profile(mapping.preset, settings.clinic_for(config.name).timezone, needs=Needs.of(settings))
        seen: set[str] | None = None
        stored = _StoredCursor(cursor)

        def apply_batch(batch: Batch) -> None:
            """Map, store and count one batch: the fetch's, and what the delete sweep looks up."""
            nonlocal seen, sole_writer
            known = unchanged_records(batch, mapping, fingerprint,
                                      lambda ids: store.fingerprints(config.name, ids), recognizer)
            mapped, quarantined = map_batch(mapping, batch, known)
            within, unchanged = batch.within, known.count
            if chained and mapped:  # a successor row and the row it replaces: one visit (supersede.py)
                chains = supersede(store, config.name, mapped)
                mapped, within = chains.mapped, recording(chains.edges, config.name, batch.within)
                unchanged += chains.left_out  # an old row of a moved visit: fetched, nothing to store
            if correcting and mapped:  # a visit under the id the changed settings give it now (renamed.py)
                given.update(m.appointment.external_id for m in mapped)
                given.update(known.skipped.values())
                held.update(stamped(mapped))
                within = renaming(config.name, mapped, given, within)
            if fill is not None:
                fill.add(m.appointment for m in mapped if not m.delete)
            if profile is not None:
                profile.add_batch(batch.records, ((m.position, m.appointment) for m in mapped if not m.delete))
            # only ids with an open item need resolving (usually none)
            skipped = known.skipped_ids(batch, recognizer.open_ids if recognizer is not None else None)
            if recognizer is not None:
                recognizer.open_ids.update(q.record_id for q in quarantined if q.record_id)
            snapshot_end = None
            if batch.snapshot:
                seen = seen if seen is not None else set()
                seen.update(m.appointment.external_id for m in mapped)
                seen.update(q.record_id for q in quarantined if q.record_id)
                seen.update(known.skipped.values())  # unchanged rows are still in the listing
                seen.update(known.lines.ids)
                seen.update(s.record_id for s in known.sightings if s.record_id)
                if batch.snapshot_end:
                    snapshot_end = SnapshotEnd(seen, batch.max_delete_share, until=batch.until,
                                               min_stop=batch.min_delete_stop, held=held)
                    seen = None
            options = BatchOptions(within=within, snapshot_end=snapshot_end, baseline=baseline, unchanged=unchanged,
                                   unchanged_ids=skipped, go_live=go_live, sightings=known.sightings,
                                   current=connector.reads_current_state, correcting=correcting,
                                   held_until=held_until)
            apply = partial(store.apply_batch, config.name, run_id, mapped, quarantined,
                            None if batch.cursor is None else with_epoch(batch.cursor, read_now))
            try:
                if _nothing_to_store(batch, mapped, quarantined, known, skipped, snapshot_end, stored):
                    counts, error = Counts(), None  # an idle poll's empty page: its transaction would write nothing
                else:
                    if mapped or quarantined or known.sightings or snapshot_end is not None or within is not None:
                        record.open()  # rows that name the run, or deletions: its rows first
                    with lane:
                        counts, error = apply(replace(options, remember_people=sole_writer))
            except IntegrityError:
                if not sole_writer:
                    raise
                # Another writer stored a row this run took for absent (a FHIR Subscription's push
                # or `quarantine retry` on the same source, which take no poll lock): the batch
                # rolled back whole; it and the rest of the run go again without the run's memory.
                bound.warning("connector.another_writer", detail="a row stored meanwhile by another "
                              "writer of this source: the batch is applied again, looking every row up")
                sole_writer = False
                with lane:
                    counts, error = apply(options)
            if recognizer is not None and recognizer.known:
                # The fingerprints read at the start no longer describe what this run wrote or deleted.
                recognizer.touched.update(m.appointment.external_id for m in mapped)
                if counts.deleted:
                    recognizer.reload()
            if batch.cursor is not None:
                stored.cursor = batch.cursor
            report.counts.add(counts)
            if report.counts.fetched:  # the stage's row says 0 rows from its start: no write to say it again
                with lane:
                    progress.stage_advanced(stage, report.counts.fetched)
            if error:
                report.error = error
                bound.error("snapshot.safety_stop", source=batch.source, detail=error)
            if on_batch:
                on_batch(config.name, report.counts)

        for batch in with_moved_past_window(connector.fetch(cursor), store, connector,
                                            mapping):
            apply_batch(batch)
        if fill is not None:
            report.empty_fields, report.mapped_records = fill.empty(), fill.records
        if profile is not None:
            report.plausibility = profile.report()
        if report.error is None:  # a source read whole: what vanished from it may be deleted
            swept = sweep_if_due(store, connector, mapping, settings.clinic_for(config.name).timezone, baseline,
                                 apply_batch, swept_at=state.swept_at)
            if swept is not None:
                report.counts.deleted += swept.deleted
                report.error = swept.error
                if swept.error:
                    bound.error("sweep.safety_stop", detail=swept.error)
                else:
                    bound.info("connector.swept", listed=swept.listed, deleted=swept.deleted,
                               looked_up=swept.looked_up, kept=swept.kept)
                if swept.listing_incomplete:
                    bound.warning("sweep.listing_incomplete", listed=swept.listed, kept=swept.kept,
                                  fix="the delete sweep's listing lacked visits the source still holds (each "
                                      "looked up, none deleted): check the connector's search: parameters and "
                                      "paging with clinicsync check")
        if report.error is None and not dry_run:
            _check_subscription(store, config, connector, bound)
            if read_before != read_now:  # the epoch is kept even by a source that keeps no cursor
                reread = True
                with lane, store.engine.begin() as connection:
                    store.save_cursor(connection, config.name, with_epoch(stored.cursor, read_now))
        if report.error is None and first:
            with lane:
                finished = not store.baseline_done(config.name)
                if finished:
                    store.finish_baseline(config.name, run_id)
            if finished and baseline:
                bound.info("connector.baseline_recorded", appointments=report.counts.created)
    except (ConnectorError, MappingLoadError) as exc:  # the source or its settings: the admin's to fix
        report.error = str(exc)
        failed = (FAILING, str(exc), {"error": str(exc)})
    except Exception as exc:  # a bug (its whole traceback in the log), or the store's outage
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        where = traceback.extract_tb(exc.__traceback__)[-1].name
        if not isinstance(exc, OperationalError | InterfaceError):  # the store's outage is no bug: no traceback
            bound.error("connector.crash_traceback", error=type(exc).__name__, where=where, exc_info=exc)
        failed = (CRASHING, f"{type(exc).__name__} {where}", {"error": type(exc).__name__, "where": where})
    finally:
        if connector is not None:
            connector.close()
        record.finish(report.counts, report.error, changed=reread)
    with lane:
        ended = _note_failure(store, bound, config.name, failed, report.error)
        if connector is not None:
            ended += _note_conditions(store, bound, config.name, connector, dry_run)
        end_all(store.engine, bound, ended, standing=state.standing, asked=state.asked)  # none read if none stood
    bound.info("connector.synced", **report.counts.as_dict(), failed=report.error is not None)
    if report.counts.corrected:
        bound.warning("connector.zone_corrected", corrected=report.counts.corrected,
                      detail=corrected_line(report.counts.corrected))
    if report.counts.phones_elsewhere:
        bound.warning("connector.phones_elsewhere", patients=report.counts.phones_elsewhere,
                      detail=phones_line(report.counts.phones_elsewhere))
    return report


def _note_failure(store: Store, bound: Any, name: str, failed: tuple[Standing, str, dict[str, Any]] | None,
                  error: str | None) -> list[Subject]:
    """A source that fails (or crashes) run after run: an error when it starts failing or the
    error changes, a daily reminder, and `connector.failed.resolved` after its first good run
    (sync/runs/standing.py). A run stopped by a safety check ends nothing. The conditions that
    ended are returned, for one ``end_all`` with the connector's own."""
    if failed is not None:
        kind, state, fields = failed
        kind.seen(store.engine, bound, name, state=state, level="error", **fields)
        return [(CRASHING if kind is FAILING else FAILING, name, "")]
    if error is None:
        return [(FAILING, name, ""), (CRASHING, name, "")]
    return []


def _note_conditions(store: Store, bound: Any, name: str, connector: Connector, dry_run: bool) -> list[Subject]:
    """The lasting conditions the connector met in this run (a read scope the source refuses, a
    search it does not allow): a warning when one starts or changes, a daily reminder,
    ``<event>.resolved`` when a run finds it fine (sync/runs/standing.py), not a warning at every
    run. A dry run writes nothing to the store: each that holds is a line. Those a run found
    fine are returned (ended by the caller, with the run's others, in one round)."""
    ended: list[Subject] = []
    for condition in connector.conditions.values():
        if dry_run:
            if condition.holds:
                bound.warning(condition.event, **condition.fields)
        elif condition.holds:
            Standing(condition.event, "connector").seen(store.engine, bound, name, part=condition.part,
                                                        state=condition.state, remind=condition.remind,
                                                        **condition.fields)
        else:
            ended.append((Standing(condition.event, "connector"), name, condition.part))
    return ended


def _check_subscription(store: Store, config: ConnectorSettings, connector: Connector, bound: Any) -> None:
    """After a successful poll of a source with a push subscription clinicsync knows of (its
    reference in ``fhir_subscription``, from `clinicsync fhir subscribe` or a notification):
    the state the source gives it now, recorded (sync/ingest/subscriptions.py ``note_server_status``),
    so one deleted, ended or set ``error`` shows as a stall even when no notification could say
    so (an R4 rest-hook has no heartbeats). A failure to read it is logged; the poll stands."""
    if getattr(config, "subscription", None) is None:
        return
    known = subscription_state(store.engine, config.name)
    if known is None or not known.get("subscription"):
        return
    try:
        status = connector.subscription_status(str(known["subscription"]))  # the source's answer: no lane
    except ConnectorError as exc:
        with store_lane(store.engine):
            SUBSCRIPTION_UNREAD.seen(store.engine, bound, config.name, state=type(exc).__name__,
                                     error=type(exc).__name__)
        return
    with store_lane(store.engine):
        SUBSCRIPTION_UNREAD.ended(store.engine, bound, config.name)
        if status is not None:
            note_server_status(store.engine, config.name, status)
    if status is not None and status != known.get("status"):
        bound.info("fhir.subscription.status", status=status, was=known.get("status"))


class DoubleImportRefused(ConnectorError):
    """A source's first run while the store holds an orphaned source (sync/ingest/orphans.py)."""


def _refuse_double_import(settings: Settings, store: Store, name: str) -> None:
    """A source that has never stored a visit is not imported while the store holds another
    source's future visits that the settings no longer name: it is most likely that source
    renamed, and would book every visit twice (sync/ingest/orphans.py). Read only before a source's
    baseline is done: one index probe per source of the store."""
    from clinicsync.sync.ingest.orphans import first_run_refusal, recent_window  # a first run's: rare

    with store.engine.connect() as connection:
        refusal = first_run_refusal(connection, name, settings.connector_names(),
                                    recent=recent_window(settings.calendar.past_days))
    if refusal is not None:
        raise DoubleImportRefused(refusal)


def _watch(on_batch: BatchCallback | None, lock: HeldLock, stop: threading.Event | None) -> BatchCallback:
    """After each stored batch: report progress, then stop if asked to or if the lock is gone."""

    def after_batch(connector: str, counts: Counts) -> None:
        if on_batch is not None:
            on_batch(connector, counts)
        if stop is not None and stop.is_set():
            raise PollInterrupted(f"connector {connector}: stopped after {counts.fetched} records because the "
                                  "worker is shutting down; the next run resumes from the stored cursor")
        if lock.lost():
            raise PollLockLost(f"connector {connector}: lost its poll lock (the database connection dropped); "
                               "stopped after the last stored batch")

    return after_batch


def poll_connector(settings: Settings, store: Store, config: ConnectorSettings, run_id: str,
                   on_batch: BatchCallback | None = None, stop: threading.Event | None = None,
                   progress: ProgressObserver = NO_PROGRESS) -> ConnectorReport:
    """Poll one connector under its poll lock: one worker at a time; the others skip it."""
    try:
        with poll_lock(store.engine, config.name) as lock:
            if lock is None:
                log.info("connector.skipped", connector=config.name, reason="polled by another worker")
                return ConnectorReport(skipped=BUSY)
            return sync_connector(settings, store, config, run_id, _watch(on_batch, lock, stop), progress=progress,
                                  sole_writer=True, abandon=True)
    except SQLAlchemyError as exc:  # the store itself failed (down, restarted, connection killed)
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        log.error("connector.store_failed", connector=config.name, error=type(exc).__name__)
        return ConnectorReport(error=f"store error ({type(exc).__name__}): {cause}")


def sync_once(settings: Settings, store: Store, only: list[str] | None = None,
              on_batch: BatchCallback | None = None, run_id: str | None = None,
              stop: threading.Event | None = None, dry_run: bool = False,
              progress: ProgressObserver = NO_PROGRESS, upkeep: bool = True) -> RunReport:
    """Poll each enabled connector once. ``stop``: once set, claim no further connector
    and end the current poll after its next stored batch. ``dry_run``: on a store whose
    writes are rolled back (sync.rehearsal); no poll lock (it would switch the one shared
    connection to autocommit), and connectors change nothing at the source. ``progress``
    watches each connector's import. ``upkeep``: also warn of orphaned sources and prune (the
    retention pass), as `sync --once` must, each when due (at most every hour when it has nothing
    to do: sync/store/upkeep.py); the service does both in its stages job instead, once for all its
    sources rather than at every poll (sync/service/pipeline.py poll_once)."""
    report = RunReport(run_id or new_run_id())
    structlog.contextvars.bind_contextvars(run_id=report.run_id)
    lane = _lane(store, dry_run)  # SQLite: these writes take turns with the other jobs'
    try:
        with lane:
            if not dry_run:
                zone_rules_pass(settings, store, report)
            if upkeep and dry_run:
                warn_orphans(settings, store, report)  # a rehearsal says what a run would
            elif upkeep:
                warn_orphans_if_due(settings, store, report)
        with bulk_stage():
            for config in _polled_candidates(settings, only):
                if not config.enabled or not is_polled(config) or (only and config.name not in only):
                    continue
                if mapping_record(config.mapping, settings.base_dir) == "waitlist":
                    continue  # a waiting list, not appointments: sync/waitlist/sources.py reads it
                if stop is not None and stop.is_set():
                    break
                if dry_run:
                    report.connectors[config.name] = sync_connector(settings, store, config, report.run_id, on_batch,
                                                                    dry_run=True, progress=progress,
                                                                    sole_writer=True)
                else:
                    report.connectors[config.name] = poll_connector(settings, store, config, report.run_id, on_batch,
                                                                    stop, progress)
        if not dry_run and upkeep:
            with lane:
                retention_if_due(settings, store, stored=_stored_something(report))
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    return report


def _polled_candidates(settings: Settings, only: list[str] | None) -> list[ConnectorSettings]:
    """The sources a run may poll, in the settings' order: the one ``only`` names by the
    settings' index (the service polls one source a run, and a walk over all of them grew each
    poll with their count), else each that ``only`` names, else all."""
    if only and len(set(only)) == 1:
        try:
            return [settings.connector(only[0])]
        except KeyError:
            return []
    return [config for config in settings.connectors if not only or config.name in only]


def _stored_something(report: RunReport) -> bool:
    """Did a poll of this run store a visit or a quarantine item? What it stored may be past the
    patient-data window already (a source re-sending a forgotten visit with its details)."""
    return any(result.counts.created or result.counts.updated or result.counts.rescheduled
               or result.counts.cancelled or result.counts.noshow or result.counts.deleted
               or result.counts.quarantined for result in report.connectors.values())
