"""What planning reads and writes in bulk, a column at a time.

Why: a first import plans three or four rows for each of 100,000 appointments. Through
SQLAlchemy's result rows every date-time went through the column type's processors one value
at a time (three per appointment read, four per reminder written), although a read's values
repeat: appointments share their slots, the rows of one appointment its start, and every row
of a read the same ``now``. Here each column's distinct values are converted once, by the
column type's own processors (so what is read and stored is exactly what SQLAlchemy reads
and stores), and a read's events carry only what planning looks at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, select

from clinicsync.sync.bulk import select_where_in
from clinicsync.sync.model import Appointment
from clinicsync.sync.outbox import EVENTS

APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]


class PlannedFrom(NamedTuple):
    """What planning reads of an appointment (not the whole row: fewer values to convert)."""

    id: int
    connector: str
    status: str
    start_utc: Any  # aware UTC
    end_utc: Any
    timezone: str
    type: str | None
    patient_ref: str | None
    practitioner_ref: str | None
    version: int
    deleted_at: Any


class PlanEvent(NamedTuple):
    """An outbox event as planning reads it: not its version or time (sync.outbox.OutboxEvent has them)."""

    id: int
    appointment_id: int
    kind: str
    payload: dict[str, Any]


PLANNED_FROM = [APPOINTMENTS.c[name] for name in PlannedFrom._fields]


def read_events(connection: Connection, after: int, limit: int) -> list[PlanEvent]:
    """The outbox's events after ``after``, oldest first (what sync.outbox.read_events reads)."""
    c = EVENTS.c
    query = select(c.id, c.appointment_id, c.kind, c.payload).where(c.id > after).order_by(c.id).limit(limit)
    return [PlanEvent(id_, appointment_id, kind, orjson.loads(payload))
            for id_, appointment_id, kind, payload in connection.execute(query)]


def read_appointments(connection: Connection, ids: Sequence[int], chunk: int = 500) -> dict[int, PlannedFrom]:
    """The appointments of ``ids`` (those that exist), by id, each column's distinct values
    converted once (bulk.select_where_in)."""
    return {row[0]: PlannedFrom._make(row)
            for row in select_where_in(connection, APPOINTMENTS, PlannedFrom._fields, "id", ids, chunk=chunk)}
