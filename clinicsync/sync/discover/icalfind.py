"""Visits kept as iCalendar text: the table whose text or blob column holds, row by row, a whole
calendar object (``BEGIN:VCALENDAR … BEGIN:VEVENT …``), as a CalDAV server keeps its events.

Found by the values, never by the column's name: a column is taken when at least ``SHARE`` of its
sampled non-empty values begin with ``BEGIN:VCALENDAR`` (at least ``MIN_OBJECTS`` of them). A
value carrying a METHOD property is a scheduling message (iTIP: an invitation in a CalDAV inbox),
not a stored event: RFC 4791 forbids METHOD in a calendar object resource, so a column whose
objects mostly carry one (an inbox's own table) is passed over. A server may keep its inboxes'
messages in the same column as the calendars (DAViCal writes an invitation to a colleague's
``.in`` collection as a ``caldav_data`` row): those rows are left out, of the sample and of the
connector's read (``SCHEDULING``: a line that opens with ``METHOD:``, a real line break before
it, which no folded or escaped text has). Rejected: passing over the whole column for one such
row (the diary was then not found at all). Among several, the table with the most rows holding
events wins. The probe reads the first characters of each roomy text or blob column (never a
whole file of a documents table) and reads a table's rows whole only when a column opens as a
calendar.

A server that is also an address book (CalDAV beside CardDAV, RFC 6352) may keep both kinds of
object in the one column, a vCard a row beside the calendars (DAViCal's ``caldav_data``): its
first rows can be all vCards. A column whose sampled values are mostly text directory objects
(``BEGIN:VCALENDAR`` or ``BEGIN:VCARD``, RFC 6350 shares the form) is therefore read again on its
calendar rows only (the value's first characters compared in SQL), and the connector then reads
those rows only where no component column says which they are (``mixed``). Rejected: reading more
first rows (an address book can be thousands of cards before the first event).

The plain columns beside it are told by their values too, compared with the sampled events
(each parsed by the connector's own reader, connectors/ical_text.py): a whole-number column equal
to the events' starts in Unix seconds is the first occurrence, one equal to their ends the last
(the window reads on them, the database's index with it); a whole-number column of Unix seconds
named for a change (modified, updated) is the change stamp; a short text column whose values are
all component names (VEVENT, VTODO) is the component's kind, read as VEVENT only (a TEXT column
too: PostgreSQL servers keep short words in TEXT; the values decide). Rejected:
reading the window from the text (no database compares inside it), and taking a column named
``calendardata`` (another server names it otherwise; the values say what it holds)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from clinicsync.common.timeutil import TimeError, parse_datetime
from clinicsync.connectors import ical_text
from clinicsync.connectors.sql_guard import check_select, sqlglot_dialect
from clinicsync.connectors.sql_limit import first_rows
from clinicsync.sync.discover.graph import Schema, Table

Rows = Callable[[str], list[tuple[Any, ...]]]  # a guarded read of raw values (blobs as bytes)
SHARE = 0.8
MIN_OBJECTS = 3
PROBE_ROWS = 30
ROOM = 1000  # characters a string type must hold to be looked at: a calendar object is longer than 255
HEAD = 24  # characters of each value the first probe reads
_HOLDS_TEXT = re.compile(r"char|text|clob|blob|bytea|binary|string", re.I)
_WHOLE = re.compile(r"int|number|numeric|decimal", re.I)
_CHANGE = re.compile(r"modif|updat|chang|mtime|edited", re.I)
_METHOD = re.compile(r"(^|\n)METHOD[:;]", re.I)
SCHEDULING = "%\nMETHOD:%"  # LIKE pattern of a scheduling message's text (RFC 5546)
_DIRECTORY = re.compile(r"^BEGIN:V(CALENDAR|CARD)\b", re.I)  # the two text directory objects a DAV server keeps
OPENING = "BEGIN:VCALENDAR"
_COMPONENTS = {"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY"}
_EPOCH = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01


@dataclass
class IcalTable:
    """The events' table and what its columns were found to be."""

    table: Table
    column: str  # the iCalendar text
    objects: int  # sampled values that are calendar objects
    sampled: int  # sampled non-empty values
    events: list[dict[str, Any]] = field(default_factory=list)  # the sampled events, read
    first: str | None = None  # Unix seconds of each event's start
    last: str | None = None  # Unix seconds of each event's end
    changed: str | None = None  # Unix seconds of the row's last change
    kind: str | None = None  # the component's name (VEVENT)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the sampled rows' plain columns
    mixed: bool = False  # other directory objects (vCards) share the column: read its calendars only


def raw_reader(connection: Connection) -> Rows:
    """A guarded read (the connector's SELECT guard first) of raw values: a blob stays bytes (the
    reads of discover elsewhere make it hex), each in a savepoint, a refused read giving no row
    (PostgreSQL's transaction stays usable)."""
    dialect = sqlglot_dialect(connection.dialect.name)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        check_select(sql, frozenset(), dialect)
        try:
            with connection.begin_nested():
                return [tuple(row) for row in connection.execute(text(sql))]
        except SQLAlchemyError:
            return []
    return rows


def find(schema: Schema, rows: Rows, quote: Callable[[str], str], wanted: str | None,
         dialect: str) -> IcalTable | None:
    """The table holding events as iCalendar text (see the module docstring), or None."""
    found: list[tuple[int, IcalTable]] = []
    for table in schema.tables.values():
        if wanted is not None and table.name.lower() != wanted.lower():
            continue
        columns = [c for c, t in table.columns.items() if _roomy(t)]
        if not columns:
            continue
        heads = ", ".join(_head(quote(c), dialect) for c in columns)
        opened = rows(first_rows(f"SELECT {heads} FROM {quote(table.name)}", PROBE_ROWS, dialect))
        columns = [c for at, c in enumerate(columns) if _mostly_objects([r[at] for r in opened], _directory)]
        if not columns:  # no column opens as a calendar: the table's rows are not read whole
            continue
        listed = list(table.columns)
        head = ", ".join(quote(c) for c in listed)
        sampled = rows(first_rows(f"SELECT {head} FROM {quote(table.name)}", PROBE_ROWS, dialect))
        for column in columns:
            at = listed.index(column)
            present = [r[at] for r in sampled if r[at] is not None and ical_text.as_text(r[at])]
            mixed = any(not ical_text.looks_like(v) and _directory(v) for v in present)
            if mixed:  # vCards beside the calendars: the calendar rows sampled on their own
                sampled = rows(first_rows(f"SELECT {head} FROM {quote(table.name)} WHERE "
                                          f"{calendar_rows(quote(column), dialect)}", PROBE_ROWS, dialect))
                present = [r[at] for r in sampled if r[at] is not None and ical_text.as_text(r[at])]
            objects = [v for v in present if ical_text.looks_like(v)]
            if len(objects) < MIN_OBJECTS or len(objects) < SHARE * len(present):
                continue
            stored = [v for v in objects if not _message(v)]
            if len(stored) < MIN_OBJECTS or len(objects) - len(stored) >= SHARE * len(objects):
                continue  # scheduling messages (an inbox), not stored events
            objects = stored
            plain = [{c: r[i] for i, c in enumerate(listed) if c != column} for r in sampled
                     if r[at] is not None and ical_text.looks_like(r[at]) and not _message(r[at])]
            events = [e if isinstance(e, dict) else {} for e in (ical_text.read(column, v) for v in objects)]
            found.append((len(objects), _told(IcalTable(table, column, len(objects), len(present), events,
                                                         rows=plain, mixed=mixed))))
    if not found:
        return None
    return max(found, key=lambda pair: pair[0])[1]


def _roomy(kind: str | None) -> bool:
    """A type that holds a calendar object (hundreds of characters): text, a blob, or a string
    of at least ``ROOM`` characters (a VARCHAR(255) never holds one)."""
    if not kind or not _HOLDS_TEXT.search(kind):
        return False
    size = re.search(r"\((\d+)\)", kind)
    return size is None or int(size.group(1)) >= ROOM


def _head(column: str, dialect: str, length: int = HEAD) -> str:
    """The first ``length`` characters (bytes of a blob) of a column: the probe reads no whole
    document of a table of files."""
    if dialect in ("mysql", "mariadb", "mssql"):
        return f"SUBSTRING({column}, 1, {length})"
    return f"substr({column}, 1, {length})"


def _mostly_objects(values: Sequence[Any], kind: Callable[[Any], bool] = ical_text.looks_like) -> bool:
    present = [v for v in values if v is not None and (ical_text.as_text(v) or "").strip()]
    objects = sum(kind(v) for v in present)
    return objects >= MIN_OBJECTS and objects >= SHARE * len(present)


def _message(value: Any) -> bool:
    """The calendar object is a scheduling message (it carries METHOD), not a stored event."""
    return bool(_METHOD.search(ical_text.as_text(value) or ""))


def _directory(value: Any) -> bool:
    """The value is a text directory object a DAV server keeps: a calendar or a vCard."""
    text = ical_text.as_text(value)
    return text is not None and bool(_DIRECTORY.match(text.lstrip("\ufeff \r\n\t")))


def calendar_rows(column: str, dialect: str) -> str:
    """The condition that keeps the rows whose ``column`` (quoted) opens as a calendar object:
    its first characters, compared in the database's own SQL (a blob's bytes too)."""
    return f"{_head(column, dialect, len(OPENING))} = '{OPENING}'"


def _told(found: IcalTable) -> IcalTable:
    """The plain columns told by their values against the sampled events."""
    starts = [_seconds(e.get("dtstart")) for e in found.events]
    ends = [_seconds(e.get("dtend")) for e in found.events]
    for column, kind in found.table.columns.items():
        values = [r.get(column) for r in found.rows]
        if _WHOLE.search(kind or "") and column not in found.table.primary_key:
            numbers = [whole(v) for v in values]
            if found.first is None and _matches(numbers, starts):
                found.first = column
            elif found.last is None and _matches(numbers, ends):
                found.last = column
            elif found.changed is None and _CHANGE.search(column) and numbers and \
                    all(n is not None and _EPOCH[0] <= n < _EPOCH[1] for n in numbers):
                found.changed = column
        elif _HOLDS_TEXT.search(kind or "") and column != found.column and found.kind is None:
            words = {ical_text.as_text(v) for v in values if v is not None}
            if words and words <= _COMPONENTS and "VEVENT" in words:
                found.kind = column
    return found


def _matches(numbers: Sequence[int | None], instants: Sequence[int | None]) -> bool:
    """The column holds the events' instants on at least ``SHARE`` of the rows that have one."""
    pairs = [(n, i) for n, i in zip(numbers, instants, strict=False) if i is not None]
    return len(pairs) >= MIN_OBJECTS and sum(n == i for n, i in pairs) >= SHARE * len(pairs)


def whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = ical_text.as_text(value)
    return int(text) if text is not None and text.strip().isdigit() else None


def _seconds(value: Any) -> int | None:
    """An event's exact time (with an offset) as Unix seconds; None for a floating time."""
    if not isinstance(value, str):
        return None
    try:
        moment: datetime = parse_datetime(value, ())
    except TimeError:
        return None
    return int(moment.timestamp()) if moment.tzinfo is not None else None
