"""The delete sweep: how an incremental source's deleted rows become deletions.

An incremental read only sees rows that changed; a row deleted at the source (Easy!Appointments
deletes the row when a patient cancels on its booking page) is simply never read again, so the
appointment would stay booked and keep its reminders. A connector that can list its window's
ids cheaply offers a schedule (``Connector.sweep_schedule``); when one is due, the ids are
listed (``Connector.list_ids``: the id columns alone), turned into appointment ids by the
mapping, and the connector's active future appointments of that window that are not listed are
deleted — the same ``deleted`` change a snapshot produces, so notices go out and reminders are
cancelled — behind the snapshot's safety stop (``max_delete_share``, above ``min_delete_stop``).

It runs after the connector's fetch in the same poll, under the same poll lock, so the store
holds everything the source said up to a moment before the listing: a row the listing lacks was
deleted, or moved out of the window, since. Before deleting, a connector that can look records up
by id (``Connector.records_by_id``: FHIR) is asked for the ones that would go; those it still
holds are applied as they are now, through the poll's own path (a visit moved past the window is
moved, a cancelled one cancelled), and only the rest is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from clinicsync.common.types import utcnow
from clinicsync.connectors.base import Batch, Connector
from clinicsync.mappings.engine import CompiledMapping
from clinicsync.sync.ingest.supersede import listed_visits
from clinicsync.sync.store.locks import store_lane
from clinicsync.sync.store.store import SnapshotEnd, Store
from clinicsync.sync.store.tables import DELETE_SWEEPS as SWEEPS


@dataclass(frozen=True)
class SweepResult:
    listed: int
    deleted: int
    error: str | None = None  # the safety stop's message
    looked_up: int = 0  # stored appointments the listing lacked, looked up before deleting
    kept: int = 0  # of those, the ones the source still holds (applied as they are now, not deleted)
    # The listing lacked more of what the source holds than the safety stop allows to vanish at
    # once (an empty listing of a full window, a `search:` that narrows the listing, pages lost):
    # nothing is deleted on its word, but the listing itself wants looking at.
    listing_incomplete: bool = False


UNREAD: Any = object()  # ``sweep_if_due``'s ``swept_at`` when the caller has not read it


def sweep_if_due(store: Store, connector: Connector, mapping: CompiledMapping, clinic_timezone: str,
                 baseline: bool = False, apply: Callable[[Batch], None] | None = None,
                 swept_at: datetime | None = UNREAD) -> SweepResult | None:
    """Run the connector's delete sweep when its schedule says one is due; None when it has
    none or none is due. A safety stop leaves the last sweep's time as it was: the next poll
    sweeps again, and the stop stays visible (a failed run) until it is dealt with.
    ``apply``: the poll's own way of storing a batch (sync/ingest/engine.py); with it, the ones the
    listing lacks are looked up first (``still_held``), and only those really gone are deleted
    (and counted by the safety stop). ``swept_at``: the last sweep's time as the caller read it
    (a poll, with its other state: sync/runs/poll_state.py), else it is read here."""
    schedule = connector.sweep_schedule()
    if schedule is None:
        return None
    now = utcnow()
    previous = last_sweep(store, connector.name) if swept_at is UNREAD else swept_at
    if previous is not None and schedule.next_due(previous, previous, clinic_timezone) > now:
        return None
    connector.id_columns = mapping.id_columns()
    listing = connector.list_ids()
    ids = {external_id for record in listing.records if (external_id := mapping.peek_id(record)) is not None}
    if "replaces" in mapping.preset.fields:  # rows that name the row they replace: listed as their visits
        ids = listed_visits(store, connector.name, ids)
    looked_up, kept = still_held(store, connector, mapping, ids, now, listing.until, apply)
    with store_lane(store.engine):  # SQLite: the deletions take turns with the other writers, the listing did not
        deleted, error = store.delete_vanished(
            connector.name, SnapshotEnd(ids | kept, listing.max_delete_share, now=now, until=listing.until,
                                        sweep=True, min_stop=listing.min_delete_stop),
            baseline)
        if error is None:
            record_sweep(store, connector.name, now, len(ids), deleted)
    incomplete = len(kept) > listing.max_delete_share * (len(ids) + len(kept))
    return SweepResult(len(ids), deleted, error, looked_up, len(kept), incomplete)


def still_held(store: Store, connector: Connector, mapping: CompiledMapping, listed: set[str], now: datetime,
               until: datetime, apply: Callable[[Batch], None] | None) -> tuple[int, set[str]]:
    """How many stored appointments the sweep would delete were looked up at the source, and
    the ids of those it still holds, after applying what it holds now of them (``apply``). A
    listing of the window lacks a visit moved out of it (past its end) as it lacks a deleted
    one; deleted, its patient was told it was cancelled, its reminders dropped, and it was booked
    anew with a confirmation when the window reached its new day. Looked up, it is moved. Only
    when something would be deleted (the lookup costs a request per 50 ids, FHIR), and only for a
    connector that can look up (``Connector.records_by_id``); what it raises stops the sweep
    before anything is deleted."""
    if apply is None or type(connector).records_by_id is Connector.records_by_id:
        return 0, set()
    missing = store.compared_ids(connector.name, now, until) - listed
    lookup = connector.records_by_id(sorted(missing)) if missing else None
    if lookup is None:  # nothing would be deleted, or the connector cannot look these up: as before
        return 0, set()
    kept = {external_id for record in lookup.found if (external_id := mapping.peek_id(record)) in missing}
    records = [record for record in lookup.records if mapping.peek_id(record.data) in missing]
    if records or lookup.rejected:
        apply(Batch(records, None, lookup.rejected, source=f"{connector.name}, looked up before the delete sweep"))
    return len(missing), kept


def last_sweep(store: Store, connector: str) -> datetime | None:
    with store.engine.connect() as connection:
        value: datetime | None = connection.execute(
            select(SWEEPS.c.swept_at).where(SWEEPS.c.connector == connector)).scalar_one_or_none()
        return value


def record_sweep(store: Store, connector: str, at: datetime, listed: int, deleted: int) -> None:
    values = {"swept_at": at, "listed": listed, "deleted": deleted}
    with store.engine.begin() as connection:
        changed = connection.execute(update(SWEEPS).where(SWEEPS.c.connector == connector).values(**values))
        if not changed.rowcount:
            connection.execute(insert(SWEEPS).values(connector=connector, **values))


def with_moved_past_window(batches: Iterable[Batch], store: Store, connector: Connector,
                           mapping: CompiledMapping) -> Iterator[Batch]:
    """``batches``, and before a windowed snapshot's last one, the records of the visits it left
    out that now lie past its window's end (``Connector.past_window``), as one more batch of the
    snapshot. A snapshot lists a window (SQL's ``:window_start``/``:window_end``); a visit moved
    past its end is missing from the listing like a deleted one, and was deleted: its patient told
    it was cancelled, its reminders dropped, and booked anew with a confirmation when the window
    reached its new day. Read as moved instead (the past-window read happens only when the
    snapshot left a stored visit out: a deletion at the source, a visit moved)."""
    if type(connector).past_window is Connector.past_window:  # it cannot read past a window (CSV, HL7)
        yield from batches
        return
    listed: set[str] = set()
    for batch in batches:
        if batch.snapshot:
            listed.update(external_id for record in batch.records
                          if (external_id := mapping.peek_id(record.data)) is not None)
        if batch.snapshot_end and batch.until is not None:
            left_out = store.compared_ids(connector.name, utcnow(), batch.until) - listed
            past = connector.past_window() if left_out else None
            moved = [record for record in past or () if mapping.peek_id(record.data) in left_out]
            if moved:
                yield Batch(moved, None, snapshot=True, source=f"{batch.source or connector.name}, past the window")
        yield batch
