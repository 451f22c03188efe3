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
from sqlalchemy import Connection

from clinicsync.sync.bulk import placeholder, quoted, select_where_in
from clinicsync.sync.model import Appointment
from clinicsync.sync.model.reminders import REMINDERS
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


class Planned(NamedTuple):
    """A reminder row already stored for an appointment being planned: what planning compares."""

    id: int
    key: str
    appointment_id: int
    recipient: str
    kind: str
    offset: str | None
    status: str
    starts_at: Any  # aware UTC


PLANNED_FROM = [APPOINTMENTS.c[name] for name in PlannedFrom._fields]


def read_events(connection: Connection, after: int, limit: int) -> list[PlanEvent]:
    """The outbox's events after ``after``, oldest first (what sync.outbox.read_events reads),
    as the driver's tuples: no column here has a result processor (the payload is text)."""
    c = EVENTS.c
    sql = (f"SELECT {', '.join(quoted(connection, col.name) for col in (c.id, c.appointment_id, c.kind, c.payload))} "
           f"FROM {quoted(connection, EVENTS.name)} WHERE {quoted(connection, c.id.name)} > {placeholder(connection)} "
           f"ORDER BY {quoted(connection, c.id.name)} LIMIT {int(limit)}")
    result = connection.exec_driver_sql(sql, (after,))
    try:
        found = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    return [PlanEvent(id_, appointment_id, kind, orjson.loads(payload)) for id_, appointment_id, kind, payload in found]


def read_planned(connection: Connection, ids: Sequence[int], chunk: int = 500) -> list[Planned]:
    """The reminder rows stored for the appointments of ``ids`` (bulk.select_where_in: the
    driver's tuples, the start converted once per distinct value)."""
    return [Planned._make(row) for row in select_where_in(connection, REMINDERS, Planned._fields, "appointment_id",
                                                          ids, chunk=chunk)]


def read_appointments(connection: Connection, ids: Sequence[int], chunk: int = 500) -> dict[int, PlannedFrom]:
    """The appointments of ``ids`` (those that exist), by id, each column's distinct values
    converted once (bulk.select_where_in)."""
    return {row[0]: PlannedFrom._make(row)
            for row in select_where_in(connection, APPOINTMENTS, PlannedFrom._fields, "id", ids, chunk=chunk)}
