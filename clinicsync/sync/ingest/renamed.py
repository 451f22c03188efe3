"""A visit whose id a settings change renamed stays that visit, not a cancellation and a new booking.

A connector's query, mapping or row settings can change the id a source row maps to: a series
row read as its sessions (``series:``, each ``ID/<original start>``), an id column fixed in the
mapping, a key built another way in the query. Read again after such a change (a correcting
read: sync/ingest/fingerprint.py ``read_epoch``), the stored visit would vanish under its old id
(a snapshot cancels it, the patient told "cancelled") while the same visit came in under its new
id (a confirmation). So, before a correcting read's batch is stored, each record whose id the
store does not hold is matched with the live stored visit of the same patient at the same
start that this read has not given under its old id: when exactly one stored visit and one
record share that pair, the stored visit takes the record's id (its history, answers and
reminders kept) and the batch then stores the record over it as the correction it is.
Evidence, not the id's spelling: any id scheme of any connector is matched the same way."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from clinicsync.sync.ingest.supersede import Within
from clinicsync.sync.store.bulk import select_in
from clinicsync.sync.store.records import Mapped
from clinicsync.sync.store.tables import APPOINTMENTS

_Key = tuple[datetime, str | None]  # a visit's start (UTC) and its patient's id
_CHUNK = 400  # starts a select names: within SQLite's oldest limit of 999 bound values


def renaming(connector: str, mapped: Sequence[Mapped], given: set[str], within: Within | None) -> Within:
    """``within`` (the batch's own, if any) after the renames of ``mapped``'s new ids, in the
    batch's transaction. ``given``: every id this read has given so far, this batch's included
    (a stored visit named by one is not renamed: the read still names it)."""

    def rename(connection: Connection) -> Collection[str] | None:
        renames(connection, connector, [m for m in mapped if not m.delete], given)
        return within(connection) if within is not None else None

    return rename


def renames(connection: Connection, connector: str, mapped: Sequence[Mapped], given: set[str]) -> dict[str, str]:
    """Re-key the stored visits that ``mapped``'s new records are (old id -> new id); returns them.
    Two selects a batch: its ids, then the live visits at the starts of those not stored."""
    ids = [m.appointment.external_id for m in mapped]
    stored = {row[0] for row in select_in(connection, APPOINTMENTS, ("external_id",), connector, ids)}
    fresh = [m for m in mapped if m.appointment.external_id not in stored]
    if not fresh:
        return {}
    new_by_key = _unique((_key(m.appointment.start, m), m.appointment.external_id) for m in fresh)
    starts = sorted({key[0] for key in new_by_key})
    a = APPOINTMENTS.c
    rows = [row for at in range(0, len(starts), _CHUNK) for row in connection.execute(
        select(a.start_utc, a.patient_ref, a.external_id).where(
            a.connector == connector, a.deleted_at.is_(None), a.start_utc.in_(starts[at:at + _CHUNK])))]
    old_by_key = _unique(((start, patient), external_id) for start, patient, external_id in rows
                         if external_id not in given)
    moved = {old_by_key[key]: new for key, new in new_by_key.items() if key in old_by_key}
    for old, new in moved.items():
        connection.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.connector == connector,
                                                      APPOINTMENTS.c.external_id == old).values(external_id=new))
    return moved


def stamped(mapped: Sequence[Mapped]) -> set[tuple[str | None, datetime]]:
    """The (patient id, change stamp) pairs of ``mapped``'s stamped records: a stored visit with
    one of them that the read names by no id is the same source row under another id (one the
    new ids give no session at its start): its end is a correction (records.py ``SnapshotEnd``)."""
    return {(_key(m.appointment.start, m)[1], m.appointment.source_updated_at) for m in mapped
            if not m.delete and m.appointment.source_updated_at is not None}


def _key(start: datetime, record: Mapped) -> _Key:
    patient = record.appointment.patient
    return start, patient.external_id if patient is not None else None


def _unique(pairs: Iterable[tuple[_Key, str]]) -> dict[_Key, str]:
    """The keys held by exactly one id: two visits of one patient at one start cannot be told apart."""
    found: defaultdict[_Key, list[str]] = defaultdict(list)
    for key, external_id in pairs:
        found[key].append(external_id)
    return {key: ids[0] for key, ids in found.items() if len(ids) == 1}
