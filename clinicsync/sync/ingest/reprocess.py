"""`quarantine retry`: run the stored raw input of open quarantine items through the
connector's *current* mapping (after a mapping fix) and store what now maps, exactly as a
sync would (same transaction rules, same events). Mirth's "reprocess" for our error queue.

Go-live is a boundary: a record is first seen when its item was opened, so one quarantined
at (or before) the connector's go-live is recorded, not announced, when it imports here —
its reminders are planned, no confirmation goes (BatchOptions ``go_live``).

A source that re-reads its window (``Connector.rereads_window``) whose query or cursor column
changed stored its items' rows as the *old* query read them: mapping those again could import the
wrong phone or no doctor. Its items are not retried then; the next sync reads them again from the
source (sync/ingest/fingerprint.py ``read_epoch``), and the outcome says so. After a mapping fix
alone the stored rows are the rows the query reads, and are retried."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Connection, select

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Batch, ConnectorSettings, RawRecord
from clinicsync.connectors.registry import connector_kind
from clinicsync.sync.config.settings import Settings
from clinicsync.sync.ingest.batch_map import map_batch
from clinicsync.sync.ingest.fingerprint import query_changed, read_epoch, split_cursor
from clinicsync.sync.ingest.reports import new_run_id
from clinicsync.sync.ingest.source_settings import live_from, mapping_for
from clinicsync.sync.ingest.supersede import Within, recording, supersede
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.quarantine import Q
from clinicsync.sync.store.store import BatchOptions, Store

IMPORTED = "imported"
STILL_FAILING = "still failing"
NOT_RETRYABLE = "not retryable"
QUERY_CHANGED = ("the connector's query, cursor column or row settings (series, ical_columns, json_columns) "
                 "changed since this row was read: run "
                 "`clinicsync sync`, which reads it again from the source (a retry would map the row the old "
                 "query read)")


@dataclass(frozen=True)
class RetryOutcome:
    id: int
    connector: str
    result: str  # imported | still failing | not retryable
    detail: str | None = None  # the reason it still fails, or why it cannot be retried

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open_items(store: Store, ids: Sequence[int] | None, connector: str | None) -> list[Any]:
    query = select(Q.id, Q.connector, Q.position, Q.record_id, Q.field, Q.reason, Q.raw, Q.created_at) \
        .where(Q.status == "open")
    if ids is not None:
        query = query.where(Q.id.in_(list(ids)))
    if connector:
        query = query.where(Q.connector == connector)
    with store.engine.connect() as connection:
        return list(connection.execute(query.order_by(Q.id)))


def _record(raw: str | None) -> dict[str, Any] | None:
    """The stored raw input as a record, or None when the source gave no readable record
    (a CSV row with the wrong number of fields, an unreadable header)."""
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def retry(settings: Settings, store: Store, ids: Sequence[int] | None = None,
          connector: str | None = None) -> list[RetryOutcome]:
    """Retry the open items ``ids`` (None: every open item, of ``connector`` if given)."""
    configs = {c.name: c for c in settings.connectors}
    outcomes: list[RetryOutcome] = []
    run_id = new_run_id()
    mappings: dict[str, Any] = {}
    for item in _open_items(store, ids, connector):
        config = configs.get(item.connector)
        if config is None:
            outcomes.append(RetryOutcome(item.id, item.connector, NOT_RETRYABLE,
                                         "the connector is no longer in the settings"))
            continue
        if str(item.reason or "").startswith("waitlist entry: "):  # waitlist records: the next run reads them again
            outcomes.append(RetryOutcome(item.id, item.connector, NOT_RETRYABLE,
                                         "a waitlist record: fix it at the source; the next run reads it again"))
            continue
        data = _record(item.raw)
        if data is None:
            outcomes.append(RetryOutcome(item.id, item.connector, NOT_RETRYABLE,
                                         "no readable record was stored; fix it at the source and sync"))
            continue
        if config.name not in mappings:
            mappings[config.name] = mapping_for(settings, config)
        if _read_under_another_query(store, config, mappings[config.name]):
            outcomes.append(RetryOutcome(item.id, item.connector, NOT_RETRYABLE, QUERY_CHANGED))
            continue
        outcomes.append(_retry_one(store, config, mappings[config.name], item, data, run_id))
    return outcomes


def _read_under_another_query(store: Store, config: ConnectorSettings, mapping: Any) -> bool:
    """Whether the connector re-reads its window and its stored rows were read by another query."""
    if not connector_kind(config.kind).rereads_window:
        return False
    _, epoch = split_cursor(store.load_cursor(config.name))
    return epoch is not None and query_changed(epoch, read_epoch(mapping, config))


def _retry_one(store: Store, config: ConnectorSettings, mapping: Any, item: Any, data: dict[str, Any],
               run_id: str) -> RetryOutcome:
    batch = Batch(records=[RawRecord(data, item.position, record_id=item.record_id)])
    mapped, failed = map_batch(mapping, batch)
    mapped = [replace(m, first_seen=item.created_at) for m in mapped]
    baseline = not config.announce_existing and not store.baseline_done(config.name)

    def closing(resolution: str) -> Callable[[Connection], None]:
        def close(connection: Connection) -> None:
            quarantine.close(connection, item.id, quarantine.RESOLVED, resolution, utcnow())
        return close

    within: Within | None = closing("imported on retry")
    if mapped and "replaces" in mapping.preset.fields:  # a row of a visit moved by successor rows
        chains = supersede(store, config.name, mapped)
        mapped, within = chains.mapped, recording(chains.edges, config.name, within)
        if not mapped:  # an old row: a later row of its visit stands for it, and is stored
            with store.engine.begin() as connection:
                closing("retried: a later row of its visit stands for it")(connection)
            return RetryOutcome(item.id, item.connector, IMPORTED)
    if mapped:
        store.apply_batch(config.name, run_id, mapped, [], None, BatchOptions(
            within=within, baseline=baseline, go_live=None if baseline else live_from(store, config)))
        return RetryOutcome(item.id, item.connector, IMPORTED)
    entry = failed[0]
    # The same stored record, so the same item exactly when it names the same id and fails on
    # the same field for the same reason (its text is the item's by construction).
    same = (entry.record_id or None, entry.field, entry.reason) == (item.record_id, item.field, item.reason)
    if not same:  # it fails for another reason now: that is a new item; this one is done
        store.apply_batch(config.name, run_id, [], [entry], None,
                          BatchOptions(within=closing("retried: fails for another reason now")))
    return RetryOutcome(item.id, item.connector, STILL_FAILING, f"{entry.field or 'record'}: {entry.reason}")


def dismiss(store: Store, item_id: int) -> bool:
    """Close an open item by hand (it will never import, or was fixed some other way)."""
    with store.engine.begin() as connection:
        return quarantine.close(connection, item_id, quarantine.DISMISSED, "dismissed", utcnow())
