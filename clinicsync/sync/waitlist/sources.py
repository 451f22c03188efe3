"""Waitlist entries from the sources, a post-sync stage of its own.

Two ways a connector gives waiting patients, both through its ordinary ``fetch`` contract
and a mapping, so nothing about reading a source is written twice:

- a connector whose mapping says ``record: waitlist`` (a SQL query or a CSV drop of the
  waiting list: mappings/csv_waitlist.yaml) is a *waitlist source*: the appointment sync
  leaves it out (sync/ingest/engine.py) and this stage polls it, under a lock of its own, with its
  own cursor; a snapshot's end removes the waiting entries it no longer lists;
- a connector that also lists its waiting patients (``Connector.reads_waitlist``: FHIR with
  ``waitlist: true``) is asked for ``waitlist()``, a whole listing every run, mapped with
  its ``waitlist_mapping``.

A record that does not map is quarantined under the connector, naming the field, like an
appointment; a record the source deletes (``RawRecord.delete``) removes its entry.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Batch, ConnectorError, ConnectorSettings
from clinicsync.connectors.registry import build_connector
from clinicsync.mappings.model import MappingError, MappingLoadError
from clinicsync.mappings.record_kind import mapping_record
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry, WaitlistMapping, load_waitlist_mapping
from clinicsync.sync.checks.stage_probes import wants_waitlist
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.batch_map import raw_text
from clinicsync.sync.ingest.source_settings import source_timezone, stored_times
from clinicsync.sync.runs.progress import Ticker, no_ticks
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.locks import try_lock
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.store import Store
from clinicsync.sync.waitlist.entries import (
    EntryCounts,
    TooManyAbsent,
    apply_entries,
    expire_due,
    remove_absent,
    remove_entries,
    store_patients,
)
from clinicsync.sync.waitlist.reach import check_entry

log = structlog.get_logger("clinicsync.waitlist")


def is_waitlist_source(settings: Settings, config: ConnectorSettings) -> bool:
    """A connector whose mapping maps waitlist records (and nothing else)."""
    return mapping_record(config.mapping, settings.base_dir) == "waitlist"


@dataclass
class SourceReport:
    fetched: int = 0
    counts: EntryCounts = field(default_factory=EntryCounts)
    error: str | None = None
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"fetched": self.fetched, **self.counts.as_dict(), "error": self.error, "skipped": self.skipped}


def _mapping(settings: Settings, config: ConnectorSettings, ref: str) -> WaitlistMapping:
    """Compiled as the appointment mapping is (sync/ingest/source_settings.py ``mapping_for``): the source's
    zone as the default, and its ``stored_times`` for naive date-times."""
    region = settings.clinic_for(config.name).default_region  # the region of the source's practice (site)
    return load_waitlist_mapping(ref, source_timezone(settings, config), region, settings.base_dir,
                                 stored_times(config))


@dataclass
class Mapped:
    """A batch mapped: the entries (and where each came from, for a later refusal), the ids the
    source deleted, the records to quarantine, and every id the batch named."""

    entries: list[NormalizedWaitlistEntry] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    origins: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (position, raw)


def map_records(mapping: WaitlistMapping, batch: Batch) -> Mapped:
    """Map each record of a batch (a record that does not map is quarantined by field)."""
    entries: list[NormalizedWaitlistEntry] = []
    origins: dict[str, tuple[str, str | None]] = {}
    deleted: list[str] = []
    seen: set[str] = set()
    quarantined = [QuarantineEntry(r.position, r.reason, record_id=r.record_id, raw=r.raw) for r in batch.rejected]
    for record in batch.records:
        try:
            if record.delete:
                key = record.record_id or mapping.peek_id(record.data)
                if key:
                    deleted.append(key)
                continue
            entry = mapping.apply(record.data)
        except MappingError as exc:
            record_id = record.record_id or mapping.peek_id(record.data)
            if record_id:
                seen.add(record_id)  # still listed: a bad row is no reason to drop the entry
            quarantined.append(QuarantineEntry(record.position, f"waitlist entry: {exc.reason}", field=exc.field,
                                               record_id=record_id, raw=raw_text(record.data)))
            continue
        seen.add(entry.external_id)
        entries.append(entry)
        origins[entry.external_id] = (record.position, raw_text(record.data))
    return Mapped(entries, deleted, quarantined, seen, origins)


def refuse_unreachable(connection: Connection, owner: str, mapped: Mapped, now: datetime
                       ) -> tuple[list[NormalizedWaitlistEntry], dict[str, int]]:
    """The entries that may be stored (reach.py) and the later visits they name; a waiting
    entry no offer could ever reach is quarantined instead, naming the field (its entry, if
    one was stored before, stays as it was)."""
    kept: list[NormalizedWaitlistEntry] = []
    later: dict[str, int] = {}
    for entry in mapped.entries:
        checked = check_entry(connection, owner, entry, now)
        if checked.refusal is not None:
            position, raw = mapped.origins.get(entry.external_id, ("", None))
            mapped.quarantined.append(QuarantineEntry(position, f"waitlist entry: {checked.refusal.reason}",
                                                      field=checked.refusal.field, record_id=entry.external_id,
                                                      raw=raw))
            continue
        if checked.later_appointment_id is not None:
            later[entry.external_id] = checked.later_appointment_id
        kept.append(entry)
    return kept, later


class WaitlistSettingError(ValueError):
    """A waitlist setting that names nothing (``waitlist_of``): the admin's to fix, filed as the
    source's failure, unlike a ValueError from a bug."""


def owner_of(settings: Settings, config: ConnectorSettings) -> str:
    """The connector the entries belong to: ``waitlist_of`` (the appointment source whose
    patients and doctors the rows name), else the waitlist source itself."""
    owner = config.waitlist_of
    if owner is None or owner == config.name:
        return config.name
    if not any(c.name == owner for c in settings.connectors):
        raise WaitlistSettingError(f"connector {config.name}: waitlist_of names no connector ({owner!r})")
    return owner


def _apply(store: Store, config: ConnectorSettings, owner: str, run_id: str, batches: Iterator[Batch],
           mapping: WaitlistMapping, report: SourceReport, save_cursor: bool) -> None:
    """Each batch in one transaction with its quarantine items and (``save_cursor``) cursor;
    a snapshot's end removes what the whole listing lacked. Entries and patients are stored
    under ``owner``; the cursor and the quarantine stay the source's own."""
    seen: set[str] = set()
    for batch in batches:
        mapped = map_records(mapping, batch)
        report.fetched += len(batch.records) + len(batch.rejected)
        seen |= mapped.seen
        now = utcnow()
        with store.engine.begin() as connection:
            entries, later = refuse_unreachable(connection, owner, mapped, now)
            store_patients(store, connection, owner, entries, now)
            counts = apply_entries(connection, owner, entries, now, later)
            counts.removed += remove_entries(connection, owner, mapped.deleted, now)
            quarantine.record(connection, config.name, run_id, mapped.quarantined, now)
            counts.quarantined = len(mapped.quarantined)
            if batch.snapshot and batch.snapshot_end:
                try:
                    with connection.begin_nested():
                        counts.removed += remove_absent(connection, owner, seen, now, batch.max_delete_share,
                                                                 batch.min_delete_stop)
                except TooManyAbsent as exc:
                    report.error = str(exc)
                    log.error("waitlist.safety_stop", connector=config.name, detail=str(exc))
                seen = set()
            if save_cursor and batch.cursor is not None:
                store.save_cursor(connection, config.name, batch.cursor)
        report.counts.add(counts)


def poll_source(settings: Settings, store: Store, config: ConnectorSettings, run_id: str) -> SourceReport:
    """One connector's waiting list, under the lock ``waitlist/<name>`` (one worker at a time)."""
    report = SourceReport()
    listing = not is_waitlist_source(settings, config)
    connector = None
    try:
        with try_lock(store.engine, "waitlist", config.name) as lock:
            if lock is None:
                report.skipped = "another worker is reading this waiting list right now"
                return report
            connector = build_connector(config)
            connector.source_zone = source_timezone(settings, config)
            if listing:
                if not connector.reads_waitlist():
                    report.skipped = "no waitlist"
                    return report
                mapping = _mapping(settings, config, str(getattr(config, "waitlist_mapping", "")))
                _apply(store, config, config.name, run_id, connector.waitlist(), mapping, report, save_cursor=False)
            else:
                owner = owner_of(settings, config)
                mapping = _mapping(settings, config, config.mapping)
                _apply(store, config, owner, run_id, connector.fetch(store.load_cursor(config.name)), mapping, report,
                       save_cursor=True)
    except (ConnectorError, MappingLoadError, MappingError, WaitlistSettingError) as exc:  # the admin's to fix
        report.error = str(exc)
        log.error("waitlist.source_failed", connector=config.name, error=str(exc))
    except SQLAlchemyError as exc:
        report.error = f"store error ({type(exc).__name__})"
        log.error("waitlist.store_failed", connector=config.name, error=type(exc).__name__)
    except Exception as exc:  # a bug: never filed as a setting to fix; its whole traceback in the log
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        where = traceback.extract_tb(exc.__traceback__)[-1].name
        log.error("waitlist.source_crashed", connector=config.name, error=type(exc).__name__, where=where,
                  exc_info=exc)
    finally:
        if connector is not None:
            connector.close()
    log.info("waitlist.source_read", connector=config.name, **report.counts.as_dict(), fetched=report.fetched,
             failed=report.error is not None)
    return report


def waitlist_sources_stage(settings: Settings, store: Store, run_id: str,
                           progress: Ticker = no_ticks) -> dict[str, Any]:
    """The pipeline stage: entries past their ``expires`` stop waiting, then each source's
    waiting list is read. ``{"expired": n, "sources": {name: counts}, "error": …}``."""
    with store.engine.begin() as connection:
        expired = expire_due(connection, utcnow())
    sources: dict[str, dict[str, Any]] = {}
    configs = [c for c in settings.connectors if c.enabled and wants_waitlist(settings, c)]
    for done, config in enumerate(configs, 1):
        sources[config.name] = poll_source(settings, store, config, run_id).as_dict()
        progress(done, len(configs))
    errors = [f"{name}: {r['error']}" for name, r in sources.items() if r.get("error")]
    result: dict[str, Any] = {"expired": expired, "sources": sources}
    if errors:  # the pipeline's convention: "error" only on a stage that failed
        result["error"] = "; ".join(errors)
    return result
