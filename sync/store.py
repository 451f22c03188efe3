"""The store: applies a batch of normalized appointments with change detection.

Everything a batch causes — rows, outbox events, quarantine entries and the
connector's new cursor — is written in one transaction. Unchanged input writes
nothing at all. Bulk selects and executemany keep it fast on large imports.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from clinicsync.common.hashing import content_hash, content_hash_bytes
from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment, NormalizedPatient, NormalizedPractitioner
from clinicsync.sync import quarantine
from clinicsync.sync.bulk import insert_rows, select_in
from clinicsync.sync.changes import Change, Stored, classify
from clinicsync.sync.db import ensure_schema, insert_ignoring_duplicates, make_engine
from clinicsync.sync.model import (
    Appointment,
    ConnectorBaseline,
    ConnectorState,
    Event,
    Location,
    Patient,
    Practitioner,
    SyncRun,
)
from clinicsync.sync.quarantine import QuarantineEntry
from clinicsync.sync.settings import StoreSettings

COUNT_KEYS = ("fetched", "created", "updated", "rescheduled", "cancelled", "noshow", "deleted",
              "unchanged", "quarantined")

APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
PATIENTS = Patient.__table__  # type: ignore[attr-defined]
PRACTITIONERS = Practitioner.__table__  # type: ignore[attr-defined]
LOCATIONS = Location.__table__  # type: ignore[attr-defined]
EVENTS = Event.__table__  # type: ignore[attr-defined]
BASELINES = ConnectorBaseline.__table__  # type: ignore[attr-defined]
STATES = ConnectorState.__table__  # type: ignore[attr-defined]
RUNS = SyncRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Mapped:
    """A record that mapped, with where it came from. ``delete``: the source says the
    appointment is gone (e.g. HL7 SIU^S17), so it is deleted rather than upserted."""

    position: str
    appointment: NormalizedAppointment
    delete: bool = False
    record_id: str | None = None  # the connector's id of the record, when it has one
    # The raw record's fingerprint (sync/fingerprint.py), stored with the row it maps to.
    fingerprint: str | None = None


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    noshow: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: Counts) -> None:
        for key in COUNT_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class SnapshotEnd:
    """Ends a full listing: future appointments not in ``seen`` are deleted,
    unless more than ``max_share`` of them would go (a truncated export)."""

    seen: set[str]
    max_share: float
    now: datetime = field(default_factory=utcnow)


class SnapshotSafetyStop(Exception):
    def __init__(self, absent: int, total: int, max_share: float) -> None:
        self.absent, self.total, self.max_share = absent, total, max_share
        super().__init__(
            f"snapshot safety stop: {absent} of {total} future appointments "
            f"({absent / total:.0%}) are missing from the newest snapshot, more than the allowed "
            f"{max_share:.0%}; nothing was deleted. If the export is complete, raise "
            "`max_delete_share` for this connector and sync again.")


_PATIENT_FIELDS = tuple(f.name for f in fields(NormalizedPatient))
_PRACTITIONER_FIELDS = tuple(f.name for f in fields(NormalizedPractitioner))


def _as_rows(people: dict[str, Any], names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What ``asdict`` gives for these flat dataclasses, without its deep copy."""
    return {key: {name: getattr(person, name) for name in names} for key, person in people.items()}


_STORED_COLUMNS = tuple(f.name for f in fields(Stored))


def _older(new: NormalizedAppointment, old: NormalizedAppointment) -> bool:
    """Is ``new`` an update older than ``old`` (both dated)? Such an update never wins."""
    return (new.source_updated_at is not None and old.source_updated_at is not None
            and new.source_updated_at < old.source_updated_at)


# Fields added after the first stores were written count only when set, so an appointment
# without them hashes as it did before they existed: upgrading re-updates, announces and
# pushes nothing. Each group was added at once (data-quality notes and the source's own
# answer; the telehealth fields, issue 22; the cancellation reason) and counts whole when
# it is set: a visit stated as in person without links is no news either.
_TELEHEALTH_FIELDS = frozenset({"visit_mode", "join_url", "provider_join_url", "dial_in"})
_ALL_FIELDS = tuple(f.name for f in fields(NormalizedAppointment))


def _telehealth_set(appointment: NormalizedAppointment) -> bool:
    return bool(appointment.join_url or appointment.provider_join_url or appointment.dial_in
                or appointment.visit_mode not in (None, "in_person"))


_LATER_GROUPS: tuple[tuple[frozenset[str], Callable[[NormalizedAppointment], bool]], ...] = (
    (frozenset({"notes", "answer"}), lambda a: bool(a.notes or a.answer)),
    (_TELEHEALTH_FIELDS, _telehealth_set),
    (frozenset({"cancel_reason"}), lambda a: bool(a.cancel_reason)),
)


def _appointment_hash(appointment: NormalizedAppointment) -> str:
    """The content hash that change detection compares: a changed join link, dial-in or
    cancellation reason is a change like any other (an ``updated`` event; calendars and
    messages follow)."""
    unset = frozenset().union(*(group for group, is_set in _LATER_GROUPS if not is_set(appointment)))
    if not unset:
        return content_hash(appointment)
    # orjson writes a dataclass's fields in declaration order (OPT_SORT_KEYS leaves them be):
    # the same fields, in the same order, give the same bytes as before.
    view = {name: getattr(appointment, name) for name in _ALL_FIELDS if name not in unset}
    return content_hash_bytes(orjson.dumps(view))


def notes_text(notes: Sequence[str]) -> str | None:
    """Data-quality notes as stored: one per line, or NULL when there are none."""
    return "\n".join(notes) or None


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, settings: StoreSettings) -> Store:
        engine = make_engine(settings.url, settings.pool_size, settings.echo, settings.max_overflow,
                             settings.pool_timeout)
        ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- cursors and runs -------------------------------------------------------------------
    def load_cursor(self, connector: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                select(STATES.c.cursor).where(STATES.c.connector == connector)).scalar_one_or_none()
        return orjson.loads(value) if value is not None else None

    @staticmethod
    def _save_cursor(connection: Connection, connector: str, cursor: dict[str, Any]) -> None:
        encoded = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS).decode()
        stored = connection.execute(
            select(STATES.c.cursor).where(STATES.c.connector == connector)).scalar_one_or_none()
        if stored == encoded:
            return  # unchanged input writes nothing, not even a timestamp
        if stored is None:
            connection.execute(insert(STATES).values(connector=connector, cursor=encoded, updated_at=utcnow()))
        else:
            connection.execute(update(STATES).where(STATES.c.connector == connector)
                               .values(cursor=encoded, updated_at=utcnow()))

    def start_run(self, run_id: str, connector: str) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(insert(RUNS).values(
                run_id=run_id, connector=connector, status="running", counts="{}", started_at=utcnow()))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, row_id: int, counts: Counts, error: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(RUNS).where(RUNS.c.id == row_id).values(
                status="failed" if error else "ok", counts=orjson.dumps(counts.as_dict()).decode(),
                error=error, finished_at=utcnow()))

    def abandon_runs(self, connector: str) -> int:
        """Close the runs a dead worker left `running`. Call it only while holding the
        connector's poll lock: then no live worker can own them."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(RUNS).where(RUNS.c.connector == connector, RUNS.c.status == "running")
                .values(status="failed", finished_at=utcnow(),
                        error="abandoned: the worker stopped before finishing (crash or kill); "
                              "the next run resumed from the last stored batch"))
            return int(result.rowcount)

    # -- go-live baseline (DESIGN invariant 7) ---------------------------------------------
    def baseline_done(self, connector: str) -> bool:
        """Has the connector finished its first successful sync (its baseline)?"""
        with self.engine.connect() as connection:
            return connection.execute(select(BASELINES.c.connector)
                                      .where(BASELINES.c.connector == connector)).first() is not None

    def finish_baseline(self, connector: str, run_id: str) -> None:
        """Record that the connector is live: what it finds from now on is announced."""
        with self.engine.begin() as connection:
            connection.execute(insert_ignoring_duplicates(connection, BASELINES).values(
                connector=connector, run_id=run_id, recorded_at=utcnow()))

    # -- the batch ------------------------------------------------------------------------
    def fingerprints(self, connector: str, external_ids: Sequence[str]) -> dict[str, str]:
        """The stored raw-record fingerprints of these live appointments (deleted rows have
        none that counts: a record that comes back must be applied)."""
        if not external_ids:
            return {}
        with self.engine.connect() as connection:
            return dict(select_in(connection, APPOINTMENTS, ("external_id", "source_fingerprint"), connector,
                                  external_ids, condition="deleted_at IS NULL AND source_fingerprint IS NOT NULL"))

    def apply_batch(self, connector: str, run_id: str, mapped: Sequence[Mapped],
                    quarantined: Sequence[QuarantineEntry], cursor: dict[str, Any] | None,
                    snapshot_end: SnapshotEnd | None = None,
                    within: Callable[[Connection], Collection[str] | None] | None = None,
                    baseline: bool = False, unchanged: int = 0,
                    unchanged_ids: Collection[str] = ()) -> tuple[Counts, str | None]:
        """Store one batch and its cursor atomically; returns counts and a safety-stop error.

        ``within`` runs first inside the same transaction (e.g. recording a message id
        that must never be applied twice); whatever it raises rolls the batch back. It may
        return positions of records already applied (replays), which are left out.
        ``baseline``: the batch belongs to the connector's first sync; its events carry
        ``"baseline": true`` so that nothing is announced for what existed before go-live.
        ``unchanged``: records the engine knew unchanged by their fingerprint and left out;
        they count as fetched and unchanged, and ``unchanged_ids`` (the ids they are known
        by) close open quarantine items as an imported record does."""
        counts = Counts(fetched=len(mapped) + len(quarantined) + unchanged, quarantined=len(quarantined),
                        unchanged=unchanged)
        error: str | None = None
        latest: dict[str, Mapped] = {}
        for item in mapped:
            kept = latest.get(item.appointment.external_id)
            if kept is None or not _older(item.appointment, kept.appointment):
                latest[item.appointment.external_id] = item
        counts.unchanged += len(mapped) - len(latest)  # superseded by a later (or newer) row of the batch
        with self.engine.begin() as connection:
            if within is not None:
                replays = within(connection)
                if replays:
                    fresh = {key: item for key, item in latest.items() if item.position not in replays}
                    counts.unchanged += len(latest) - len(fresh)
                    latest = fresh
            now = utcnow()
            marks = {"baseline": True} if baseline else {}
            appointments = [m.appointment for m in latest.values() if not m.delete]
            self._upsert_people(connection, connector, appointments, now)
            self._upsert_appointments(connection, connector, appointments, counts, now, marks,
                                      {m.appointment.external_id: m.fingerprint for m in latest.values()})
            self._delete_records(connection, connector, [m.appointment for m in latest.values() if m.delete],
                                 counts, now, marks)
            if mapped or unchanged_ids:
                quarantine.resolve_imported(connection, connector, _record_ids(mapped) | set(unchanged_ids), now)
            quarantine.record(connection, connector, run_id, quarantined, now)
            if snapshot_end is not None:
                quarantine.resolve_absent(connection, connector, snapshot_end.seen, now)
                try:
                    counts.deleted += self._delete_absent(connection, connector, snapshot_end, marks)
                except SnapshotSafetyStop as stop:
                    error = str(stop)
            if cursor is not None:
                self._save_cursor(connection, connector, cursor)
        return counts, error

    def _upsert_people(self, connection: Connection, connector: str,
                       appointments: Sequence[NormalizedAppointment], now: datetime) -> None:
        # The last of each id wins; rows are built once per id, not once per appointment.
        patients = _as_rows({a.patient.external_id: a.patient for a in appointments if a.patient},
                            _PATIENT_FIELDS)
        practitioners = _as_rows({a.practitioner.external_id: a.practitioner
                                  for a in appointments if a.practitioner}, _PRACTITIONER_FIELDS)
        locations = {a.location: {"external_id": a.location, "name": a.location}
                     for a in appointments if a.location}
        self._upsert_keyed(connection, PATIENTS, connector, patients, now, hashed=True)
        self._upsert_keyed(connection, PRACTITIONERS, connector, practitioners, now, hashed=True)
        self._upsert_keyed(connection, LOCATIONS, connector, locations, now, hashed=False)

    @staticmethod
    def _upsert_keyed(connection: Connection, table: Any, connector: str, rows: dict[str, dict[str, Any]],
                      now: datetime, hashed: bool) -> None:
        if not rows:
            return
        existing: dict[str, str | None] = dict(select_in(
            connection, table, ("external_id", "content_hash" if hashed else "name"), connector, list(rows)))
        inserts, updates = [], []
        for key, row in rows.items():
            record = {**row, "connector": connector}
            if hashed:
                record["content_hash"] = content_hash(row)
                record["updated_at"] = now
                marker = record["content_hash"]
            else:
                marker = row["name"]
            if key not in existing:
                inserts.append(record)
            elif existing[key] != marker:
                updates.append({**record, "_connector": connector, "_key": key})
        if inserts:
            names = list(inserts[0])
            insert_rows(connection, table, names, [tuple(row[n] for n in names) for row in inserts])
        if updates:
            columns = [c for c in updates[0] if not c.startswith("_") and c not in ("connector", "external_id")]
            connection.execute(
                update(table)
                .where(table.c.connector == bindparam("_connector"), table.c.external_id == bindparam("_key"))
                .values({c: bindparam(c) for c in columns}),
                updates)

    def _upsert_appointments(self, connection: Connection, connector: str,
                             appointments: Sequence[NormalizedAppointment], counts: Counts,
                             now: datetime, marks: dict[str, Any],
                             prints: dict[str, str | None] | None = None) -> None:
        """``prints``: each appointment's raw-record fingerprint, written with its content;
        an unchanged row gets the new one when it differs (e.g. a column the mapping does not
        read changed), so that the next run can skip that record before mapping it."""
        if not appointments:
            return
        prints = prints or {}
        # First only what tells whether anything changed; the full stored row only for those that did.
        known = {row[0]: row for row in select_in(
            connection, APPOINTMENTS, ("external_id", "content_hash", "deleted_at", "id", "source_fingerprint"),
            connector, [a.external_id for a in appointments])}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        reprinted: list[dict[str, Any]] = []
        changes: list[tuple[int, Change, int]] = []
        candidates: list[tuple[NormalizedAppointment, str]] = []
        for appointment in appointments:
            new_hash = _appointment_hash(appointment)
            seen = known.get(appointment.external_id)
            printed = prints.get(appointment.external_id)
            if seen is None:
                inserts.append(_appointment_row(connector, appointment, new_hash, now, version=1, printed=printed))
            elif seen[1] == new_hash and seen[2] is None:
                counts.unchanged += 1
                if printed is not None and printed != seen[4]:
                    reprinted.append({"_id": seen[3], "source_fingerprint": printed})
            else:
                candidates.append((appointment, new_hash))
        stored = self._stored(connection, connector, [a.external_id for a, _ in candidates]) if candidates else {}
        for appointment, new_hash in candidates:
            old = stored[appointment.external_id]
            change = classify(old, appointment, new_hash)
            if change is None:
                counts.unchanged += 1
                continue
            version = old.version + 1
            values = _appointment_row(connector, appointment, new_hash, now, version,
                                      printed=prints.get(appointment.external_id))
            for key in ("created_at", "connector", "external_id"):
                values.pop(key)
            updates.append({**values, "deleted_at": None, "_id": old.id})
            changes.append((old.id, change, version))
            counts_key = change.kind
            setattr(counts, counts_key, getattr(counts, counts_key) + 1)
        if inserts:
            names = list(inserts[0])
            insert_rows(connection, APPOINTMENTS, names, [tuple(row[n] for n in names) for row in inserts])
            ids = dict(select_in(connection, APPOINTMENTS, ("external_id", "id"), connector,
                                 [row["external_id"] for row in inserts]))
            changes.extend((ids[row["external_id"]], Change("created"), 1) for row in inserts)
            counts.created += len(inserts)
        if updates:
            columns = [c for c in updates[0] if not c.startswith("_")]
            connection.execute(
                update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns}),
                updates)
        if reprinted:  # not content: no version, no event, no updated_at
            connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                               .values(source_fingerprint=bindparam("source_fingerprint")), reprinted)
        if changes:
            insert_rows(connection, EVENTS, ("appointment_id", "kind", "version", "payload", "created_at"), [
                (appointment_id, change.kind, version, orjson.dumps({**change.payload, **marks}).decode(), now)
                for appointment_id, change, version in changes])

    @staticmethod
    def _stored(connection: Connection, connector: str, external_ids: Sequence[str]) -> dict[str, Stored]:
        return {row[0]: Stored(*row[1:]) for row in select_in(
            connection, APPOINTMENTS, ("external_id", *_STORED_COLUMNS), connector, external_ids)}

    def _delete_records(self, connection: Connection, connector: str,
                        appointments: Sequence[NormalizedAppointment], counts: Counts, now: datetime,
                        marks: dict[str, Any]) -> None:
        """Delete what the source says is gone, unless the deletion is older than what is
        stored. An unknown appointment is kept as a deleted row, so that its booking
        arriving late (older) cannot bring it back."""
        if not appointments:
            return
        stored = self._stored(connection, connector, [a.external_id for a in appointments])
        tombstones: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        for appointment in appointments:
            old = stored.get(appointment.external_id)
            if old is None:
                row = _appointment_row(connector, appointment, _appointment_hash(appointment), now, version=1)
                tombstones.append({**row, "deleted_at": now})
            elif old.deleted_at is not None or (
                    appointment.source_updated_at is not None and old.source_updated_at is not None
                    and appointment.source_updated_at < old.source_updated_at):
                counts.unchanged += 1  # already gone, or the deletion is older than what is stored
            else:
                targets.append({"_id": old.id, "version": old.version + 1,
                                "source_updated_at": appointment.source_updated_at or old.source_updated_at})
        counts.unchanged += len(tombstones)
        if tombstones:
            connection.execute(insert(APPOINTMENTS), tombstones)
        counts.deleted += self._mark_deleted(connection, targets, now, marks)

    @staticmethod
    def _mark_deleted(connection: Connection, targets: list[dict[str, Any]], now: datetime,
                      marks: dict[str, Any]) -> int:
        """Soft-delete rows ({_id, version, source_updated_at}) and emit their ``deleted`` events."""
        if not targets:
            return 0
        connection.execute(
            update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
            .values(deleted_at=bindparam("deleted_at"), version=bindparam("version"),
                    source_updated_at=bindparam("source_updated_at"), updated_at=bindparam("deleted_at"),
                    source_fingerprint=None),
            [{**target, "deleted_at": now} for target in targets])
        connection.execute(insert(EVENTS), [
            {"appointment_id": target["_id"], "kind": "deleted", "version": target["version"],
             "payload": orjson.dumps(marks).decode(), "created_at": now} for target in targets])
        return len(targets)

    def _delete_absent(self, connection: Connection, connector: str, end: SnapshotEnd,
                       marks: dict[str, Any]) -> int:
        t = APPOINTMENTS.c
        future = connection.execute(
            select(t.id, t.external_id, t.version, t.source_updated_at)
            .where(t.connector == connector, t.deleted_at.is_(None), t.start_utc > end.now,
                   t.status.in_(ACTIVE_STATUSES))).all()
        absent = [row for row in future if row.external_id not in end.seen]
        if not absent:
            return 0
        if len(absent) / len(future) > end.max_share:
            raise SnapshotSafetyStop(len(absent), len(future), end.max_share)
        return self._mark_deleted(connection, [
            {"_id": row.id, "version": row.version + 1, "source_updated_at": row.source_updated_at}
            for row in absent], utcnow(), marks)


def _record_ids(mapped: Sequence[Mapped]) -> set[str]:
    """The ids an open quarantine item may know a record by: its appointment id and the
    connector's own record id."""
    ids = {m.appointment.external_id for m in mapped}
    ids.update(m.record_id for m in mapped if m.record_id)
    return ids


def _appointment_row(connector: str, a: NormalizedAppointment, new_hash: str, now: datetime,
                     version: int, printed: str | None = None) -> dict[str, Any]:
    """The row of an appointment's content. ``printed``: the fingerprint of the raw record it
    was mapped from; every write of content sets it (None clears it), so a stored
    fingerprint always describes the record the row's content came from."""
    return {
        "connector": connector,
        "external_id": a.external_id,
        "status": a.status,
        "start_utc": a.start,
        "end_utc": a.end,
        "timezone": a.timezone,
        "type": a.type,
        "location_ref": a.location,
        "patient_ref": a.patient.external_id if a.patient else None,
        "practitioner_ref": a.practitioner.external_id if a.practitioner else None,
        "content_hash": new_hash,
        "version": version,
        "source_updated_at": a.source_updated_at,
        "source_answer": a.answer,
        "cancel_reason": a.cancel_reason,
        "quality_notes": notes_text(a.notes),
        "visit_mode": a.visit_mode,
        "join_url": a.join_url,
        "provider_join_url": a.provider_join_url,
        "dial_in": a.dial_in,
        "source_fingerprint": printed,
        "created_at": now,
        "updated_at": now,
    }
