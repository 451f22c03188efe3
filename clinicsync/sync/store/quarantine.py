"""The quarantine as a work list (Mirth's error queue is the model): one item per
(connector, record, field, reason). A record polled again bumps its item's count and
``last_seen`` instead of adding a row; an item resolves itself when its record imports;
staff dismiss what will never import. Written in the batch's own transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from clinicsync.sync.store.bulk import bind_value, insert_ignoring, select_in, update_by_id
from clinicsync.sync.store.tables import QUARANTINE

Q = QUARANTINE.c
OPEN, RESOLVED, DISMISSED = "open", "resolved", "dismissed"
IMPORTED = "imported"
GONE = "no longer in the source"
_CHUNK = 500


@dataclass(frozen=True)
class QuarantineEntry:
    position: str
    reason: str
    field: str | None = None
    record_id: str | None = None
    raw: str | None = None
    # The raw record's fingerprint (sync/ingest/fingerprint.py): the same bytes seen again under the
    # same mapping are a sighting of this item, recognized without mapping (``sighted``).
    fingerprint: str | None = None


@dataclass(frozen=True)
class Sighting:
    """A known-bad record seen again byte for byte: its open item, where, and its record id."""

    item: int
    position: str
    record_id: str | None = None


def item_key(entry: QuarantineEntry) -> str:
    """What makes two sightings the same item: the record, the field and the reason. A record
    is known by its id; without one, by what it said (its raw text), wherever it was read: a
    daily re-export moves a bad row to another file and line, and that must be one item seen
    again, not a new one each day. Only a sighting with neither id nor text (a file whose
    header cannot be read) is known by where it was read. A record that goes wrong
    differently is a new item; two unnamed records that say different things never share one
    (nothing lost)."""
    if entry.record_id:
        record = f"id:{entry.record_id}"
    elif entry.raw:
        record = f"raw:{hashlib.sha256(entry.raw.encode()).hexdigest()}"
    else:
        record = f"at:{entry.position}"
    return hashlib.sha256("\x1f".join((record, entry.field or "", entry.reason)).encode()).hexdigest()


def _clip(value: str | None, limit: int) -> str | None:
    """Fit a label to its column: a source's position or id can be any length (a FHIR
    versionId, an over-long external id), and PostgreSQL would refuse the whole batch for
    one label that does not fit. The reason and the raw record stay whole."""
    if value is None or len(value) <= limit:
        return value
    return value[:limit - 1] + "…"


# The columns of a new item, as ``record`` builds them.
_ITEM_COLUMNS = ("run_id", "connector", "position", "record_id", "field", "reason", "raw", "item_key", "status",
                 "seen_count", "created_at", "last_seen", "source_fingerprint")


def record(connection: Connection, connector: str, run_id: str, entries: Sequence[QuarantineEntry],
           now: datetime) -> None:
    """Open (or re-open) one item per key; a sighting of a known item updates it."""
    if not entries:
        return
    items: dict[str, dict[str, Any]] = {}
    for entry in entries:
        key = item_key(entry)
        seen = items.get(key)
        items[key] = {"run_id": run_id, "connector": connector, "position": _clip(entry.position, 512),
                      "record_id": _clip(entry.record_id, 255), "field": _clip(entry.field, 64),
                      "reason": entry.reason, "raw": entry.raw, "item_key": key, "status": OPEN,
                      "seen_count": 1 + (seen["seen_count"] if seen else 0), "created_at": now, "last_seen": now,
                      "source_fingerprint": entry.fingerprint}
    # Driver-level statements (sync/store/bulk.py): a batch of a dirty source records items each time.
    known: dict[str, int] = dict(select_in(connection, QUARANTINE, ("item_key", "id"), connector, list(items),
                                           _CHUNK, key="item_key"))
    fresh = [row for key, row in items.items() if key not in known]
    if fresh:  # another writer (a `quarantine retry`) may have opened the same item first: fine
        seen = bind_value(connection, Q.created_at, now)  # created_at and last_seen: ``now``, one type
        insert_ignoring(connection, QUARANTINE, _ITEM_COLUMNS, [
            (r["run_id"], r["connector"], r["position"], r["record_id"], r["field"], r["reason"], r["raw"],
             r["item_key"], r["status"], r["seen_count"], seen, seen, r["source_fingerprint"]) for r in fresh])
    again = [{"_id": known[key], "_n": row["seen_count"], "_run": run_id, "_position": row["position"],
              "_raw": row["raw"], "_now": now, "_print": row["source_fingerprint"]}
             for key, row in items.items() if key in known]
    if again:
        connection.execute(
            update(QUARANTINE).where(Q.id == bindparam("_id"))
            .values(seen_count=Q.seen_count + bindparam("_n"), last_seen=bindparam("_now"),
                    run_id=bindparam("_run"), position=bindparam("_position"), raw=bindparam("_raw"),
                    status=OPEN, resolved_at=None, resolution=None, source_fingerprint=bindparam("_print")),
            again)


def sighted(connection: Connection, run_id: str, sightings: Sequence[Sighting], now: datetime) -> None:
    """Known-bad records seen again (the same raw bytes under the same mapping epoch, so the
    same item, field and reason): each bumps its item as ``record`` would, without the record
    being mapped again. The item stays, or becomes again, open."""
    if not sightings:
        return
    seen = bind_value(connection, Q.last_seen, now)
    update_by_id(connection, QUARANTINE, ("last_seen", "run_id", "position"),
                 [(seen, run_id, _clip(s.position, 512), s.item) for s in sightings],
                 constants=f"seen_count = seen_count + 1, status = '{OPEN}', resolved_at = NULL, resolution = NULL")


def open_items(connection: Connection, connector: str) -> tuple[dict[str, tuple[int, str | None]], set[str]]:
    """The connector's open items, read once for a run: by raw-record fingerprint (item id,
    record id) for those that have one, and the record ids any open item names (only those
    need resolving when their records import unchanged)."""
    prints: dict[str, tuple[int, str | None]] = {}
    ids: set[str] = set()
    for item, record_id, printed in connection.execute(select(Q.id, Q.record_id, Q.source_fingerprint).where(
            Q.connector == connector, Q.status == OPEN)):
        if record_id is not None:
            ids.add(record_id)
        if printed is not None:
            prints[printed] = (item, record_id)
    return prints, ids


def resolve_imported(connection: Connection, connector: str, record_ids: Iterable[str], now: datetime,
                     probed: bool = False) -> int:
    """Close the open items of records that have now imported (or been deleted at the source).
    ``probed``: the caller has just read, in this transaction, that the connector has open items."""
    if not probed and not has_open(connection, connector):
        return 0  # the usual case: one index probe, no update per batch
    wanted = sorted(set(record_ids))
    if not wanted or (connection.dialect.name == "sqlite" and not _open_between(connection, connector, wanted[0],
                                                                                  wanted[-1])):
        return 0
    # Which of them have an open item (usually none of a batch's thousand): a plain indexed
    # read, then an update of only those, rather than an update per chunk of every id.
    ids = sorted({row[0] for row in select_in(connection, QUARANTINE, ("record_id",), connector, wanted,
                                               key="record_id", condition=f"status = '{OPEN}'")})
    closed = 0
    for start in range(0, len(ids), _CHUNK):
        result = connection.execute(
            update(QUARANTINE).where(Q.connector == connector, Q.status == OPEN,
                                     Q.record_id.in_(ids[start:start + _CHUNK]))
            .values(status=RESOLVED, resolved_at=now, resolution=IMPORTED))
        closed += int(result.rowcount or 0)
    return closed


def _open_between(connection: Connection, connector: str, low: str, high: str) -> bool:
    """Has the connector an open item whose record id lies from ``low`` to ``high``? One probe
    of ix_quarantine_open (connector, status, record_id). On SQLite only: its BINARY collation
    orders text as Python orders ``str`` (UTF-8 keeps code point order), so no id of a batch
    sorted in Python lies outside its ends; PostgreSQL's collation may order otherwise. Why: a
    first import (an export in id order) has open items only for earlier batches' ids, and
    the look-up of a batch's every id (~3,800 instructions an id) then finds none."""
    return connection.exec_driver_sql(
        f"SELECT 1 FROM quarantine WHERE connector = ? AND status = '{OPEN}' AND record_id BETWEEN ? AND ? LIMIT 1",
        (connector, low, high)).first() is not None


def first_seen(connection: Connection, connector: str, record_ids: Iterable[str]) -> dict[str, datetime]:
    """When a quarantine item (of any status) first saw each of these records: a record
    that imports after a mapping fix was known to clinicsync since then (go-live rule,
    Store.apply_batch ``go_live``)."""
    seen: dict[str, datetime] = {}
    # Every status named, so the lookup walks ix_quarantine_open (connector, status, record_id)
    # rather than every item the connector ever had.
    every = f"status IN ('{OPEN}', '{RESOLVED}', '{DISMISSED}')"
    for record_id, created_at in select_in(connection, QUARANTINE, ("record_id", "created_at"), connector,
                                           sorted(set(record_ids)), key="record_id", condition=every):
        if record_id not in seen or created_at < seen[record_id]:
            seen[record_id] = created_at
    return seen


def has_open(connection: Connection, connector: str) -> bool:
    return connection.execute(select(Q.id).where(Q.connector == connector, Q.status == OPEN).limit(1)).first() \
        is not None


def resolve_absent(connection: Connection, connector: str, seen: set[str], run_id: str, now: datetime) -> int:
    """After a complete listing (a snapshot) read by run ``run_id``: open items of records it
    no longer holds are gone from the source, so there is nothing left to fix. A record
    without an id is matched by what it says (``item_key``): each of its sightings in this
    run set the item's run, so an unnamed item this run did not see is not in the listing."""
    if not has_open(connection, connector):
        return 0
    candidates = connection.execute(select(Q.id, Q.record_id, Q.run_id).where(
        Q.connector == connector, Q.status == OPEN)).all()
    gone = [item for item, record_id, last_run in candidates
            if (record_id not in seen if record_id is not None else last_run != run_id)]
    for start in range(0, len(gone), _CHUNK):
        connection.execute(update(QUARANTINE).where(Q.id.in_(gone[start:start + _CHUNK]), Q.status == OPEN)
                           .values(status=RESOLVED, resolved_at=now, resolution=GONE))
    return len(gone)


def close(connection: Connection, item_id: int, status: str, resolution: str, now: datetime) -> bool:
    """Close one open item by hand (``dismissed``) or after a retry; False if not open."""
    result = connection.execute(update(QUARANTINE).where(Q.id == item_id, Q.status == OPEN)
                                .values(status=status, resolved_at=now, resolution=resolution))
    return bool(result.rowcount)
