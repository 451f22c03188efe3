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

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import Column, Connection, MetaData, Table, Text

from clinicsync.common.types import UtcDateTime
from clinicsync.sync.store.bulk import placeholder, processed_rows, quoted, result_processors, select_where_in
from clinicsync.sync.store.outbox import EVENTS
from clinicsync.sync.store.tables import APPOINTMENTS, REMINDERS

T = TypeVar("T", bound=tuple[Any, ...])


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
    """An outbox event as planning reads it: not its version (sync.outbox.OutboxEvent has it)."""

    id: int
    appointment_id: int
    kind: str
    payload: dict[str, Any]
    stored_at: Any = None  # when the change was stored, as the driver gives it (see event_time)


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
    recipient_ref: str | None  # whom it goes to: a visit given to another patient leaves rows of the first
    version: int  # the appointment's version it was planned for


PLANNED_FROM = [APPOINTMENTS.c[name] for name in PlannedFrom._fields]
# Where PlannedFrom holds a date-time, and the appointment table as SQLite's rows are read for
# it: those columns as the stored text (read_appointments converts them, see _utc_from_text).
_TIMES = tuple(at for at, column in enumerate(PLANNED_FROM) if isinstance(column.type, UtcDateTime))
_START = PlannedFrom._fields.index("start_utc")
# SQLAlchemy's SQLite DATETIME text ("%04d-%02d-%02d %02d:%02d:%02d.%06d", bulk.SQLITE_TIME):
# parsed by fromisoformat and written again, such a text comes back as it was.
CANONICAL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", re.ASCII)
_AS_TEXT = Table(APPOINTMENTS.name, MetaData(), *(
    Column(column.name, Text() if at in _TIMES else column.type) for at, column in enumerate(PLANNED_FROM)))


def read_events(connection: Connection, after: int, limit: int, upto: int | None = None) -> list[PlanEvent]:
    """The outbox's events after ``after``, oldest first, up to ``upto`` when given (what
    sync.outbox.read_events reads), as the driver's tuples: no column here has a result
    processor (the payload is text)."""
    c = EVENTS.c
    columns = (c.id, c.appointment_id, c.kind, c.payload, c.created_at)
    at, mark = quoted(connection, c.id.name), placeholder(connection)
    until = f" AND {at} <= {mark}" if upto is not None else ""
    sql = (f"SELECT {', '.join(quoted(connection, col.name) for col in columns)} "
           f"FROM {quoted(connection, EVENTS.name)} WHERE {at} > {mark}{until} ORDER BY {at} LIMIT {int(limit)}")
    result = connection.exec_driver_sql(sql, (after,) if upto is None else (after, upto))
    try:
        found = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    payloads = map(orjson.loads, map(itemgetter(3), found))
    return list(map(_tupled(PlanEvent), zip(map(itemgetter(0), found), map(itemgetter(1), found),
                                            map(itemgetter(2), found), payloads, map(itemgetter(4), found),
                                            strict=True)))


def event_time(connection: Connection, stored_at: Any) -> datetime | None:
    """A PlanEvent's ``stored_at`` as aware UTC: the driver's value (SQLite's text) through the
    column type's own processor. Converted only where planning asks (a change told to
    patients), not for each event of a first import."""
    if stored_at is None or isinstance(stored_at, datetime):
        return stored_at.replace(tzinfo=UTC) if stored_at is not None and stored_at.tzinfo is None else stored_at
    try:  # SQLite's naive UTC text, as _utc_from_text reads it: one C call, no processor built
        value = datetime.fromisoformat(stored_at + "+00:00")
    except ValueError:
        [process] = result_processors(connection, [EVENTS.c.created_at])
        value = process(stored_at) if process is not None else datetime.fromisoformat(stored_at)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def read_planned(connection: Connection, ids: Sequence[int], chunk: int = 500) -> list[Planned]:
    """The reminder rows stored for the appointments of ``ids`` (bulk.select_where_in: the
    driver's tuples, the start converted once per distinct value)."""
    found = select_where_in(connection, REMINDERS, Planned._fields, "appointment_id", ids, chunk=chunk)
    return list(map(_tupled(Planned), found))


def read_appointments(connection: Connection, ids: Sequence[int], chunk: int = 500,
                      texts: dict[datetime, str] | None = None) -> dict[int, PlannedFrom]:
    """The appointments of ``ids`` (those that exist), by id, each column's distinct values
    converted once (bulk.select_where_in; on SQLite the date-times by :func:`_utc_from_text`,
    which adds the starts' texts to ``texts``)."""
    if connection.dialect.name != "sqlite":
        found = select_where_in(connection, APPOINTMENTS, PlannedFrom._fields, "id", ids, chunk=chunk)
    else:
        found = select_where_in(connection, _AS_TEXT, PlannedFrom._fields, "id", ids, chunk=chunk)
        if found:
            found = processed_rows(found, [_utc_from_text(connection, at, found, texts if at == _START else None)
                                           if at in _TIMES else None for at in range(len(PLANNED_FROM))])
    return dict(zip(map(itemgetter(0), found), map(_tupled(PlannedFrom), found), strict=True))


def _tupled(kind: type[T]) -> Callable[[Sequence[Any]], T]:
    """``kind._make`` without its Python frame: a named tuple built by ``tuple.__new__`` in a
    C-level ``map`` (what ``_make`` does, less its length check: the rows here come from a
    select of exactly ``kind._fields``, or are built with as many). ~1 µs less per row: a
    first import reads one appointment and one event per row of the export."""
    return partial(tuple.__new__, kind)


def _utc_from_text(connection: Connection, at: int, rows: Sequence[Sequence[Any]],
                   texts: dict[datetime, str] | None = None) -> Callable[[Any], Any]:
    """Column ``at`` of ``rows`` (SQLite's stored text of a UTC date-time) as the column's
    result processor gives it (aware UTC), each distinct text converted once. Why: the
    processor parses the text, then ``replace(tzinfo=UTC)`` costs ~9,000 instructions (its
    keywords parsed), ~4 % of a first planning; ``fromisoformat`` of the text with "+00:00"
    appended makes the same date-time (naive text, UTC attached) in one C call. A text that
    does not come out aware UTC so (one with an offset of its own, a date alone) goes through
    the processor, and so does every text if the one compared with the processor differs.
    ``texts`` (planner.Rules.texts) gets each date-time whose text is in SQLAlchemy's own
    format (:data:`CANONICAL`): the text it is bound as when a reminder is written, known
    without formatting it again (~13,000 instructions each)."""
    [process] = result_processors(connection, [PLANNED_FROM[at]])
    assert process is not None  # a UtcDateTime column always has one
    table: dict[Any, Any] = {}
    probe = None
    for text in set(map(itemgetter(at), rows)):
        if text is None:
            table[text] = None
            continue
        try:
            value = datetime.fromisoformat(text + "+00:00")
        except (TypeError, ValueError):
            value = None
        if value is None or value.tzinfo is not UTC:  # not a naive text ("2027-01-04+00:00" is naive)
            value = process(text)
        else:
            probe = text
        table[text] = value
    if probe is not None:
        slow = process(probe)
        if table[probe] != slow or slow.tzinfo is not UTC:
            return {text: process(text) for text in table}.__getitem__
    if texts is not None:
        match = CANONICAL.fullmatch
        texts.update((value, text) for text, value in table.items() if value is not None and match(text))
    return table.__getitem__
