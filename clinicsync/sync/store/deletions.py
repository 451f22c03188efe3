"""Deletions: what a source says is gone (explicit deletes and their
tombstones), what a snapshot or a delete sweep no longer lists (behind the safety stop), and the
soft delete with its ``deleted`` events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.base import StoreBase
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.changes import update_order
from clinicsync.sync.store.db import upsert_statement
from clinicsync.sync.store.outbox import writing_events
from clinicsync.sync.store.records import Counts, SnapshotEnd, SnapshotSafetyStop
from clinicsync.sync.store.row_code import _appointment_row
from clinicsync.sync.store.row_hash import _appointment_hash
from clinicsync.sync.store.tables import APPOINTMENTS, EVENTS, TOMBSTONES


class Deletions(StoreBase):
    """Deletes, tombstones and a listing's absent appointments."""

    def compared_ids(self, connector: str, now: datetime, until: datetime | None) -> set[str]:
        """The external ids a listing's end compares (``_delete_absent``): the connector's
        active appointments starting after ``now`` (and before ``until``)."""
        with self.engine.connect() as connection:
            return set(connection.execute(self._compared(connector, now, until, APPOINTMENTS.c.external_id)).scalars())

    @staticmethod
    def _compared(connector: str, now: datetime, until: datetime | None, *columns: Any) -> Any:
        t = APPOINTMENTS.c
        query = select(*columns).where(t.connector == connector, t.deleted_at.is_(None), t.start_utc > now,
                                        t.status.in_(ACTIVE_STATUSES))
        return query if until is None else query.where(t.start_utc < until)

    def delete_vanished(self, connector: str, end: SnapshotEnd, baseline: bool = False) -> tuple[int, str | None]:
        """A delete sweep's end (``end.sweep``): the connector's active future appointments
        before ``end.until`` whose ids the source no longer lists are deleted, behind the
        snapshot's safety stop; returns how many, and the safety stop's message."""
        with self.engine.begin() as connection:
            try:
                return self._delete_absent(connection, connector, end, {"baseline": True} if baseline else {}), None
            except SnapshotSafetyStop as stop:
                return 0, str(stop)

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
        remembered: dict[str, datetime] = {}  # each delete that holds, and its time (store.tombstone_days)
        for appointment in appointments:
            old = stored.get(appointment.external_id)
            if old is not None and update_order(appointment.source_updated_at, old.source_updated_at,
                                                appointment.timezone or old.timezone) < 0:
                counts.unchanged += 1  # the deletion is older than what is stored
                continue
            remembered[appointment.external_id] = appointment.source_updated_at or now
            if old is None:
                row = _appointment_row(connector, appointment, _appointment_hash(appointment), now, version=1)
                tombstones.append({**row, "deleted_at": now})
            elif old.deleted_at is not None:
                counts.unchanged += 1  # already gone
            else:
                targets.append({"_id": old.id, "version": old.version + 1,
                                "source_updated_at": appointment.source_updated_at or old.source_updated_at})
        counts.unchanged += len(tombstones)
        if tombstones:
            connection.execute(insert(APPOINTMENTS), tombstones)
        counts.deleted += self._mark_deleted(connection, targets, now, marks)
        self.remember_deletes(connection, connector, remembered, now)

    def remember_deletes(self, connection: Connection, connector: str, deleted: dict[str, datetime],
                         now: datetime) -> None:
        """Tombstones for explicit deletes, external id -> the delete's time (the source's, else
        ``now``): for ``tombstone_keep`` a copy not newer than that is refused (``_tombstoned``).
        Expired ones are pruned here, so the table holds only the window's deletes."""
        connection.execute(delete(TOMBSTONES).where(TOMBSTONES.c.recorded_at < now - self.tombstone_keep))
        if deleted:
            statement = upsert_statement(connection, TOMBSTONES, ("connector", "external_id"),
                                         ("deleted_at", "recorded_at"))
            connection.execute(statement, [{"connector": connector, "external_id": key, "deleted_at": when,
                                            "recorded_at": now} for key, when in deleted.items()])

    def _tombstoned(self, connection: Connection, connector: str,
                    appointments: Sequence[NormalizedAppointment], now: datetime,
                    known: bool | None = None) -> set[str]:
        """The ids of ``appointments`` a live tombstone refuses: undated, or dated no later than
        the delete (a late retry of an earlier PUT, a save delivered after its delete). A copy
        dated after the delete is the source re-creating it: it applies, and the tombstone goes.
        ``known``: whether the connector has any tombstone, when the caller read it (Presence)."""
        if not appointments or known is False or (known is None and connection.execute(
                select(TOMBSTONES.c.external_id).where(TOMBSTONES.c.connector == connector).limit(1)).first() is None):
            return set()  # the common case, one indexed probe: a source that never deleted anything
        found = dict(select_in(connection, TOMBSTONES, ("external_id", "deleted_at"), connector,
                               [a.external_id for a in appointments]))
        if not found:
            return set()
        window = now - self.tombstone_keep
        recorded = dict(select_in(connection, TOMBSTONES, ("external_id", "recorded_at"), connector, list(found)))
        refused, revived = set(), []
        for appointment in appointments:
            when = found.get(appointment.external_id)
            if when is None or recorded[appointment.external_id] < window:
                continue
            if appointment.source_updated_at is None or appointment.source_updated_at <= when:
                refused.add(appointment.external_id)
            else:
                revived.append(appointment.external_id)
        if revived:
            connection.execute(delete(TOMBSTONES).where(TOMBSTONES.c.connector == connector,
                                                        TOMBSTONES.c.external_id.in_(revived)))
        return refused

    def record_delete(self, connector: str, external_id: str, when: datetime | None = None) -> None:
        """A delete of an appointment not stored (yet): only its tombstone, so that its
        booking arriving late cannot create it (FHIR DELETE before the PUT's retry)."""
        with self.engine.begin() as connection:
            now = utcnow()
            self.remember_deletes(connection, connector, {external_id: when or now}, now)

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
        writing_events(connection)
        connection.execute(insert(EVENTS), [
            {"appointment_id": target["_id"], "kind": "deleted", "version": target["version"],
             "payload": orjson.dumps(marks).decode(), "created_at": now} for target in targets])
        return len(targets)

    def _delete_absent(self, connection: Connection, connector: str, end: SnapshotEnd,
                       marks: dict[str, Any]) -> int:
        t = APPOINTMENTS.c
        future = connection.execute(self._compared(connector, end.now, end.until, t.id, t.external_id, t.version,
                                                   t.source_updated_at, t.patient_ref)).all()
        absent = [row for row in future if row.external_id not in end.seen]
        if not absent:
            return 0
        # Below the floor, a listing that still holds most of the window is believed (one of a
        # small practice's three visits deleted); one that lacks most of it (an empty read, a
        # delta file read as the whole list) stops, however few visits it would delete.
        if len(absent) / len(future) > end.max_share and (len(absent) >= end.min_stop
                                                           or 2 * len(absent) > len(future)):
            raise SnapshotSafetyStop(len(absent), len(future), end.max_share, end.sweep)
        now = utcnow()
        # Still in the source under another id (SnapshotEnd ``held``): ended as a correction, nobody told.
        held = [row for row in absent if (row.patient_ref, row.source_updated_at) in end.held] if end.held else []
        ended = [row for row in absent if row not in held] if held else absent
        return sum(self._mark_deleted(connection, [
            {"_id": row.id, "version": row.version + 1, "source_updated_at": row.source_updated_at}
            for row in rows], now, payload)
            for rows, payload in ((ended, marks), (held, {**marks, "baseline": True, "correction": True})))
