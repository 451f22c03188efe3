"""Who is waiting: the ``waitlist_entry`` rows, written from every way an entry comes in (a
source's listing, the REST API, the front desk) and read by the status page and the metrics.

One module owns these writes so that the rules stay one: an entry is keyed by its source's
own id (``connector``, ``external_id``); an unchanged entry writes nothing; an entry the
source lists again after it was removed waits again; a booked entry stays booked whatever
the source says later (the offer stage booked it, the source has not caught up yet); an entry
whose ``expires_at`` passed is ``expired``. Never patient data beyond refs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, update

from clinicsync.common.hashing import content_hash
from clinicsync.common.waitlist_states import ENTRY_STATUSES, EntryStatus
from clinicsync.mappings.model import NormalizedPatient
from clinicsync.mappings.waitlist import NormalizedWaitlistEntry
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.store import Store
from clinicsync.sync.store.tables import WAITLIST_ENTRIES

E = WAITLIST_ENTRIES.c
DESK = "desk"  # added_by marker's prefix is the login; the connector stays the patient's own


@dataclass
class EntryCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: EntryCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.quarantined += other.quarantined
        self.errors += other.errors

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "quarantined": self.quarantined}


def windows_json(entry: NormalizedWaitlistEntry) -> str | None:
    return json.dumps(list(entry.windows), sort_keys=True) if entry.windows else None


def _content(entry: NormalizedWaitlistEntry) -> dict[str, Any]:
    """The columns a source decides (its status included), for the content hash."""
    return {"patient_ref": entry.patient.external_id, "practitioner_ref": entry.practitioner_ref,
            "visit_type": entry.visit_type, "location_ref": entry.location, "visit_mode": entry.visit_mode,
            "duration_minutes": entry.duration_minutes, "windows": windows_json(entry),
            "timezone": entry.timezone, "priority": entry.priority,
            "waiting_since": entry.waiting_since.isoformat() if entry.waiting_since else None,
            "expires_at": entry.expires_at.isoformat() if entry.expires_at else None, "source_status": entry.status,
            **({"later": entry.later_appointment_ref} if entry.later_appointment_ref else {})}


def _status(wanted: str, current: str | None, expires_at: datetime | None, now: datetime) -> EntryStatus:
    """``wanted``: the source's word for the entry (the normalized record's status)."""
    if current == EntryStatus.BOOKED:
        return EntryStatus.BOOKED
    if wanted == EntryStatus.REMOVED:
        return EntryStatus.REMOVED
    if expires_at is not None and expires_at <= now:
        return EntryStatus.EXPIRED
    return EntryStatus.WAITING


def store_patients(store: Store, connection: Connection, connector: str,
                   entries: Iterable[NormalizedWaitlistEntry], now: datetime) -> None:
    """The entries' patients: those the source describes are upserted (a waiting patient may
    have no appointment, and an offer needs a phone or an email); those named by id alone are
    added when unknown, never blanking what an appointment brought."""
    described: dict[str, NormalizedPatient] = {}
    bare: dict[str, NormalizedPatient] = {}
    for entry in entries:
        patient = entry.patient
        if patient.name or patient.phone or patient.email:
            described[patient.external_id] = patient
        else:
            bare[patient.external_id] = patient
    bare = {key: person for key, person in bare.items() if key not in described}
    if described:
        store.upsert_patients(connection, connector, described, now)
    if bare:
        store.upsert_patients(connection, connector, bare, now, only_new=True)


def apply_entries(connection: Connection, connector: str, entries: Sequence[NormalizedWaitlistEntry],
                  now: datetime, later: Mapping[str, int] | None = None) -> EntryCounts:
    """Insert or update each entry by (connector, external id); the last copy of an id wins.
    An entry first seen as removed is not stored (there is nothing to take off). ``later``:
    external id -> the appointment.id of the later visit the entry names (reach.py resolved it)."""
    later = later or {}
    counts = EntryCounts()
    latest = {entry.external_id: entry for entry in entries}
    stored = {row[0]: row[1:] for row in select_in(
        connection, WAITLIST_ENTRIES, ("external_id", "id", "status", "content_hash", "waiting_since"),
        connector, list(latest))}
    for external_id, entry in latest.items():
        marker = content_hash(_content(entry))
        known = stored.get(external_id)
        if known is None:
            if entry.status == EntryStatus.REMOVED:
                counts.unchanged += 1
                continue
            connection.execute(insert(WAITLIST_ENTRIES).values(
                connector=connector, external_id=external_id, **_columns(entry, later.get(external_id)),
                waiting_since=entry.waiting_since or now,
                status=_status(entry.status, None, entry.expires_at, now), content_hash=marker, updated_at=now))
            counts.created += 1
            continue
        row_id, status, old_marker, since = known
        if old_marker == marker:
            counts.unchanged += 1
            continue
        new_status = _status(entry.status, status, entry.expires_at, now)
        connection.execute(update(WAITLIST_ENTRIES).where(E.id == row_id).values(
            **_columns(entry, later.get(external_id)), waiting_since=entry.waiting_since or since, status=new_status,
            content_hash=marker, updated_at=now))
        if new_status == EntryStatus.REMOVED and status != EntryStatus.REMOVED:
            counts.removed += 1
        else:
            counts.updated += 1
    return counts


def _columns(entry: NormalizedWaitlistEntry, later_id: int | None) -> dict[str, Any]:
    return {"current_appointment_id": later_id, "patient_ref": entry.patient.external_id,
            "practitioner_ref": entry.practitioner_ref,
            "visit_type": entry.visit_type, "location_ref": entry.location, "visit_mode": entry.visit_mode,
            "duration_minutes": entry.duration_minutes, "windows": windows_json(entry), "timezone": entry.timezone,
            "priority": entry.priority, "expires_at": entry.expires_at}


def remove_entries(connection: Connection, connector: str, external_ids: Iterable[str], now: datetime) -> int:
    """The source deleted these entries (or took them off its list): ``removed``, unless booked."""
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        return 0
    result = connection.execute(update(WAITLIST_ENTRIES).where(
        E.connector == connector, E.external_id.in_(ids), E.status.in_((EntryStatus.WAITING, EntryStatus.EXPIRED)))
        .values(status=EntryStatus.REMOVED, updated_at=now, content_hash="removed"))
    return int(result.rowcount or 0)


class TooManyAbsent(Exception):
    """A listing would remove more than its safety share of the waiting entries."""


def remove_absent(connection: Connection, connector: str, seen: set[str], now: datetime,
                  max_share: float = 0.5, min_stop: int = 5) -> int:
    """After a whole listing (a snapshot, the FHIR waitlist search): the source's waiting
    entries it no longer lists were taken off its list. A listing that would remove more than
    ``max_share`` of them (and at least ``min_stop``: a truncated export) removes nothing and raises."""
    waiting = [row[0] for row in connection.execute(select(E.external_id).where(
        E.connector == connector, E.status == EntryStatus.WAITING, E.added_by.is_(None)))]
    absent = [external_id for external_id in waiting if external_id not in seen]
    if len(absent) >= min_stop and len(absent) > max_share * len(waiting):
        raise TooManyAbsent(
            f"connector {connector}: the waitlist listing lacks {len(absent)} of {len(waiting)} waiting entries "
            f"(over {max_share:.0%}); nothing was removed. If the list really shrank that much, raise "
            "`max_delete_share` for this connector")
    return remove_entries(connection, connector, absent, now)


def expire_due(connection: Connection, now: datetime) -> int:
    """Entries whose ``expires_at`` has passed stop waiting."""
    result = connection.execute(update(WAITLIST_ENTRIES).where(
        E.status == EntryStatus.WAITING, E.expires_at.is_not(None), E.expires_at <= now).values(
        status=EntryStatus.EXPIRED,
                                                                                       updated_at=now))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class NewEntry:
    """An entry the desk or the REST API adds: the patient by ``patient.external_id`` of
    ``connector``; None for a doctor, type or place means any."""

    connector: str
    patient_ref: str
    timezone: str
    practitioner_ref: str | None = None
    visit_type: str | None = None
    location_ref: str | None = None
    visit_mode: str | None = None
    duration_minutes: int | None = None
    windows: tuple[dict[str, Any], ...] = ()
    priority: int = 0
    expires_at: datetime | None = None
    waiting_since: datetime | None = None
    current_appointment_id: int | None = None


def add_entry(connection: Connection, new: NewEntry, now: datetime, *, added_by: str,
              external_id: str | None = None) -> tuple[int, str]:
    """Add (or, by ``external_id``, update) one entry; returns its id and ``created``,
    ``updated`` or ``unchanged``. The desk's entries get a generated id; ``added_by`` names
    who added it (a staff login, or ``api``). An entry added again after it was removed or
    expired waits again (its ``waiting_since`` kept unless given)."""
    key = external_id or f"{DESK}-{uuid.uuid4().hex}"
    values = {"patient_ref": new.patient_ref, "practitioner_ref": new.practitioner_ref,
              "visit_type": new.visit_type, "location_ref": new.location_ref, "visit_mode": new.visit_mode,
              "duration_minutes": new.duration_minutes,
              "windows": json.dumps(list(new.windows), sort_keys=True) if new.windows else None,
              "timezone": new.timezone, "priority": new.priority, "expires_at": new.expires_at,
              "current_appointment_id": new.current_appointment_id}
    marker = content_hash({**values, "expires_at": new.expires_at.isoformat() if new.expires_at else None,
                           "waiting_since": new.waiting_since.isoformat() if new.waiting_since else None})
    row = connection.execute(select(E.id, E.status, E.waiting_since, E.content_hash).where(
        E.connector == new.connector, E.external_id == key)).first()
    if row is None:
        result = connection.execute(insert(WAITLIST_ENTRIES).values(
            connector=new.connector, external_id=key, **values, waiting_since=new.waiting_since or now,
            status=_status(EntryStatus.WAITING, None, new.expires_at, now), added_by=added_by, content_hash=marker,
            updated_at=now))
        inserted = result.inserted_primary_key
        assert inserted is not None
        return int(inserted[0]), "created"
    status = _status(EntryStatus.WAITING, row.status, new.expires_at, now)
    if row.content_hash == marker and row.status == status:
        return int(row.id), "unchanged"
    connection.execute(update(WAITLIST_ENTRIES).where(E.id == row.id).values(
        **values, waiting_since=new.waiting_since or row.waiting_since, status=status, content_hash=marker,
        updated_at=now))
    return int(row.id), "updated"


def remove_by_key(connection: Connection, connector: str, external_id: str, now: datetime) -> str | None:
    """The REST API's DELETE: ``removed``, ``unchanged`` (it was not waiting), or None when
    the source has no entry by that id."""
    row = connection.execute(select(E.id, E.status).where(E.connector == connector,
                                                          E.external_id == external_id)).first()
    if row is None:
        return None
    return "removed" if remove_by_id(connection, int(row.id), now) else "unchanged"


def remove_by_id(connection: Connection, entry_id: int, now: datetime) -> bool:
    """The desk takes an entry off the list; False when there was none waiting by that id."""
    result = connection.execute(update(WAITLIST_ENTRIES).where(
        E.id == entry_id, E.status.in_((EntryStatus.WAITING, EntryStatus.EXPIRED))).values(
        status=EntryStatus.REMOVED, updated_at=now))
    return bool(result.rowcount)


NEED = ("connector", "patient_ref", "practitioner_ref", "visit_type", "location_ref", "visit_mode")
"""What makes two entries one need: the same patient (of the same source) waiting for the same
doctor (or any), visit type, place and mode. Windows, priority and length may differ: the
patient still wants one visit, not two."""


WORDS = ("visit_type", "location_ref")  # compared case-insensitively (a source's and the desk's spelling)


def need_key(row: Any) -> tuple[Any, ...]:
    """An entry's need (a row or a dict), its words case-insensitive."""
    get = row.get if isinstance(row, dict) else lambda key: getattr(row, key)
    return tuple(str(get(key)).lower() if key in WORDS and get(key) is not None else get(key) for key in NEED)


def _same_need(values: dict[str, Any]) -> list[Any]:
    return [func.lower(E[key]).is_not_distinct_from(values[key].lower() if values[key] is not None else None)
            if key in WORDS else E[key].is_not_distinct_from(values[key]) for key in NEED]


def live_duplicate(connection: Connection, values: dict[str, Any], *, except_key: str | None = None
                   ) -> Any | None:
    """The patient's live (``waiting``) entry for the same need, if any, other than
    ``except_key`` (the entry being updated). For the REST API and the desk's "Add to
    waitlist" form: one live entry per patient and need, so a second add answers with the
    first instead of doubling the patient's offers. ``values`` holds the NEED columns."""
    conditions = [E.status == EntryStatus.WAITING, *_same_need(values)]
    if except_key is not None:
        conditions.append(E.external_id != except_key)
    return connection.execute(select(WAITLIST_ENTRIES).where(and_(*conditions)).order_by(E.id).limit(1)).first()


def need_of(connector: str, entry: NormalizedWaitlistEntry) -> dict[str, Any]:
    """A source's entry as the NEED columns (for :func:`live_duplicate`)."""
    return {"connector": connector, "patient_ref": entry.patient.external_id,
            "practitioner_ref": entry.practitioner_ref, "visit_type": entry.visit_type,
            "location_ref": entry.location, "visit_mode": entry.visit_mode}


def duplicate_of(connection: Connection, new: NewEntry) -> Any | None:
    """For the desk's "Add to waitlist" form (sync/ui): the patient's live entry for the same
    need, if any; the form shows it instead of adding a second (one live entry per patient and
    need). None: nothing waits for this need yet."""
    return live_duplicate(connection, {key: getattr(new, key) for key in NEED})


def same_need_ids(connection: Connection, entry_id: int) -> list[int]:
    """The entry's id and those of the patient's other waiting entries for the same need (a
    source that lists the patient twice, an API and a desk entry): one candidate for offers,
    one winner at acceptance."""
    row = connection.execute(select(WAITLIST_ENTRIES).where(E.id == entry_id)).first()
    if row is None:
        return []
    values = {key: getattr(row, key) for key in NEED}
    ids = {int(found) for found in connection.execute(select(E.id).where(
        E.status == EntryStatus.WAITING, *_same_need(values))).scalars()}
    return sorted(ids | {entry_id})


def status_counts(connection: Connection, connectors: Collection[str] | None = None) -> dict[str, int]:
    """Entries per status (every status present, zero included), for metrics and the page
    (``connectors``: the sources of the sites a user sees)."""
    counts = dict.fromkeys(ENTRY_STATUSES, 0)
    query = select(E.status, func.count()).group_by(E.status)
    if connectors is not None:
        query = query.where(E.connector.in_(sorted(connectors)))
    for status, number in connection.execute(query):
        counts[str(status)] = int(number)
    return counts


def entry_rows(connection: Connection, statuses: Sequence[str] = (EntryStatus.WAITING,), limit: int = 200,
               connector: str | None = None, external_id: str | None = None,
               connectors: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Entries in offer order (priority, then the longest waiting), as plain dicts
    (``connectors``: the sources of the sites a user sees)."""
    conditions: list[ColumnElement[bool]] = [E.status.in_(list(statuses))]
    if connector is not None:
        conditions.append(E.connector == connector)
    if connectors is not None:
        conditions.append(E.connector.in_(sorted(connectors)))
    if external_id is not None:
        conditions.append(E.external_id == external_id)
    rows = connection.execute(select(WAITLIST_ENTRIES).where(and_(*conditions))
                              .order_by(E.priority.desc(), E.waiting_since, E.id).limit(limit))
    return [dict(row._mapping) for row in rows]


def entry_dict(row: dict[str, Any]) -> dict[str, Any]:
    """An entry as the REST API and the page show it (windows parsed, times ISO)."""
    out = {key: row[key] for key in ("id", "connector", "external_id", "patient_ref", "practitioner_ref",
                                     "visit_type", "location_ref", "visit_mode", "duration_minutes", "timezone",
                                     "priority", "status", "added_by")}
    out["windows"] = json.loads(row["windows"]) if row.get("windows") else []
    for key in ("waiting_since", "expires_at", "updated_at"):
        value = row.get(key)
        out[key] = value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else None
    return out
