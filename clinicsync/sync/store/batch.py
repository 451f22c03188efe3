"""The batch writer: one batch and its cursor applied atomically.

``apply_batch`` (a poll, a retry, a sweep: :class:`BatchOptions`) and ``apply_push`` (one push:
:class:`PushOptions`) write through one transaction: it reads what the connector has
(presence), leaves out replays and tombstoned copies, and hands the rest to the people and
appointment writers, deletions, quarantine and the source state in order."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from clinicsync.common.types import utcnow
from clinicsync.common.vocabulary import ACTIVE_STATUSES
from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store import quarantine
from clinicsync.sync.store.appointments import AppointmentWriter
from clinicsync.sync.store.changes import ENDED_STATUSES, update_order
from clinicsync.sync.store.deletions import Deletions
from clinicsync.sync.store.fold import _Fold
from clinicsync.sync.store.go_live import _first_seen
from clinicsync.sync.store.options import BatchOptions, PushOptions, StoredGoLive
from clinicsync.sync.store.people import PeopleWriter
from clinicsync.sync.store.presence import Known, presence, presence_and_folded
from clinicsync.sync.store.quarantine import QuarantineEntry
from clinicsync.sync.store.records import Counts, Mapped, SnapshotSafetyStop
from clinicsync.sync.store.source_state import SourceState
from clinicsync.sync.store.zonerules import note_zones


def _supersedes(new: Mapped, kept: Mapped, current: bool) -> bool:
    """Whether a later row of a batch for the same id replaces ``kept``: not when it is older,
    nor when which came first cannot be told and it would bring back the visit ``kept`` ends
    (a cancellation and its booking in one minute), as ``classify`` judges it against the store;
    in a read of the source's current state (``current``), a later row of the same time does."""
    order = update_order(new.appointment.source_updated_at, kept.appointment.source_updated_at,
                         new.appointment.timezone or kept.appointment.timezone)
    if order == 0 and not current and (kept.delete or kept.appointment.status in ENDED_STATUSES):
        return new.delete or new.appointment.status not in ACTIVE_STATUSES
    return order >= 0


def _left_out(latest: dict[str, Mapped], replays: Collection[str] | None, counts: Counts) -> dict[str, Mapped]:
    """``latest`` without the records at ``replays`` (positions a ``within`` found applied), counted unchanged."""
    if not replays:
        return latest
    fresh = {key: item for key, item in latest.items() if item.position not in replays}
    counts.unchanged += len(latest) - len(fresh)
    return fresh


def _one_read(latest: dict[str, Mapped], record_ids: Sequence[str]) -> NormalizedAppointment | None:
    """The one appointment a push's probe reads with its rows (:func:`presence_and_known`), if it has one."""
    if len(latest) != 1 or len(record_ids) > 2:
        return None
    [item] = latest.values()
    return None if item.delete else item.appointment


PLAIN_BATCH, PLAIN_PUSH = BatchOptions(), PushOptions()  # the defaults, built once

# People a run remembers (see Store.apply_batch): past this many it starts over, so a source
# with a million distinct patients costs lookups again rather than unbounded memory.
PEOPLE_MEMORY_LIMIT = 32_768


def _record_ids(mapped: Sequence[Mapped]) -> set[str]:
    """The ids an open quarantine item may know a record by: its appointment id and the
    connector's own record id."""
    ids = {m.appointment.external_id for m in mapped}
    ids.update(m.record_id for m in mapped if m.record_id)
    return ids


class BatchWriter(PeopleWriter, AppointmentWriter, Deletions, SourceState):
    """Applies a batch: the parts in the order one transaction needs them."""

    def apply_batch(self, connector: str, run_id: str, mapped: Sequence[Mapped],
                    quarantined: Sequence[QuarantineEntry], cursor: dict[str, Any] | None,
                    options: BatchOptions = PLAIN_BATCH) -> tuple[Counts, str | None]:
        """Store one batch and its cursor atomically (a poll's, a retry's, a sweep's); returns
        counts and a safety-stop error. ``options``: :class:`BatchOptions`."""
        return self._apply(connector, run_id, mapped, quarantined, cursor, options, None)

    def apply_push(self, connector: str, run_id: str, mapped: Sequence[Mapped],
                   quarantined: Sequence[QuarantineEntry], options: PushOptions = PLAIN_PUSH,
                   ) -> tuple[Counts, str | None]:
        """Store one push atomically (its connector's presence read in one statement first);
        returns counts and a safety-stop error. ``options``: :class:`PushOptions`."""
        return self._apply(connector, run_id, mapped, quarantined, None, PLAIN_BATCH, options)

    def _apply(self, connector: str, run_id: str, mapped: Sequence[Mapped],
               quarantined: Sequence[QuarantineEntry], cursor: dict[str, Any] | None,
               options: BatchOptions, push: PushOptions | None) -> tuple[Counts, str | None]:
        """A batch (``push`` None) or a push: the one transaction both write through."""
        snapshot_end, baseline, unchanged = options.snapshot_end, options.baseline, options.unchanged
        unchanged_ids, remember_people, sightings = options.unchanged_ids, options.remember_people, options.sightings
        current, correcting = options.current, options.correcting
        probe = push is not None  # a push: its presence read in one statement first (PushOptions)
        within = options.within if push is None else push.within
        go_live: datetime | StoredGoLive | None = options.go_live if push is None else push.go_live
        finish, folded, unstored = (None, None, None) if push is None else (push.finish, push.folded, push.unstored)
        counts = Counts(fetched=len(mapped) + len(quarantined) + unchanged + len(sightings),
                        quarantined=len(quarantined) + len(sightings), unchanged=unchanged)
        error: str | None = None
        # Each id's last record (or its newest by source_updated_at): with no id twice in the
        # batch (the usual), every record, built by one comprehension.
        latest: dict[str, Mapped] = {item.appointment.external_id: item for item in mapped}
        if len(latest) < len(mapped):
            latest = {}
            for item in mapped:
                kept = latest.get(item.appointment.external_id)
                if kept is None or _supersedes(item, kept, current):
                    latest[item.appointment.external_id] = item
        counts.unchanged += len(mapped) - len(latest)  # superseded by a later (or newer) row of the batch
        with self.engine.begin() as connection:
            if within is not None:
                latest = _left_out(latest, within(connection), counts)
            # The ids first_seen and resolve_imported would ask about (a superset of the former).
            record_ids = sorted(_record_ids(mapped) | set(unchanged_ids)) if probe else []
            if folded is not None and not (probe and connection.dialect.name == "postgresql"
                                           and _one_read(latest, record_ids) is not None):
                latest, folded = _left_out(latest, folded(connection), counts), None
            now = utcnow()
            known: Known | None = None
            if probe and (one := _one_read(latest, record_ids)) is not None:
                present, known, values = presence_and_folded(connection, connector, one, record_ids, folded)
                if folded is not None and (replays := folded.decide(connection, values)):
                    # Left out: what the read alone then did (nothing pushed: the connector's presence).
                    latest = _left_out(latest, replays, counts)
                    present, known = presence(connection, connector), None
            else:  # a batch, or a push of no or several appointments: one statement for the probes
                present = presence(connection, connector)
            if unstored is not None and not present.visits:
                unstored(connection)
            live = present.go_live if isinstance(go_live, StoredGoLive) else go_live
            deleting = any(m.delete for m in latest.values())
            appointments = [m.appointment for m in latest.values() if not m.delete] if deleting else \
                [m.appointment for m in latest.values()]
            # Read only when the connector has a tombstone (Presence): else none is refused.
            refused = self._tombstoned(connection, connector, appointments, now, known=True) \
                if present.tombstones else set()
            if refused:
                counts.unchanged += len(refused)
                latest = {key: item for key, item in latest.items() if key not in refused}
                appointments = [m.appointment for m in latest.values() if not m.delete]
            marks = {"baseline": True} if baseline else {}
            memory = self._memory(connection, run_id, connector) if remember_people else None
            # PostgreSQL, one push that writes nothing after its appointment but its run: its writes in one statement.
            fold = _Fold() if (known is not None and connection.dialect.name == "postgresql"
                               and connection.dialect.paramstyle in ("format", "pyformat") and not deleting
                               and not quarantined and not sightings and snapshot_end is None and cursor is None
                               and not present.open_items) else None
            stored_people = self._upsert_people(connection, connector, appointments, now, memory, known, fold,
                                                counts)
            early = _first_seen(latest.values(), live) if live is not None and not baseline else None
            self._upsert_appointments(connection, connector, appointments, counts, now, marks,
                                      {key: m.fingerprint for key, m in latest.items()},
                                      (live, early) if early is not None and live is not None else None,
                                      items=present.items,
                                      known=None if known is None else known.appointments, fold=fold,
                                      stored_ids=None if memory is None else self._stored_ids, current=current,
                                      correcting=correcting, held_until=options.held_until)
            # A zone new to the store: its tz rules, recorded with the times computed by them. Not in a
            # push's one statement (the fold): the run's check records the configured zones instead.
            zones = {a.timezone for a in appointments} if fold is None else ()
            noted = note_zones(connection, zones, self._zones_noted, now) if zones and zones - self._zones_noted else ()
            if deleting:
                gone = [m.appointment for m in latest.values() if m.delete]
                if memory is not None and self._stored_ids is not None:  # one not stored goes in as a tombstone row
                    self._stored_ids.add([a.external_id for a in gone])
                self._delete_records(connection, connector, gone, counts, now, marks)
            if (mapped or unchanged_ids) and present.open_items:
                quarantine.resolve_imported(connection, connector, _record_ids(mapped) | set(unchanged_ids), now,
                                            probed=True)
            quarantine.record(connection, connector, run_id, quarantined, now)
            quarantine.sighted(connection, run_id, sightings, now)
            if snapshot_end is not None:
                quarantine.resolve_absent(connection, connector, snapshot_end.seen, run_id, now)
                try:
                    counts.deleted += self._delete_absent(connection, connector, snapshot_end, marks)
                except SnapshotSafetyStop as stop:
                    error = str(stop)
            if cursor is not None:
                self._save_cursor(connection, connector, cursor)
            run_row = getattr(finish, "statement", None) if fold is not None and fold.parts else None
            if fold is not None:  # nothing was written since its first part: the fold's conditions above
                fold.flush(connection, None if run_row is None else run_row(connection, counts, error))
            if finish is not None and run_row is None:
                finish(connection, counts, error)
        self._zones_noted.update(noted)
        if memory is not None:  # committed: from now on they are what the store holds
            if sum(map(len, memory.values())) + sum(map(len, stored_people.values())) > PEOPLE_MEMORY_LIMIT:
                memory.clear()  # bounded: a source with more distinct people only looks up again
                self._people_all.clear()  # what it forgot is stored: no longer all there is
            for kind, people in stored_people.items():
                memory.setdefault(kind, {}).update(people)
        return counts, error
