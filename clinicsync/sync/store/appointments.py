"""A batch's appointments written with change detection: looked up by hash,
classified (changes.py), inserted, updated or left as they are, and their outbox events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, update

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.base import StoreBase, StoredIds
from clinicsync.sync.store.bulk import insert_rows, insert_with_ids, one_row_insert, select_in
from clinicsync.sync.store.changes import Change, as_correction, classify
from clinicsync.sync.store.db import at_cursor
from clinicsync.sync.store.events import (
    _EVENT_NAMES,
    _created_by_select,
    _event_time,
    _insert_created_events,
    _one_event_insert,
    _unprocessed,
)
from clinicsync.sync.store.fold import _Fold, _fold_update
from clinicsync.sync.store.go_live import _BEFORE_GO_LIVE, _before_go_live, _Live
from clinicsync.sync.store.options import HeldUntil
from clinicsync.sync.store.outbox import writing_events
from clinicsync.sync.store.records import Counts
from clinicsync.sync.store.row_code import (
    _PLAIN_MASK,
    _ROW_NAMES,
    _all_plain,
    _appointment_row,
    _appointment_values,
    _bound_rows,
    _hashed_rows,
    _inlined,
    _unset_columns,
)
from clinicsync.sync.store.row_hash import HeldJson, _appointment_hash, _batch_hashes
from clinicsync.sync.store.stand_in import rekey_stand_ins
from clinicsync.sync.store.tables import APPOINTMENTS, EVENTS
from clinicsync.sync.store.zonerules import remapped_unchanged

# A visit new to the store that a correcting read found in the source as it was at the last read.
_HELD = {"baseline": True, "correction": True}


def _held(appointments: Sequence[NormalizedAppointment], held_until: HeldUntil | None, inserted: set[str]) -> set[str]:
    """The ids of ``inserted`` that the source held at its last read (``held_until``, read before
    a correcting read): a correction, not news. A record with neither a change stamp nor a
    booking stamp cannot be told so: it is announced."""
    if held_until is None or not inserted:
        return set()
    return {a.external_id for a in appointments if a.external_id in inserted
            and held_until.holds(a.source_updated_at, a.booked_at)}


def _answer_outlived(change: Change) -> bool:
    """Whether this change makes the patient's answer (``participation``) stale: the visit moved
    to another start, or the source booked it again after a cancellation. The answer was for the
    time the patient was told; a "no" kept on a visit the desk rebooked would show it as
    "Cancelled by patient" in the doctor's calendar, offer its new time to the waitlist and make
    the patient's next reply miss it (record.py matches visits awaiting an answer). A visit given
    to another patient drops the answer too: it was the first patient's. A change of doctor, type
    or place at the same start keeps the answer."""
    payload = change.payload or {}
    if payload.get("zone_setting") or (payload.get("correction") and not payload.get("patient_changed")):
        return False  # the same local time the patient answered for, read in the zone now configured
    return "start" in payload.get("moved", ()) or bool(payload.get("reactivated") or payload.get("patient_changed"))


class AppointmentWriter(StoreBase):
    """Writes a batch's appointments and the events their changes cause."""

    def _upsert_appointments(self, connection: Connection, connector: str,
                             appointments: Sequence[NormalizedAppointment], counts: Counts,
                             now: datetime, marks: dict[str, Any],
                             prints: dict[str, str | None] | None = None,
                             live: _Live | None = None, items: bool = True,
                             known: dict[str, tuple[Any, ...]] | None = None, fold: _Fold | None = None,
                             stored_ids: StoredIds | None = None, current: bool = False,
                             correcting: bool = False, held_until: HeldUntil | None = None) -> None:
        """``prints``: each appointment's raw-record fingerprint, written with its content;
        an unchanged row gets the new one when it differs (e.g. a column the mapping does not
        read changed), so that the next run can skip that record before mapping it.
        ``live``: the go-live moment and, by external id, what the batch knows of when each
        record was first seen; an inserted record first seen before go-live is not announced.
        ``items``: the connector may have quarantine items (False: none saw these records).
        ``known``: the first lookup's rows, already read (:class:`Known`). ``fold``: one new
        appointment and its ``created`` event go into it (:class:`_Fold`). ``stored_ids``:
        every id the connector has stored is in it (:class:`StoredIds`; None: look each up); the
        ids inserted here are added. ``held_until``: what the store held before a correcting read;
        an inserted record the source held then is recorded as a correction (BatchOptions)."""
        if not appointments:
            return
        prints = prints or {}
        if stored_ids is None and known is None and appointments[0].former_id is not None:
            rekey_stand_ins(connection, connector, appointments)  # ids that were the readable stand-in
        # First only what tells whether anything changed; the full stored row only for those that did.
        if known is None:
            asked = [a.external_id for a in appointments]
            known = {row[0]: row for row in select_in(
                connection, APPOINTMENTS, ("external_id", "content_hash", "deleted_at", "id", "source_fingerprint"),
                connector, asked if stored_ids is None else stored_ids.maybe(asked))}
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        reprinted: list[dict[str, Any]] = []
        changes: list[tuple[int, Change, int]] = []
        unanswered: list[int] = []  # moved or booked again: the patient's answer was for before
        candidates: list[tuple[NormalizedAppointment, str]] = []
        # A batch: hashes with its people's JSON written once, rows built bound in one pass. A
        # push (one appointment) shares nothing: the plain functions and bulk's one-row INSERT.
        batch = len(appointments) > 1
        plain = batch and _all_plain(appointments)
        held = HeldJson() if batch else None
        inline = _inlined(connection, connector, now) if batch else None
        unset = _unset_columns(connection, appointments, plain) if batch else frozenset()
        if not known and held is not None:
            # Every appointment new (a first import's batch): its row and hash in one call each,
            # as the loop below builds them, with one view when all are plain.
            make = _hashed_rows(connection, connector, now, held, _PLAIN_MASK if plain else None, inline=inline,
                                unset=unset)
            printed_of = prints.get
            inserts = [make(a, printed_of(a.external_id)) for a in appointments]
        else:
            hashed = _batch_hashes(held) if batch else _appointment_hash
            build_row = _bound_rows(connection, connector, now, inline=inline, unset=unset) if batch else (
                lambda a, h, printed: _appointment_values(connector, a, h, now, 1, printed))
            for appointment in appointments:
                new_hash = hashed(appointment)
                seen = known.get(appointment.external_id)
                printed = prints.get(appointment.external_id)
                if seen is None:
                    inserts.append(build_row(appointment, new_hash, printed))
                elif seen[1] == new_hash and seen[2] is None:
                    counts.unchanged += 1
                    if printed is not None and printed != seen[4]:
                        reprinted.append({"_id": seen[3], "source_fingerprint": printed})
                else:
                    candidates.append((appointment, new_hash))
        stored = self._stored(connection, connector, [a.external_id for a, _ in candidates]) if candidates else {}
        for appointment, new_hash in candidates:
            old = stored[appointment.external_id]
            if old.deleted_at is None and old.start_utc == appointment.start and old.end_utc == appointment.end:
                previous = self._previous_rules(connection)
                if previous and remapped_unchanged(appointment, previous, old.content_hash, _appointment_hash):
                    # The record as stored, its times corrected for a tz rule change (sync/store/zonerules.py):
                    # the hash mapping gives it now, and no version, no event.
                    counts.unchanged += 1
                    reprinted.append({"_id": old.id, "content_hash": new_hash,
                                      "source_fingerprint": prints.get(appointment.external_id)})
                    continue
            change = classify(old, appointment, new_hash, current)
            if change is None:
                counts.unchanged += 1
                continue
            if correcting:
                change = as_correction(old, appointment, change)
                counts.remapped += bool(change.payload.get("correction"))
            version = old.version + 1
            values = _appointment_row(connector, appointment, new_hash, now, version,
                                      printed=prints.get(appointment.external_id))
            for key in ("created_at", "connector", "external_id"):
                values.pop(key)
            # A forgotten visit the source changed holds its patient data again: forgotten anew.
            updates.append({**values, "deleted_at": None, "forgotten_at": None, "_id": old.id})
            changes.append((old.id, change, version))
            if _answer_outlived(change):
                unanswered.append(old.id)
            if "zone_setting" in change.payload:  # the same local time, its zone edited: no move
                counts.updated += 1
                counts.corrected += 1
            else:
                counts_key = change.kind
                setattr(counts, counts_key, getattr(counts, counts_key) + 1)
        if fold is not None and len(updates) == 1 and not inserts and not reprinted \
                and _unprocessed(connection, _EVENT_NAMES[:-1]):
            _fold_update(connection, fold, updates[0], bool(unanswered), changes[0], marks, now)
            return
        if updates:
            columns = [c for c in updates[0] if not c.startswith("_")]
            connection.execute(
                update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns}),
                updates)
        if unanswered:
            connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id.in_(unanswered))
                               .values(participation=None, participation_at=None))
        if reprinted:  # not content: no version, no event, no updated_at
            rehashed = [r for r in reprinted if "content_hash" in r]
            if len(rehashed) < len(reprinted):
                connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                                   .values(source_fingerprint=bindparam("source_fingerprint")),
                                   [r for r in reprinted if "content_hash" not in r])
            if rehashed:
                connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == bindparam("_id"))
                                   .values(content_hash=bindparam("content_hash"),
                                           source_fingerprint=func.coalesce(bindparam("source_fingerprint"),
                                                                            APPOINTMENTS.c.source_fingerprint)),
                                   rehashed)
        new_ids: list[int] = []
        recorded: set[int] = set()
        corrected: set[int] = set()  # inserted, yet in the source at its last read (``held_until``)
        if inserts:
            names = [n for n in _ROW_NAMES if n not in unset and not (inline and n in inline)]
            at = names.index("external_id")  # its place in a row (the connector inlined or not)
            quiet = _before_go_live(connection, connector, [row[at] for row in inserts], live, items) if live else set()
            in_source = _held(appointments, held_until, {row[at] for row in inserts} - quiet)
            if fold is not None and len(inserts) == 1 and not changes and not batch \
                    and _unprocessed(connection, _EVENT_NAMES[:-1]):
                counts.created += 1
                self._grown(connection, APPOINTMENTS, 1)
                # The payload and stamp the path below gives one created event (``recorded``, ``bound``).
                payload = {**marks, **_BEFORE_GO_LIVE} if inserts[0][at] in quiet else marks
                fold.created(connection, one_row_insert(connection, APPOINTMENTS, names, inserts[0]),
                             (orjson.dumps(payload).decode(), _event_time(connection.dialect)(now)))
                return
            if stored_ids is not None:  # set before the insert: a failed batch leaves false positives only
                stored_ids.add([row[at] for row in inserts])
            new_ids = insert_with_ids(connection, APPOINTMENTS, names, inserts, connector, bound=batch, literals=inline)
            counts.created += len(inserts)
            self._grown(connection, APPOINTMENTS, len(inserts))
            if quiet:
                recorded = {new_id for new_id, row in zip(new_ids, inserts, strict=True) if row[at] in quiet}
            if in_source:
                corrected = {new_id for new_id, row in zip(new_ids, inserts, strict=True) if row[at] in in_source}
        if changes or new_ids:
            bare = orjson.dumps(marks).decode()  # the payload of every change that carries none (created)
            early = orjson.dumps({**marks, **_BEFORE_GO_LIVE}).decode()
            held_mark = orjson.dumps({**marks, **_HELD}).decode()
            # Built bound: ``now`` is the only value with a bind processor (_EVENT_NAMES' others are
            # integers and text), so it goes through it once, not each row through processed_rows.
            bound = _unprocessed(connection, _EVENT_NAMES[:-1])
            stamp = _event_time(connection.dialect)(now) if bound else now
            # The updates' events first, then the created ones in id order (ids order the outbox).
            copied = bound and not recorded and not corrected and _created_by_select(connection, new_ids)
            if not copied:
                created = Change("created")
                changes.extend((new_id, created, 1) for new_id in new_ids)
            events = [
                (appointment_id, change.kind, version,
                 orjson.dumps({**change.payload, **marks}).decode() if change.payload
                 else early if appointment_id in recorded and change.kind == "created"
                 else held_mark if appointment_id in corrected and change.kind == "created" else bare, stamp)
                for appointment_id, change, version in changes]
            writing_events(connection)  # before the first id is drawn (sync/store/outbox.py)
            if bound and len(events) == 1:  # a push's one event: its INSERT built once, at the driver
                at_cursor(connection, _one_event_insert(connection), events[0]).close()
            else:
                insert_rows(connection, EVENTS, _EVENT_NAMES, events, bound=bound)
            if copied:
                _insert_created_events(connection, new_ids[0], new_ids[-1], bare, stamp)
