"""Visits stored under a readable stand-in id, re-keyed to its hash as they are read again.

A source with no id column knows a visit by its time, patient and doctor; the mapping now makes
that a short hash (mappings/engine.py ``stand_in_id``) and hands the readable form along
(``former_id``). A store written before holds the readable form. Changing every id at once
would have the next snapshot delete each visit and create it anew, and tell every patient
twice; a line the fingerprint recognizes as unchanged is not even mapped and still names its
stored (readable) id. So each visit is re-keyed in place, in the batch that brings it mapped
again (the same row, its id changed: its reminders, calendar and history stay with it, and no
event is written); an unchanged line keeps its readable id until it changes or is forgotten."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, update

from clinicsync.mappings.model import NormalizedAppointment
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.row_hash import _appointment_hash
from clinicsync.sync.store.tables import APPOINTMENTS


def rekey_stand_ins(connection: Connection, connector: str, appointments: Sequence[NormalizedAppointment]) -> int:
    """Gives each of ``appointments`` stored under its readable stand-in id (``former_id``) its
    hashed id, unless a row already holds that one; returns how many it re-keyed. One select of
    the readable ids a batch (none found once the store is re-keyed), an update per visit once."""
    by_former = {a.former_id: a for a in appointments if a.former_id is not None}
    if not by_former:
        return 0
    found = select_in(connection, APPOINTMENTS, ("external_id", "content_hash"), connector, list(by_former))
    if not found:
        return 0
    taken = {row[0] for row in select_in(connection, APPOINTMENTS, ("external_id",), connector,
                                         [by_former[old].external_id for old, _ in found])}
    moved = 0
    for old, stored_hash in found:
        appointment = by_former[old]
        if appointment.external_id in taken:
            continue
        # The content hash names the id: a visit otherwise as stored gets the hash it has under
        # its new id, so the batch finds it unchanged (no `updated`, nothing to tell anyone).
        same = _appointment_hash(replace(appointment, external_id=old, former_id=None)) == stored_hash
        values = {"external_id": appointment.external_id}
        if same:
            values["content_hash"] = _appointment_hash(appointment)
        connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.connector == connector,
                                                      APPOINTMENTS.c.external_id == old).values(**values))
        moved += 1
    return moved
